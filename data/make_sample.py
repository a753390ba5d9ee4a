"""Generate the bundled bilingual sample corpus in ``data/sample/``.

    python data/make_sample.py            # rewrite data/sample/ and data/sample_labels.json

Everything is composed from the hand-written building blocks in ``sample_vocab.py``
with one ``random.Random(SEED)``, so the same seed gives byte-identical files (gzip
headers carry no time or name; Parquet is byte-identical for a given pyarrow version).

Outputs (see the generated ``data/sample/README.md`` for measured counts and sizes):

- ``en.jsonl.gz`` / ``zh.jsonl.gz``: ``{"id", "text"}`` lines, normal documents mixed
  with injected ones whose id ends in ``-<kind>`` (``en-0042-dup``), see INJECTED_KINDS;
- ``notes.txt``: blank-line-separated paragraphs, English and Chinese, all normal;
- ``extra.parquet``: ``id``/``text`` rows, two of them copies of JSON Lines documents;
- ``data/sample_labels.json``: every non-normal id with its kind, the id it was copied
  from and, for near-duplicates, the 5-word-shingle Jaccard similarity to its source.

Only the standard library and pyarrow (for the Parquet file) are needed.
"""
from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Set

# The word lists sit next to this script; make them importable however it is loaded
# (``python data/make_sample.py``, or by path from a test).
sys.path.insert(0, str(Path(__file__).resolve().parent))
import sample_vocab as vocab  # noqa: E402
from sample_vocab import Topic  # noqa: E402

SEED = 5120
HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "sample"
DEFAULT_LABELS = HERE / "sample_labels.json"

# Per language. Normal documents include LONG_DOCS long ones (id suffix "-long").
NORMAL_DOCS = 270
LONG_DOCS = 4
LONG_DOC_BYTES = (6000, 9000)  # long enough that seq_len 512 must split them
EXACT_DUPLICATES = 18          # about 5% of the documents of a language
NEAR_DUPLICATES = 18
JUNK_PER_KIND = 2              # for each kind in JUNK_KINDS
NOTES_PARAGRAPHS = 60
PARQUET_ROWS = 40              # two of them are cross-file exact duplicates

# Byte-length targets of normal documents: (share, low, high); 0 means one sentence.
LENGTH_BUCKETS = ((0.2, 0, 0), (0.45, 80, 250), (0.25, 250, 700), (0.1, 800, 2400))

# Near-duplicates are made from documents of at least this many shingle words, with
# this many word edits, and kept only when their Jaccard similarity stays above the
# floor, so that a 0.8-threshold MinHash finds them reliably.
NEAR_SOURCE_MIN_WORDS = 150
NEAR_EDITS = (2, 3)
NEAR_MIN_JACCARD = 0.85
SHINGLE_WORDS = 5

JUNK_KINDS = ("short", "symbols", "bullets", "repeat", "ellipsis", "digits")
MESSY_KINDS = ("ansi", "ctrl", "crlf", "tokens")
INJECTED_KINDS = ("dup", "near") + JUNK_KINDS + MESSY_KINDS
# Control characters planted by the "ctrl" documents, one per document.
STRAY_CONTROLS = ("\x07", "\x0e")
ANSI_COLOURS = ("\x1b[31m", "\x1b[1;32m")
ANSI_RESET = "\x1b[0m"


@dataclass(eq=False)  # identity, not text, tells two documents apart
class Entry:
    """One document before it gets its id: ``kind`` is "" for a normal document."""

    text: str
    kind: str = ""
    source: Optional["Entry"] = None
    extra: Dict[str, object] = field(default_factory=dict)
    id: str = ""


# ---------------------------------------------------------------------------
# Prose writers
# ---------------------------------------------------------------------------

def capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


class Picker:
    """Random choices that deal from shuffled decks: an item of a word list comes back
    only after the rest of that list has been used. Templated prose repeats a phrase
    quickly otherwise, and a document saying "kneads the dough" three times in five
    sentences is what the n-gram repetition filter rightly rejects. Use one per document.
    """

    def __init__(self, rng: random.Random):
        self.rng = rng
        self._items_to_deck: Dict[tuple, list] = {}

    def choice(self, items: tuple):
        deck = self._items_to_deck.get(items)
        if not deck:
            deck = list(items)
            self.rng.shuffle(deck)
            self._items_to_deck[items] = deck
        return deck.pop()

    def distinct(self, items: tuple, k: int) -> list:
        chosen: list = []
        while len(chosen) < k:
            item = self.choice(items)
            if item not in chosen:
                chosen.append(item)
        return chosen


