"""The sample builder against GLM_SPEC §2–§5: worked example, properties, distributions."""
from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from glmprep.core.samples import (DEFAULT_OBJECTIVE_WEIGHTS, SampleBuilder, SampleOptions, assemble, sentence_table,
                                  split_document, truncated_poisson_pmf)
from glmprep.core.samples.pieces import PieceTable
from glmprep.schemas.reader import ShardReader
from glmprep.schemas.shard import OBJECTIVES, samples_to_table
from glmprep.core.validate import validate_reader

from support import TOY_BASE_VOCAB, TOY_SPECIALS, toy_metadata, tokenizer_metadata

SP = TOY_SPECIALS


def build_all(docs, options, specials=SP, ends=None):
    """docs: {key: tokens}; returns samples packed in key order."""
    builder = SampleBuilder(options, specials)
    pieces = []
    for key in sorted(docs):
        tokens = np.asarray(docs[key], dtype=np.uint32)
        e = ends[key] if ends else np.zeros(len(tokens), dtype=bool)
        pieces.extend(split_document(key, tokens, e, builder.max_piece_len))
    return list(builder.pack_pieces(pieces))


def rebuild_documents(samples, specials=SP):
    """Reference reconstruction with plain loops: {key: tokens} from Part A + Part B."""
    pieces = defaultdict(dict)
    for s in samples:
        ids, sep, pos = s["input_ids"].tolist(), s["sep"], s["position_ids"].tolist()
        fill, i = {}, sep
        while i < len(ids):
            assert ids[i] == specials.sop
            j = i + 1
            while j < len(ids) and ids[j] != specials.sop:
                j += 1
            fill[pos[i]] = ids[i + 1:j]
            i = j
        x = []
        for p, t in enumerate(ids[:sep]):
            x.extend(fill.pop(p) if p in fill else [t])
        assert not fill
        at = 0
        for key, piece, num, length in zip(s["source_ids"], s["source_piece"], s["source_num_pieces"],
                                           s["source_lengths"]):
            part = x[at:at + length]
            at += length
            if piece == 0 or part[:1] == [specials.enc]:   # every piece opens with ENC with enc="row"
                assert part[0] == specials.enc
                part = part[1:]
            if piece == num - 1:
                assert part[-1] == specials.eos
                part = part[:-1]
            pieces[key][int(piece)] = part
        assert at == len(x)
    return {k: sum((v[i] for i in sorted(v)), []) for k, v in pieces.items()}


# --------------------------------------------------------------------------- worked example
def test_paper_example_gives_the_expected_arrays():
    # x1..x6 as ids 1..6; spans [x3] and [x5, x6]; Part B order: [x5, x6] first, as in the paper.
    s = assemble(np.arange(1, 7), np.array([2, 4]), np.array([1, 2]), SP.mask, np.array([1, 0]), SP)
    M, S, E = SP.mask, SP.sop, SP.eop
    assert s["sep"] == 5
    assert s["input_ids"].tolist() == [1, 2, M, 4, M, S, 5, 6, S, 3]
    assert s["target_ids"].tolist()[5:] == [5, 6, E, 3, E]
    assert s["loss_mask"].tolist() == [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
    assert s["position_ids"].tolist() == [0, 1, 2, 3, 4, 4, 4, 4, 2, 2]
    assert s["block_position_ids"].tolist() == [0, 0, 0, 0, 0, 1, 2, 3, 1, 2]


def test_paper_example_in_span_order():
    s = assemble(np.arange(1, 7), np.array([2, 4]), np.array([1, 2]), SP.mask, np.array([0, 1]), SP)
    assert s["input_ids"].tolist()[5:] == [SP.sop, 3, SP.sop, 5, 6]
    assert s["position_ids"].tolist()[5:] == [2, 2, 4, 4, 4]
    assert s["block_position_ids"].tolist()[5:] == [1, 2, 1, 2, 3]


# --------------------------------------------------------------------------- properties
documents = st.dictionaries(
    keys=st.text(alphabet="abcdefgh", min_size=1, max_size=6),
    values=st.lists(st.integers(0, TOY_BASE_VOCAB - 1), min_size=1, max_size=700),
    min_size=1, max_size=8)

sample_options = st.builds(
    lambda seq_len, w, lam, ratio, max_span, lo, seed: SampleOptions(
        seq_len=seq_len, objective_weights=dict(zip(OBJECTIVES, w)), poisson_lambda=lam,
        mask_ratio=ratio, max_span=max_span, document_ratio=(lo, 1.0), seed=seed),
    st.integers(16, 300),
    st.tuples(st.floats(0.1, 1), st.floats(0, 1), st.floats(0, 1)),
    st.floats(0.5, 6), st.floats(0.05, 0.5), st.integers(1, 12), st.floats(0.1, 1.0),
    st.integers(0, 2 ** 31))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs=documents, options=sample_options, data=st.data())
