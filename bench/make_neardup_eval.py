"""Generate the labelled near-duplicate evaluation set from the bundled sample corpus.

    python bench/make_neardup_eval.py [--out bench/data/neardup_eval] [--seed 0]

For each language (``data/sample/en.jsonl.gz``, ``data/sample/zh.jsonl.gz``) every
document with at least MIN_WORDS words is a *source*. Half of the sources get one to
three edited copies; the other half stay alone as unrelated documents. A copy applies
one or two of these edits to the source, at a rate drawn uniformly so that the copies'
Jaccard similarity to the source spreads over roughly 0.5-1.0 around the 0.8 threshold:

- ``substitute`` / ``insert`` / ``delete``: a share of words replaced by, preceded by,
  or removed for a random word of the same language ("words" as in glmprep.core.minhash:
  whitespace-separated for English, single characters for Chinese);
- ``move_paragraph``: one paragraph moved to another position;
- ``boilerplate``: a header or footer of 15-40 words from a fixed set added.

Some unrelated sources also get the same boilerplate added (hard negatives: documents
sharing only a footer). Every document gets a random 8-hex-digit id, so the keeper of a
cluster is not always the source. Ground truth is *not* stored: bench/neardup_eval.py
computes the exact Jaccard of shingle sets of every pair from the texts.

``zh_debref`` is built the same way from up to ``DEBREF_SOURCES`` documents of the shared
corpus ``zh_debref`` (Chinese technical text with embedded commands and options; give its
path with ``--zh-debref``, default /work/shared/corpora/zh_debref.jsonl.gz): edits there
substitute, insert or delete characters, ASCII ones included.

Output: ``<out>/<set>.jsonl.gz``, one ``{"id", "text", "source", "edits"}`` per line,
``source`` being the sample id the document derives from, ``edits`` a short description.
The output is a pure function of the sample corpus and the seed.
"""
from __future__ import annotations

import argparse
import gzip
import json
import pathlib
import random
import sys
from typing import List

from glmprep.core.shingles import words

REPO = pathlib.Path(__file__).resolve().parent.parent
SAMPLE = REPO / "data" / "sample"
DEFAULT_OUT = REPO / "bench" / "data" / "neardup_eval"
MIN_WORDS = 40
MAX_EDIT_RATE = 0.06   # ~5 shingles lost per edited word: 0.06 gives Jaccard ~0.5

BOILERPLATE = {
    "en": ["This page was last edited by the volunteers of the community archive. Content is available "
           "under the usual terms unless otherwise noted; see the about page for details.",
           "Subscribe to our newsletter for weekly updates on new articles, events and offers. "
           "You can unsubscribe at any time using the link at the bottom of every email.",
           "Share this article with your friends. Print | Email | Report a problem with this page"],
    "zh": ["本页面由社区档案馆的志愿者最后编辑。除另有说明外，内容按通常条款提供；详情请参阅关于页面。",
           "订阅我们的通讯，每周获取新文章、活动和优惠的更新。您可以随时通过每封邮件底部的链接退订。",
           "分享本文给您的朋友。打印 | 电子邮件 | 报告此页面的问题"],
}


DEBREF_SOURCES = 200
DEFAULT_DEBREF = pathlib.Path("/work/shared/corpora/zh_debref.jsonl.gz")


def read_sample(lang: str, path: pathlib.Path = None) -> List[dict]:
    path = path or SAMPLE / f"{lang}.jsonl.gz"
    if not path.exists():
        sys.exit(f"{path} not found: the bundled sample corpus is needed to build the evaluation set")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def split_units(paragraph: str, lang: str) -> List[str]:
    """Editable units of a paragraph: words for English, characters for Chinese."""
    return paragraph.split() if lang == "en" else list(paragraph)


def join_units(units: List[str], lang: str) -> str:
    return " ".join(units) if lang == "en" else "".join(units)