class ProseWriter:
    """Sentences, paragraphs and documents in one language, from that language's topics."""

    lang = ""
    topics: Sequence[Topic] = ()
    sentence_joiner = ""

    def sentence(self, pick: Picker, topic: Topic) -> str:
        raise NotImplementedError

    def list_paragraph(self, pick: Picker, topic: Topic) -> str:
        raise NotImplementedError

    def paragraph(self, pick: Picker, topic: Topic, sentences: int) -> str:
        return self.sentence_joiner.join(self.sentence(pick, topic) for _ in range(sentences))

    def document(self, pick: Picker, target_bytes: int,
                 topics: Optional[Sequence[Topic]] = None) -> str:
        """Sentences until the UTF-8 size reaches ``target_bytes`` (0: one sentence), in
        paragraphs of two to five sentences, with an occasional title or list.

        ``topics`` (default: one random topic) are cycled paragraph by paragraph.
        """
        rng = pick.rng
        topics = topics or [rng.choice(self.topics)]
        paragraphs: List[str] = []
        if target_bytes > 400 and rng.random() < 0.3:
            paragraphs.append(pick.choice(topics[0].titles))
        size = 0
        previous_is_prose = False
        while True:
            topic = topics[len(paragraphs) % len(topics)]
            if previous_is_prose and rng.random() < 0.12:
                paragraph = self.list_paragraph(pick, topic)
                size += len(paragraph.encode("utf-8")) + 2
                previous_is_prose = False
            else:
                sentences: List[str] = []
                for _ in range(rng.randint(2, 5)):
                    sentences.append(self.sentence(pick, topic))
                    size += len(sentences[-1].encode("utf-8")) + 1
                    if size >= target_bytes:
                        break
                paragraph = self.sentence_joiner.join(sentences)
                previous_is_prose = True
            paragraphs.append(paragraph)
            if size >= target_bytes:
                return "\n\n".join(paragraphs)


def fill_fact(pick: Picker, topic: Topic) -> str:
    template, low, high = pick.choice(topic.facts)
    return template.format(n=pick.rng.randint(low, high))


def pick_tip_count(rng: random.Random) -> int:
    """How many tips a "things to remember" sentence lists: mostly three."""
    return 3 if rng.random() < 0.8 else rng.choice((2, 4))


class EnglishWriter(ProseWriter):
    lang = "en"
    topics = vocab.EN_TOPICS
    sentence_joiner = " "
    # Written lower-case first; the sentence is capitalised after an optional connector.
    templates = (
        "{subject} {pres} {time}.",
        "{time}, {subject} {past} {place}.",
        "{subject} {pres} {place} because {reason}.",
        "have you noticed that {subject} {pres} {time}?",
        "the {thing} was {adj}; {subject} {past} anyway.",
        "{subject} {pres} {place}, and the {thing} looks {adj}.",
        "the {thing} was so {adj} today!",
        "if {reason}, {subject} {pres} {place}.",
        "there are {count} things to remember: {tips}.",
        "{fact}",
        "{question}",
        "nobody expected it, but {subject} {past} {time}!",
        "{subject} {past} {time}: the {thing} was {adj} again.",
        '{subject} always says: "{tip1_cap}, and {tip2}."',
    )

    def sentence(self, pick: Picker, topic: Topic) -> str:
        rng = pick.rng
        pres, past = pick.choice(topic.actions)
        tips = pick.distinct(topic.tips, pick_tip_count(rng))
        text = pick.choice(self.templates).format(
            subject=pick.choice(topic.subjects), pres=pres, past=past,
            time=pick.choice(vocab.EN_TIMES), place=pick.choice(topic.places),
            thing=pick.choice(topic.things), adj=pick.choice(topic.adjectives),
            reason=pick.choice(topic.reasons), count=vocab.EN_NUMBER_WORDS[len(tips)],
            tips=", ".join(tips[:-1]) + " and " + tips[-1], tip2=tips[1],
            tip1_cap=capitalise(tips[0]), fact=lower_first(fill_fact(pick, topic)),
            question=lower_first(pick.choice(topic.questions)))
        if text.endswith(".") and rng.random() < 0.2:
            text = f"{pick.choice(vocab.EN_CONNECTORS)}, {text}"
        return capitalise(text)

    def list_paragraph(self, pick: Picker, topic: Topic) -> str:
        tips = pick.distinct(topic.tips, pick.rng.randint(3, 5))
        if pick.rng.random() < 0.5:
            lines = [f"- {tip}" for tip in tips]
        else:
            lines = [f"{i}. {capitalise(tip)}." for i, tip in enumerate(tips, 1)]
        return "\n".join([pick.choice(vocab.EN_LIST_INTROS)] + lines)