def test_every_invariant_holds(docs, options, data):
    ends = {k: np.array(data.draw(st.lists(st.booleans(), min_size=len(v), max_size=len(v))))
            for k, v in docs.items()}
    samples = build_all(docs, options, ends=ends)
    assert all(len(s["input_ids"]) <= options.seq_len for s in samples)
    report = validate_reader(ShardReader.from_table(samples_to_table(samples, toy_metadata(options))))
    assert report.ok, [str(v) for v in report.violations]
    assert rebuild_documents(samples) == {k: list(v) for k, v in docs.items()}


@settings(max_examples=40, deadline=None)
@given(docs=documents, options=sample_options)
def test_same_seed_same_samples(docs, options):
    a, b = build_all(docs, options), build_all(docs, options)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.keys() == y.keys()
        for k in x:
            assert np.array_equal(np.asarray(x[k]), np.asarray(y[k])), k


@settings(max_examples=40, deadline=None)
@given(docs=st.lists(st.lists(st.integers(0, TOY_BASE_VOCAB - 1), min_size=200, max_size=400),
                     min_size=4, max_size=4),
       seed=st.integers(0, 2 ** 31))
def test_different_seed_different_samples(docs, seed):
    # Four documents: the chance that every random choice coincides is negligible.
    docs = {f"d{i}": d for i, d in enumerate(docs)}
    a = build_all(docs, SampleOptions(seq_len=512, seed=seed))
    b = build_all(docs, SampleOptions(seq_len=512, seed=seed + 1))
    assert any(not np.array_equal(x["input_ids"], y["input_ids"]) for x, y in zip(a, b))


def test_long_document_is_split_without_loss():
    tokens = np.arange(5000) % TOY_BASE_VOCAB
    options = SampleOptions(seq_len=128)
    samples = build_all({"long": tokens}, options)
    assert len({s["source_num_pieces"][0] for s in samples}) == 1
    assert rebuild_documents(samples)["long"] == tokens.tolist()


def test_split_prefers_sentence_ends():
    tokens = np.arange(300, dtype=np.uint32)
    ends = np.zeros(300, dtype=bool)
    ends[[70, 150, 230]] = True
    pieces = split_document("d", tokens, ends, max_x_len=102)
    assert [len(p.tokens) for p in pieces] == [71, 80, 80, 69]


# --------------------------------------------------------------------------- distributions
def spans_of(sample):
    """Span lengths of a sample from its block positions."""
    block = np.asarray(sample["block_position_ids"][sample["sep"]:])
    return np.diff(np.flatnonzero(np.append(block == 1, True))) - 1


def long_documents(count, length, seed=7):
    rng = np.random.default_rng(seed)
    return {f"doc{i:04d}": rng.integers(0, TOY_BASE_VOCAB, length) for i in range(count)}


def test_blank_span_lengths_follow_truncated_poisson():
    options = SampleOptions(seq_len=2048, objective_weights={"blank": 1.0}, seed=11)
    samples = build_all(long_documents(300, 1500), options)
    lengths = np.concatenate([spans_of(s) for s in samples])
    assert len(lengths) >= 20_000
    assert_truncated_poisson(lengths, options)