def edit_words(text: str, lang: str, kind: str, rate: float, pool: List[str], rng: random.Random) -> str:
    """Substitute, insert or delete about ``rate`` of the units of every paragraph."""
    paragraphs = []
    for paragraph in text.split("\n\n"):
        out = []
        for unit in split_units(paragraph, lang):
            if unit.isspace() or rng.random() >= rate:
                out.append(unit)
            elif kind == "substitute":
                out.append(rng.choice(pool))
            elif kind == "insert":
                out += [rng.choice(pool), unit]
            # delete: drop the unit
        paragraphs.append(join_units(out, lang))
    return "\n\n".join(paragraphs)


def move_paragraph(text: str, rng: random.Random) -> str:
    paragraphs = text.split("\n\n")
    if len(paragraphs) > 1:
        moved = paragraphs.pop(rng.randrange(len(paragraphs)))
        paragraphs.insert(rng.randrange(len(paragraphs) + 1), moved)
    return "\n\n".join(paragraphs)


def add_boilerplate(text: str, lang: str, rng: random.Random) -> str:
    block = rng.choice(BOILERPLATE[lang])
    return f"{block}\n\n{text}" if rng.random() < 0.5 else f"{text}\n\n{block}"


def edited_copy(text: str, lang: str, pool: List[str], rng: random.Random):
    """(text, description) of one edited copy."""
    kinds = rng.sample(["substitute", "insert", "delete", "substitute", "move_paragraph", "boilerplate"],
                       rng.choice([1, 1, 2]))
    notes = []
    for kind in kinds:
        if kind == "move_paragraph":
            text = move_paragraph(text, rng)
            notes.append(kind)
        elif kind == "boilerplate":
            text = add_boilerplate(text, lang, rng)
            notes.append(kind)
        else:
            rate = rng.uniform(0.0, MAX_EDIT_RATE / len(kinds))
            text = edit_words(text, lang, kind, rate, pool, rng)
            notes.append(f"{kind} {rate:.3f}")
    return text, ", ".join(notes)


def build(lang: str, rng: random.Random, path: pathlib.Path = None, max_sources: int = 0,
          name: str = "") -> List[dict]:
    sources = [doc for doc in read_sample(lang, path) if len(words(doc["text"])) >= MIN_WORDS]
    if max_sources and len(sources) > max_sources:
        sources = rng.sample(sources, max_sources)
    pool = sorted({unit for doc in sources for unit in split_units(doc["text"], lang) if not unit.isspace()})
    records = []
    for doc in sources:
        records.append({"text": doc["text"], "source": doc["id"], "edits": "original"})
        if rng.random() < 0.5:
            for _ in range(rng.randint(1, 3)):
                text, notes = edited_copy(doc["text"], lang, pool, rng)
                records.append({"text": text, "source": doc["id"], "edits": notes})
        elif rng.random() < 0.3:
            records[-1] = {"text": add_boilerplate(doc["text"], lang, rng), "source": doc["id"],
                           "edits": "original with boilerplate"}
    ids = rng.sample(range(16 ** 8), len(records))
    for record, number in zip(records, ids):
        record["id"] = f"{name or lang}-{number:08x}"
    rng.shuffle(records)
    return [{"id": r["id"], "text": r["text"], "source": r["source"], "edits": r["edits"]} for r in records]


def write(records: List[dict], path: pathlib.Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", filename="", mtime=0) as f:
        for record in records:
            f.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--zh-debref", type=pathlib.Path, default=DEFAULT_DEBREF,
                        help="the shared zh_debref corpus (default: %(default)s)")
    args = parser.parse_args(argv)
    sets = [("en", "en", None, 0), ("zh", "zh", None, 0), ("zh_debref", "zh", args.zh_debref, DEBREF_SOURCES)]
    for name, lang, path, max_sources in sets:
        records = build(lang, random.Random(f"{args.seed}:{name}"), path, max_sources, name)
        write(records, args.out / f"{name}.jsonl.gz")
        print(f"{args.out / f'{name}.jsonl.gz'}: {len(records)} documents "
              f"from {len({r['source'] for r in records})} sources")
    return 0


if __name__ == "__main__":
    sys.exit(main())