class ChineseWriter(ProseWriter):
    lang = "zh"
    topics = vocab.ZH_TOPICS
    sentence_joiner = ""
    # The ellipsis sits inside a sentence, never at a line end: lines ending in an
    # ellipsis are what the quality filter treats as truncated teasers.
    templates = (
        "{time}，{subject}{place}{action}。",
        "{subject}{time}总是{action}。",
        "{subject}{place}{action}，因为{reason}。",
        "你有没有注意到，{subject}{time}会{action}？",
        "{thing}很{adj}，不过{subject}还是{action}了。",
        "{subject}{place}{action}，{thing}看起来很{adj}。",
        "今天的{thing}真{adj}！",
        "如果{reason}，{subject}就会{place}{action}。",
        "要记住{count}件事：{tips}。",
        "{fact}",
        "{question}",
        "谁也没想到，{subject}{time}{action}了！",
        "{time}，{subject}{action}了，可是……{thing}还是有点{adj}。",
        "{subject}说：“{reason}，我们得{action}。”",
    )

    def sentence(self, pick: Picker, topic: Topic) -> str:
        rng = pick.rng
        tips = pick.distinct(topic.tips, pick_tip_count(rng))
        text = pick.choice(self.templates).format(
            subject=pick.choice(topic.subjects), action=pick.choice(topic.actions),
            time=pick.choice(vocab.ZH_TIMES), place=pick.choice(topic.places),
            thing=pick.choice(topic.things), adj=pick.choice(topic.adjectives),
            reason=pick.choice(topic.reasons), count=vocab.ZH_NUMBER_WORDS[len(tips)],
            tips="；".join(tips), fact=fill_fact(pick, topic),
            question=pick.choice(topic.questions))
        if text.endswith("。") and rng.random() < 0.2:
            text = f"{pick.choice(vocab.ZH_CONNECTORS)}，{text}"
        return text

    def list_paragraph(self, pick: Picker, topic: Topic) -> str:
        tips = pick.distinct(topic.tips, pick.rng.randint(3, 5))
        if pick.rng.random() < 0.5:
            lines = [f"- {tip}" for tip in tips]
        else:
            lines = [f"{i}. {tip}。" for i, tip in enumerate(tips, 1)]
        return "\n".join([pick.choice(vocab.ZH_LIST_INTROS)] + lines)


WRITERS = (EnglishWriter(), ChineseWriter())


def unique_document(rng: random.Random, writer: ProseWriter, seen: Set[str],
                    target_bytes: int, topics: Optional[Sequence[Topic]] = None) -> str:
    """A document whose text is not yet in ``seen`` (and is then added to it)."""
    while True:
        text = writer.document(Picker(rng), target_bytes, topics)
        if text not in seen:
            seen.add(text)
            return text


def draw_target_bytes(rng: random.Random) -> int:
    roll = rng.random()
    for share, low, high in LENGTH_BUCKETS:
        if roll < share:
            return rng.randint(low, high)
        roll -= share
    return 0


# ---------------------------------------------------------------------------
# Near-duplicates
# ---------------------------------------------------------------------------

_CJK = "\u3000-\u303f\u4e00-\u9fff\uff00-\uffef"
_SHINGLE_WORD = re.compile(f"[{_CJK}]|[^\\s{_CJK}]+")