def assert_truncated_poisson(lengths, options):
    """Chi-square of span lengths against Poisson(λ) truncated to 1..max_span."""
    pmf = truncated_poisson_pmf(options.poisson_lambda, options.max_span)
    observed = np.bincount(lengths, minlength=options.max_span + 1)[1:]
    expected = pmf * len(lengths)
    # Merge the tail where the expected count is under 5 (chi-square validity).
    cut = int(np.flatnonzero(expected >= 5)[-1]) + 1
    obs = np.append(observed[:cut], observed[cut:].sum())
    exp = np.append(expected[:cut], expected[cut:].sum())
    keep = exp > 0
    result = stats.chisquare(obs[keep], exp[keep] * obs[keep].sum() / exp[keep].sum())
    assert result.pvalue > 0.001, (result, obs, exp.round(1))


def test_every_blank_sample_masks_at_least_the_ratio():
    rng = np.random.default_rng(3)
    docs = {f"d{i}": rng.integers(0, TOY_BASE_VOCAB, int(rng.integers(1, 900))) for i in range(400)}
    options = SampleOptions(seq_len=512, objective_weights={"blank": 1.0}, seed=5)
    samples = build_all(docs, options)
    for s in samples:
        n = int(np.sum(s["source_lengths"]))
        assert spans_of(s).sum() >= math.ceil(0.15 * n)
        assert spans_of(s).sum() / n >= 0.15


def test_document_span_share_is_uniform():
    options = SampleOptions(seq_len=512, objective_weights={"document": 1.0}, seed=2)
    # One 400-token document per sample, so each sample has one suffix span.
    samples = build_all(long_documents(3000, 400, seed=1), options)
    shares = np.array([spans_of(s)[0] / 400 for s in samples])
    assert len(shares) == 3000
    result = stats.kstest(shares, stats.uniform(loc=0.5, scale=0.5).cdf)
    assert result.pvalue > 0.001, result
    assert shares.min() >= 0.5
    assert shares.max() <= 1.0


ENGLISH = ("The river rose after three days of rain. Did the bridge hold? It did! "
           "Engineers checked it twice; nobody was hurt: the town was lucky.\n"
           "Markets opened again on Monday. Prices of bread stayed the same.")
CHINESE = ("河水在三天的雨后上涨了。桥还好吗？桥没有倒！工程师检查了两次；没有人受伤。"
           "星期一市场重新开门了。面包的价格没有变化。")


@pytest.mark.parametrize("text", [ENGLISH, CHINESE], ids=["english", "chinese"])
def test_sentence_spans_are_whole_sentences(tokenizer, text):
    table = sentence_table(tokenizer)
    tokens = tokenizer.encode_array(text)
    ends = table.ends(tokens)
    boundaries = set((np.flatnonzero(ends) + 1).tolist()) | {0}
    options = SampleOptions(seq_len=256, objective_weights={"sentence": 1.0})
    builder = SampleBuilder(options, tokenizer.specials)
    seen = 0
    for seed in range(30):
        builder.options = SampleOptions(seq_len=256, objective_weights={"sentence": 1.0}, seed=seed)
        piece = split_document(f"doc{seed}", tokens, ends, builder.max_piece_len)
        sample = builder.build_one(piece)
        assert sample["objective"] == "sentence"
        sep = sample["sep"]
        masks = np.flatnonzero(sample["input_ids"][:sep] == tokenizer.specials.smask)
        lengths = spans_of(sample)
        order = np.argsort(sample["position_ids"][sep:][sample["block_position_ids"][sep:] == 1])
        # x offset of each span: mask position in Part A + tokens hidden by earlier spans
        starts = masks - 1 + np.concatenate([[0], np.cumsum(lengths[order] - 1)[:-1]])
        for start, length in zip(starts, lengths[order]):
            assert start in boundaries
            assert start + length in boundaries
            span_text = tokenizer.decode(tokens[start:start + length]).strip()
            assert span_text[-1] in ".?!;:。？！；…"
            seen += 1
    assert seen >= 30


def test_sentence_ends_in_both_languages(tokenizer):
    table = sentence_table(tokenizer)
    for text, count in ((ENGLISH, 8), (CHINESE, 7), ("Pi is 3.14 and version 2.7.1 stays in one sentence.", 1)):
        tokens = tokenizer.encode_array(text)
        assert int(table.ends(tokens).sum()) == count, text


def test_real_text_samples_validate(tokenizer):
    table = sentence_table(tokenizer)
    options = SampleOptions(seq_len=128, seed=9)
    builder = SampleBuilder(options, tokenizer.specials)
    pieces = []
    for key, text in (("en", ENGLISH * 6), ("zh", CHINESE * 6), ("tags", "a [MASK] b <|endoftext|> sop eop")):
        tokens = tokenizer.encode_array(text)
        pieces += split_document(key, tokens, table.ends(tokens), builder.max_piece_len)
    samples = list(builder.pack_pieces(pieces))
    report = validate_reader(ShardReader.from_table(samples_to_table(samples, tokenizer_metadata(tokenizer, options))))
    assert report.ok, [str(v) for v in report.violations]
    rebuilt = rebuild_documents(samples, tokenizer.specials)
    assert tokenizer.decode(rebuilt["tags"]) == "a [MASK] b <|endoftext|> sop eop"
    assert max(rebuilt["tags"]) < tokenizer.base_vocab_size


def test_options_reject_nonsense():
    with pytest.raises(ValueError, match="mask_ratio"):
        SampleOptions(mask_ratio=1.5)
    with pytest.raises(ValueError, match="unknown objectives"):
        SampleOptions(objective_weights={"blanks": 1.0})
    with pytest.raises(ValueError, match="document_ratio"):
        SampleOptions(document_ratio=(0.9, 0.5))


def test_split_documents_packed_first_fit_keep_every_rule():
    # Many documents longer than a sample: their pieces interleave in the open samples, and
    # an ENC or eos must still separate any two pieces (so blank spans never touch).
    rng = np.random.default_rng(0)
    docs = {f"d{i:03d}": rng.integers(0, TOY_BASE_VOCAB, int(rng.integers(5, 400))) for i in range(150)}
    ends = {k: rng.random(len(v)) < 0.08 for k, v in docs.items()}  # cuts at varied places
    options = SampleOptions(seq_len=64, objective_weights={"blank": 1.0}, seed=0, enc="document")
    samples = build_all(docs, options, ends=ends)
    assert sum(len(s["source_ids"]) > 1 for s in samples) > 20   # packing did put pieces together
    for s in samples:
        pieces, counts = s["source_piece"], s["source_num_pieces"]
        for j in range(1, len(pieces)):
            assert pieces[j - 1] == counts[j - 1] - 1 or pieces[j] == 0, "no ENC/eos between two pieces"
    report = validate_reader(ShardReader.from_table(samples_to_table(samples, toy_metadata(options))))
    assert report.ok, [str(v) for v in report.violations]
    assert rebuild_documents(samples) == {k: list(v) for k, v in docs.items()}


# --------------------------------------------------------------------------- the production path
def build_documents(docs, options, ends, specials=SP):
    """docs: {key: tokens}, ends: {key: sentence ends}; samples as the pipeline builds them."""
    builder = SampleBuilder(options, specials)
    stream = ((k, np.asarray(docs[k], dtype=np.uint32), ends[k]) for k in sorted(docs))
    return [row for batch in builder.build_documents(stream) for row in batch.rows()]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs=documents, options=sample_options, data=st.data())
def test_pieces_cut_at_their_exact_cost_keep_every_invariant(docs, options, data):
    ends = {k: np.array(data.draw(st.lists(st.booleans(), min_size=len(v), max_size=len(v))))
            for k, v in docs.items()}
    samples = build_documents(docs, options, ends)
    assert all(len(s["input_ids"]) <= options.seq_len for s in samples)
    report = validate_reader(ShardReader.from_table(samples_to_table(samples, toy_metadata(options))))
    assert report.ok, [str(v) for v in report.violations]
    assert rebuild_documents(samples) == {k: list(v) for k, v in docs.items()}