def shingle_words(text: str) -> List[str]:
    """Lower-cased words; every Chinese character or CJK punctuation mark is a word.

    >>> shingle_words("Rain, again. 下雨了。")
    ['rain,', 'again.', '下', '雨', '了', '。']
    """
    return _SHINGLE_WORD.findall(text.lower())


def jaccard(a: str, b: str, n: int = SHINGLE_WORDS) -> float:
    """Jaccard similarity of the sets of n-word shingles of two texts."""
    def shingle_set(text: str) -> Set[tuple]:
        words = shingle_words(text)
        return {tuple(words[i:i + n]) for i in range(max(1, len(words) - n + 1))}
    sa, sb = shingle_set(a), shingle_set(b)
    return len(sa & sb) / len(sa | sb)


EN_INSERTS = ("really", "also", "still", "quite", "often")
EN_SUBSTITUTES = ("little", "big", "new", "old", "same", "other")
ZH_INSERTS = ("也", "还", "真", "都")
ZH_SUBSTITUTES = ("很", "又", "再", "就")


def edit_words(rng: random.Random, text: str, edits: int, lang: str) -> str:
    """``edits`` random insertions, deletions or substitutions of single words
    (English) or characters (Chinese), never touching line breaks or the first word."""
    if lang == "en":
        tokens: List[str] = text.split(" ")
        editable = lambda tok: tok.isalpha()
        inserts, substitutes = EN_INSERTS, EN_SUBSTITUTES
    else:
        tokens = list(text)
        editable = lambda tok: "\u4e00" <= tok <= "\u9fff"
        inserts, substitutes = ZH_INSERTS, ZH_SUBSTITUTES
    for _ in range(edits):
        position = rng.choice([i for i, tok in enumerate(tokens) if i > 0 and editable(tok)])
        operation = rng.choice(("insert", "delete", "substitute"))
        if operation == "insert":
            tokens.insert(position, rng.choice(inserts))
        elif operation == "delete":
            del tokens[position]
        else:
            tokens[position] = rng.choice([s for s in substitutes if s != tokens[position]])
    return (" " if lang == "en" else "").join(tokens)


def make_near_duplicate(rng: random.Random, source: str, lang: str, seen: Set[str]) -> Entry:
    while True:
        text = edit_words(rng, source, rng.randint(*NEAR_EDITS), lang)
        similarity = jaccard(source, text)
        if text not in seen and similarity >= NEAR_MIN_JACCARD:
            seen.add(text)
            return Entry(text, "near", extra={"jaccard_5gram": round(similarity, 3)})


# ---------------------------------------------------------------------------
# Low-quality documents (JUNK_KINDS): each should be rejected by a quality filter.
# The ratio rules only judge texts of 50 words or more, so all but "short" are longer.
# ---------------------------------------------------------------------------

def junk_short(rng: random.Random, writer: ProseWriter, index: int) -> str:
    return (vocab.EN_SHORT if writer.lang == "en" else vocab.ZH_SHORT)[index]


def junk_symbols(rng: random.Random, writer: ProseWriter, index: int) -> str:
    """Index 0: runs of symbols ("#### $$$ @@@"); index 1: hashtag spam on real words."""
    if index == 0:
        lines = [" ".join(rng.choice(vocab.SYMBOL_RUNS) for _ in range(10)) for _ in range(7)]
        return "\n".join(lines)
    topic = rng.choice(writer.topics)
    if writer.lang == "en":
        words = [word for thing in topic.things for word in thing.split()] + list(topic.adjectives)
    else:
        words = list(topic.things) + list(topic.adjectives)
    lead = writer.sentence(Picker(rng), topic)
    tags = [f"#{rng.choice(words)}" for _ in range(60)]
    return lead + "\n" + " ".join(tags)


def junk_bullets(rng: random.Random, writer: ProseWriter, index: int) -> str:
    bullet = ("•", "-")[index]
    topic = rng.choice(writer.topics)
    if writer.lang == "en":
        items = [f"{rng.choice(vocab.EN_BULLET_WORDS)}: {tip}" for tip in topic.tips]
    else:
        items = [f"{rng.choice(vocab.ZH_BULLET_WORDS)}：{tip}" for tip in topic.tips]
    items = items + items[::-1] + [capitalise(tip) for tip in rng.sample(topic.tips, 4)]
    return "\n".join(f"{bullet} {item}" for item in items)