@pytest.mark.parametrize("objective", OBJECTIVES + ("mix",))
def test_long_documents_fill_their_rows(objective):
    # 60 documents of 1,000-6,000 tokens, a sentence end every 5-40 tokens: rows of a long
    # document's pieces are cut at their exact cost, so they hold ≥ 97 % of seq_len.
    rng = np.random.default_rng(4)
    docs = {f"doc{i:03d}": rng.integers(0, TOY_BASE_VOCAB, int(rng.integers(1000, 6000))) for i in range(60)}
    ends = {k: np.isin(np.arange(len(v)), np.cumsum(rng.integers(5, 40, len(v)))) for k, v in docs.items()}
    weights = {objective: 1.0} if objective != "mix" else dict(DEFAULT_OBJECTIVE_WEIGHTS)
    options = SampleOptions(seq_len=512, objective_weights=weights, seed=1)
    samples = build_documents(docs, options, ends)
    fill = sum(len(s["input_ids"]) for s in samples) / (len(samples) * options.seq_len)
    assert fill >= 0.97, fill
    assert max(len(s["input_ids"]) for s in samples) <= options.seq_len
    assert rebuild_documents(samples) == {k: list(v) for k, v in docs.items()}


def test_cuts_prefer_a_sentence_end_near_the_exact_cost():
    # Sentence ends every 10 tokens: every cut of a document lands on one.
    tokens = np.arange(5000, dtype=np.uint32) % TOY_BASE_VOCAB
    ends = np.arange(5000) % 10 == 9
    samples = build_documents({"d": tokens}, SampleOptions(seq_len=512, seed=3, enc="row"), {"d": ends})
    pieces = sorted((int(s["source_piece"][0]), int(s["source_lengths"][0])) for s in samples)
    x_lengths = [length for _, length in pieces]
    text_lengths = [n - 1 - (i == len(pieces) - 1) for i, n in enumerate(x_lengths)]   # ENC, eos
    assert all(cut % 10 == 0 for cut in np.cumsum(text_lengths)[:-1])


@pytest.mark.parametrize("enc", ["row", "document"])
def test_enc_opens_every_row_or_each_document(enc):
    rng = np.random.default_rng(8)
    docs = {f"d{i:03d}": rng.integers(0, TOY_BASE_VOCAB, int(rng.integers(5, 1500))) for i in range(60)}
    ends = {k: rng.random(len(v)) < 0.05 for k, v in docs.items()}
    options = SampleOptions(seq_len=256, seed=2, enc=enc)
    samples = build_documents(docs, options, ends)
    starts_with_enc = [s["input_ids"][0] == SP.enc for s in samples]
    if enc == "row":
        assert all(starts_with_enc)
    else:
        assert not all(starts_with_enc)   # continuation pieces open rows without ENC
        assert all(e == (s["source_piece"][0] == 0) for e, s in zip(starts_with_enc, samples))
    report = validate_reader(ShardReader.from_table(samples_to_table(samples, toy_metadata(options))))
    assert report.ok, [str(v) for v in report.violations]
    assert rebuild_documents(samples) == {k: list(v) for k, v in docs.items()}


def test_validator_holds_rows_to_their_enc_rule():
    # Shards built with ENC on every piece fail when their metadata says "document", and back.
    rng = np.random.default_rng(9)
    docs = {f"d{i}": rng.integers(0, TOY_BASE_VOCAB, 900) for i in range(5)}
    ends = {k: np.zeros(len(v), dtype=bool) for k, v in docs.items()}
    for built, claimed in (("row", "document"), ("document", "row")):
        samples = build_documents(docs, SampleOptions(seq_len=256, enc=built), ends)
        report = validate_reader(ShardReader.from_table(samples_to_table(
            samples, toy_metadata(SampleOptions(seq_len=256, enc=claimed)))))
        assert not report.ok
        assert any("ENC" in str(v) for v in report.violations)


# --------------------------------------------------------------------------- character boundaries
def span_bytes(sample, tokenizer):
    from glmprep.core.view import spans_of_row
    return [b"".join(tokenizer.token_bytes[int(t)] for t in span.text_ids) for span in spans_of_row(sample)]


def decodes(data):
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def chinese_documents(tokenizer, count=120, seed=5):
    rng = np.random.default_rng(seed)
    sentences = [s + "。" for s in CHINESE.replace("？", "。").replace("！", "。").split("。") if s]
    rare = "龘靐齉爩鱻麤龗灪籲驫"   # characters cl100k splits over several tokens
    docs = {}
    for i in range(count):
        text = "".join(rng.choice(sentences) + rare[int(rng.integers(len(rare)))]
                       for _ in range(int(rng.integers(3, 60))))
        docs[f"zh{i:03d}"] = tokenizer.encode_array(text)
    return docs


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_with_character_boundaries_every_chinese_span_decodes(tokenizer, objective):
    table = sentence_table(tokenizer)
    docs = chinese_documents(tokenizer)
    ends = {k: table.ends(v) for k, v in docs.items()}
    results = {}
    for mode in ("token", "character"):
        options = SampleOptions(seq_len=256, objective_weights={objective: 1.0}, span_boundaries=mode, seed=4)
        builder = SampleBuilder(options, tokenizer.specials, table)
        stream = ((k, docs[k], ends[k]) for k in sorted(docs))
        samples = [row for batch in builder.build_documents(stream) for row in batch.rows()]
        results[mode] = [decodes(b) for s in samples for b in span_bytes(s, tokenizer)]
        report = validate_reader(ShardReader.from_table(samples_to_table(samples, tokenizer_metadata(tokenizer, options))))
        assert report.ok, [str(v) for v in report.violations]
        assert rebuild_documents(samples, tokenizer.specials) == {k: v.tolist() for k, v in docs.items()}
    assert all(results["character"]), results["character"].count(False)
    if objective != "sentence":                      # sentence spans end at whole characters anyway
        assert not all(results["token"])             # the fixture does cut characters


def test_character_boundaries_keep_the_truncated_poisson(tokenizer):
    # On text whose tokens are whole characters nothing moves: the lengths are the drawn ones.
    table = sentence_table(tokenizer)
    rng = np.random.default_rng(6)
    words = ENGLISH.split()
    docs = {f"en{i:03d}": tokenizer.encode_array(" ".join(rng.choice(words, 1500))) for i in range(150)}
    options = SampleOptions(seq_len=2048, objective_weights={"blank": 1.0}, span_boundaries="character", seed=11)
    builder = SampleBuilder(options, tokenizer.specials, table)
    stream = ((k, docs[k], table.ends(docs[k])) for k in sorted(docs))
    lengths = np.concatenate([batch.span_lengths for batch in builder.build_documents(stream)])
    assert len(lengths) >= 10_000
    assert_truncated_poisson(lengths, options)


@pytest.mark.parametrize("cells", [None, 64])
@pytest.mark.parametrize("end_rate", [0.0, 0.05, 0.3, 1.0])
def test_sentence_costs_of_every_cut_length_match_their_definition(end_rate, cells, monkeypatch):
    # The cutter counts a piece's sentence spans for every length it may be cut at, all
    # pieces at once; each count must be what plan_sentence takes from that piece.
    from glmprep.core.samples import cuts
    if cells is not None:  # pieces costed in many small groups
        monkeypatch.setattr(cuts, "SENTENCE_CELLS", cells)
    rng = np.random.default_rng(int(end_rate * 100) + (cells or 0))
    options = SampleOptions(seq_len=128, objective_weights={"sentence": 1.0})
    builder = SampleBuilder(options, SP)
    flat_ends = rng.random(4000) < end_rate
    pieces, width = 40, 30
    start = rng.integers(0, 3000, pieces)
    low = rng.integers(1, 90, pieces)
    lengths = np.minimum(low[:, None] + np.arange(width)[None, :], low[:, None] + rng.integers(0, width, pieces)[:, None])
    x_len = lengths + 2
    bases = rng.integers(0, 2**63, pieces, dtype=np.uint64)
    counts = builder.cutter._sentence_counts(bases, flat_ends, start, lengths, x_len)
    # the planner itself, each (piece, length) a piece of its own with the ends it would hold
    cut = [(d, int(n)) for d in range(pieces) for n in lengths[d]]
    table = PieceTable(np.zeros(sum(n for _, n in cut), np.uint32),
                       np.concatenate([flat_ends[start[d]:start[d] + n] for d, n in cut]),
                       [f"p{d}" for d, _ in cut], np.zeros(len(cut), np.int64), np.ones(len(cut), np.int64),
                       np.array([n for _, n in cut], np.int64))
    planned = builder.spans.plan_sentence(table, np.repeat(bases, width), x_len.ravel())
    assert counts.tolist() == planned.counts.reshape(pieces, width).tolist()