def junk_repeat(rng: random.Random, writer: ProseWriter, index: int) -> str:
    line = (vocab.EN_BOILERPLATE if writer.lang == "en" else vocab.ZH_BOILERPLATE)[index]
    return "\n".join([line] * rng.randint(20, 30))


def junk_ellipsis(rng: random.Random, writer: ProseWriter, index: int) -> str:
    """Lines of teasers: a sentence, then the next one cut off with "...". Each line is
    long enough that the ellipses alone stay under one per ten words."""
    topic = rng.choice(writer.topics)
    pick = Picker(rng)
    lines = []
    while len(lines) < 9:
        lead, rest = writer.sentence(pick, topic), writer.sentence(pick, topic)
        if "…" in lead + rest:
            continue
        if writer.lang == "en":
            words = rest.split()
            cut = " ".join(words[:max(4, len(words) * 2 // 3)])
        else:
            cut = rest[:max(6, len(rest) * 2 // 3)]
        lines.append(lead + writer.sentence_joiner + cut.rstrip(" ,.;:!?，。；：！？“”\"") + "...")
    return "\n".join(lines)


def junk_digits(rng: random.Random, writer: ProseWriter, index: int) -> str:
    label = ("Order", "Ref")[index] if writer.lang == "en" else ("订单", "编号")[index]
    lines = []
    for _ in range(10):
        groups = " ".join(f"{rng.randint(0, 9999):04d}" for _ in range(6))
        lines.append(f"{label} {groups}")
    return "\n".join(lines)


JUNK_BUILDERS: Dict[str, Callable[[random.Random, ProseWriter, int], str]] = {
    "short": junk_short, "symbols": junk_symbols, "bullets": junk_bullets,
    "repeat": junk_repeat, "ellipsis": junk_ellipsis, "digits": junk_digits,
}


# ---------------------------------------------------------------------------
# Messy but good documents (MESSY_KINDS): normal prose that cleaning must repair or
# leave alone; a cleaned messy document should pass every filter.
# ---------------------------------------------------------------------------

def multi_paragraph_document(rng: random.Random, writer: ProseWriter, seen: Set[str]) -> str:
    while True:
        text = unique_document(rng, writer, seen, rng.randint(500, 1200))
        if "\n\n" in text:
            return text


def messy_entries(rng: random.Random, writer: ProseWriter, seen: Set[str]) -> List[Entry]:
    entries = []
    for colour in ANSI_COLOURS:
        paragraphs = multi_paragraph_document(rng, writer, seen).split("\n\n")
        i = rng.randrange(len(paragraphs))
        paragraphs[i] = f"{colour}{paragraphs[i]}{ANSI_RESET}"
        entries.append(Entry("\n\n".join(paragraphs), "ansi", extra={"escape": colour}))
    end = "." if writer.lang == "en" else "。"
    for control in STRAY_CONTROLS:
        text = multi_paragraph_document(rng, writer, seen)
        cut = text.index(end) + 1
        entries.append(Entry(text[:cut] + control + text[cut:], "ctrl",
                             extra={"control": f"U+{ord(control):04X}"}))
    for _ in range(2):
        text = multi_paragraph_document(rng, writer, seen)
        entries.append(Entry(text.replace("\n", "\r\n"), "crlf"))
    token_sentences = vocab.EN_TOKEN_SENTENCES if writer.lang == "en" else vocab.ZH_TOKEN_SENTENCES
    for sentence in token_sentences:
        text = multi_paragraph_document(rng, writer, seen)
        entries.append(Entry(f"{text}\n\n{sentence}", "tokens"))
    for entry in entries:
        seen.add(entry.text)
    return entries


# ---------------------------------------------------------------------------
# Assembling a language
# ---------------------------------------------------------------------------

def place_after_source(rng: random.Random, order: List[Entry], entry: Entry) -> None:
    """Insert ``entry`` at a random position, after its source if it has one, so that a
    first-seen-wins deduplicator keeps the original."""
    low = order.index(entry.source) + 1 if entry.source else 0
    order.insert(rng.randint(low, len(order)), entry)


def build_language(rng: random.Random, writer: ProseWriter, seen: Set[str]) -> List[Entry]:
    """All documents of one language, in file order, with ids assigned."""
    normal = [Entry(unique_document(rng, writer, seen, draw_target_bytes(rng)))
              for _ in range(NORMAL_DOCS - LONG_DOCS)]
    for _ in range(LONG_DOCS):
        topics = rng.sample(writer.topics, 3)
        normal.append(Entry(unique_document(rng, writer, seen, rng.randint(*LONG_DOC_BYTES), topics),
                            "long"))
    rng.shuffle(normal)

    candidates = [e for e in normal if e.kind == ""]
    near_sources = [e for e in candidates if len(shingle_words(e.text)) >= NEAR_SOURCE_MIN_WORDS]
    if len(near_sources) < NEAR_DUPLICATES:
        raise RuntimeError(f"{writer.lang}: only {len(near_sources)} documents are long enough "
                           f"to make {NEAR_DUPLICATES} near-duplicates; raise LENGTH_BUCKETS")
    near_sources = rng.sample(near_sources, NEAR_DUPLICATES)
    dup_sources = rng.sample([e for e in candidates if e not in near_sources], EXACT_DUPLICATES)

    derived = [Entry(src.text, "dup", source=src) for src in dup_sources]
    for src in near_sources:
        near = make_near_duplicate(rng, src.text, writer.lang, seen)
        near.source = src
        derived.append(near)
    for kind in JUNK_KINDS:
        derived += [Entry(JUNK_BUILDERS[kind](rng, writer, i), kind) for i in range(JUNK_PER_KIND)]
    derived += messy_entries(rng, writer, seen)

    order = list(normal)
    for entry in derived:
        place_after_source(rng, order, entry)
    for number, entry in enumerate(order, 1):
        entry.id = f"{writer.lang}-{number:04d}" + (f"-{entry.kind}" if entry.kind else "")
    return order


def build_notes(rng: random.Random, seen: Set[str]) -> List[str]:
    """Paragraphs alternating English and Chinese, each a few sentences on one topic."""
    paragraphs = []
    while len(paragraphs) < NOTES_PARAGRAPHS:
        writer = WRITERS[len(paragraphs) % 2]
        text = writer.paragraph(Picker(rng), rng.choice(writer.topics), rng.randint(3, 6))
        if text not in seen:
            seen.add(text)
            paragraphs.append(text)
    return paragraphs


def build_parquet_rows(rng: random.Random, seen: Set[str],
                       language_entries: Sequence[List[Entry]]) -> List[Entry]:
    """Fresh single-topic documents in both languages plus one exact copy of a normal
    document from each JSON Lines file (cross-file duplicates)."""
    rows = [Entry(unique_document(rng, WRITERS[i % 2], seen, rng.randint(150, 900)))
            for i in range(PARQUET_ROWS - len(language_entries))]
    for entries in language_entries:
        copied = [e.source for e in entries if e.source]  # Entry compares by identity
        source = rng.choice([e for e in entries if e.kind == "" and e not in copied])
        rows.insert(rng.randint(0, len(rows)), Entry(source.text, "dup", source=source))
    for number, row in enumerate(rows, 1):
        row.id = f"pq-{number:04d}" + (f"-{row.kind}" if row.kind else "")
    return rows


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------

def jsonl_bytes(entries: Sequence[Entry]) -> bytes:
    lines = (json.dumps({"id": e.id, "text": e.text}, ensure_ascii=False) + "\n" for e in entries)
    return "".join(lines).encode("utf-8")


def write_gzip(path: Path, data: bytes) -> None:
    """Gzip with no file name and mtime 0 in the header, so the bytes depend only on data."""
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw,
                                                 compresslevel=9, mtime=0) as gz:
        gz.write(data)


def write_parquet(path: Path, rows: Sequence[Entry]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"id": pa.array([r.id for r in rows], pa.string()),
                      "text": pa.array([r.text for r in rows], pa.string())})
    pq.write_table(table, path, compression="snappy")


def labels_for(entries: Sequence[Entry]) -> List[Dict[str, object]]:
    labels = []
    for e in entries:
        if e.kind:
            label: Dict[str, object] = {"id": e.id, "kind": e.kind}
            if e.source:
                label["source_id"] = e.source.id
            label.update(e.extra)
            labels.append(label)
    return labels


def generate(out: Path, labels_path: Path, seed: int = SEED) -> None:
    rng = random.Random(seed)
    seen: Set[str] = set()
    language_entries = [build_language(rng, writer, seen) for writer in WRITERS]
    notes = build_notes(rng, seen)
    rows = build_parquet_rows(rng, seen, language_entries)

    out.mkdir(parents=True, exist_ok=True)
    for writer, entries in zip(WRITERS, language_entries):
        write_gzip(out / f"{writer.lang}.jsonl.gz", jsonl_bytes(entries))
    (out / "notes.txt").write_bytes(("\n\n".join(notes) + "\n").encode("utf-8"))
    write_parquet(out / "extra.parquet", rows)

    labels = {f"{w.lang}.jsonl.gz": labels_for(e) for w, e in zip(WRITERS, language_entries)}
    labels["extra.parquet"] = labels_for(rows)
    labels_path.write_text(json.dumps({"seed": seed, "files": labels}, ensure_ascii=False, indent=1)
                           + "\n", encoding="utf-8")
    (out / "README.md").write_text(render_readme(out, labels, seed), encoding="utf-8")


# ---------------------------------------------------------------------------
# README, from the files as written
# ---------------------------------------------------------------------------

def read_jsonl_gz(path: Path) -> List[Dict[str, str]]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        return [json.loads(line) for line in f]


def render_readme(out: Path, labels: Dict[str, List[Dict[str, object]]], seed: int) -> str:
    import pyarrow.parquet as pq

    files = []  # (name, what, records, bytes on disk, UTF-8 bytes of text)
    for lang, what in (("en", "English documents"), ("zh", "Simplified Chinese documents")):
        docs = read_jsonl_gz(out / f"{lang}.jsonl.gz")
        files.append((f"{lang}.jsonl.gz", what, f"{len(docs)} documents",
                      (out / f"{lang}.jsonl.gz").stat().st_size,
                      sum(len(d["text"].encode("utf-8")) for d in docs)))
    notes = (out / "notes.txt").read_text(encoding="utf-8")
    files.append(("notes.txt", "plain-text paragraphs, English and Chinese alternating",
                  f"{len(notes.strip().split(chr(10) * 2))} paragraphs",
                  (out / "notes.txt").stat().st_size, len(notes.encode("utf-8"))))
    texts = pq.read_table(out / "extra.parquet").column("text").to_pylist()
    files.append(("extra.parquet", "`id`, `text` string columns, both languages",
                  f"{len(texts)} rows", (out / "extra.parquet").stat().st_size,
                  sum(len(t.encode("utf-8")) for t in texts)))

    file_rows = "\n".join(f"| `{name}` | {what} | {records} | {disk:,} | {text:,} |"
                          for name, what, records, disk, text in files)
    total_disk = sum(f[3] for f in files)
    total_text = sum(f[4] for f in files)

    def count(name: str, kind: str) -> int:
        return sum(1 for label in labels[name] if label["kind"] == kind)

    kind_rows = "\n".join(
        f"| `-{kind}` | {KIND_DESCRIPTIONS[kind]} | {count('en.jsonl.gz', kind)} | "
        f"{count('zh.jsonl.gz', kind)} | {count('extra.parquet', kind)} |"
        for kind in ("long",) + INJECTED_KINDS)
    return README_TEMPLATE.format(file_rows=file_rows, total_disk=f"{total_disk:,}",
                                  total_text=f"{total_text:,}", kind_rows=kind_rows, seed=seed,
                                  near_min=NEAR_MIN_JACCARD, shingle=SHINGLE_WORDS)


KIND_DESCRIPTIONS = {
    "long": f"normal document of {LONG_DOC_BYTES[0] // 1000}-{LONG_DOC_BYTES[1] // 1000} KB, "
            "longer than one 512-token sample (kept)",
    "dup": "verbatim copy of the document named by `source_id` (exact duplicate)",
    "near": f"copy of `source_id` with {NEAR_EDITS[0]}-{NEAR_EDITS[1]} words (Chinese: characters) inserted, deleted "
            "or replaced (near-duplicate)",
    "short": "one or two words (`ok`, `好的`)",
    "symbols": "symbol runs (`#### $$$ @@@`), or one sentence followed by hashtag spam",
    "bullets": "every line a bullet (`•` or `-`)",
    "repeat": "one boilerplate line repeated 20-30 times",
    "ellipsis": "every line a sentence cut off with `...`",
    "digits": "lines of four-digit groups with a one-word label",
    "ansi": "normal prose with one paragraph wrapped in an ANSI colour escape (kept after cleaning)",
    "ctrl": "normal prose with one stray control character, U+0007 or U+000E (kept after cleaning)",
    "crlf": "normal prose with CRLF line endings (kept after cleaning)",
    "tokens": "normal prose mentioning `[MASK]`, `[gMASK]`, `[sMASK]`, `sop`, `eop`, "
              "`<\\|endoftext\\|>` as ordinary text (kept, never treated as special tokens)",
}

README_TEMPLATE = """\
# glmprep sample corpus

A small bilingual corpus that ships with glmprep, for the tests and the demo. It was
generated by `data/make_sample.py` (seed {seed}) from hand-written word lists and
sentence templates in `data/sample_vocab.py`: everyday topics (gardening, cooking,
bicycles, weather, trains, libraries, small software tools, rivers, markets) in
English and Simplified Chinese, with ordinary punctuation, paragraphs separated by a
blank line, a few lists and numbers. Every file is well-formed UTF-8; malformed input
for error-handling tests is produced elsewhere.

This file is rewritten by the generator; the numbers below are measured from the
generated files.

## Files

| file | contents | records | bytes on disk | bytes of text (UTF-8) |
|---|---|---|---|---|
{file_rows}

Total: {total_disk} bytes on disk, {total_text} bytes of text.

- `*.jsonl.gz`: one JSON object per line, `{{"id": "en-0001", "text": "..."}}`, written with
  `ensure_ascii=False`; gzip headers carry no file name and mtime 0.
- `notes.txt`: for the plain-text reader; every paragraph is normal prose.
- `extra.parquet`: for the Parquet reader; ids `pq-0001`...

## Known documents

A document's id is `<file>-<number>` (numbers follow file order), plus a suffix naming
its kind when it is not an ordinary document. Every suffixed id is also listed in
`data/sample_labels.json` with its kind, the `source_id` it was copied from (for
`-dup` and `-near`) and the details below. A copy always comes after its source in
file order, so a deduplicator that keeps the first occurrence keeps the original.

| suffix | what it is | en | zh | parquet |
|---|---|---|---|---|
{kind_rows}

- Exact duplicates: the two `pq-*-dup` rows copy a normal document of `en.jsonl.gz`
  and of `zh.jsonl.gz`, so they are duplicates across files.
- Near-duplicates: each has a Jaccard similarity of at least {near_min} to its source
  over sets of {shingle}-word shingles (lower-cased, white-space words, every CJK
  character a word), recorded per document as `jaccard_5gram`.
- Low-quality documents (`-short` ... `-digits`, two of each kind per language): all
  but `-short` have at least 50 words, so ratio-based quality rules apply to them.
- Messy documents (`-ansi`, `-ctrl`, `-crlf`, `-tokens`) are good prose once cleaned.
- Normal documents are pairwise distinct; none is a copy of another.

## Regenerate

    python data/make_sample.py

It needs only the standard library and pyarrow. The same seed gives byte-identical
`.jsonl.gz` and `notes.txt` files, and a byte-identical Parquet file with the same
pyarrow version.

## Licence

The text was generated for glmprep and is dedicated to the public domain under
[CC0 1.0](https://creativecommons.org/publicdomain/zero/1.0/): you may copy, modify
and distribute it, even commercially, without asking permission.
"""


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"output folder (default: {DEFAULT_OUT})")
    parser.add_argument("--labels", type=Path, default=DEFAULT_LABELS,
                        help=f"where to write the labels JSON (default: {DEFAULT_LABELS})")
    parser.add_argument("--seed", type=int, default=SEED, help=f"random seed (default: {SEED})")
    args = parser.parse_args(argv)
    generate(args.out, args.labels, args.seed)
    print(f"wrote {args.out} and {args.labels}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
