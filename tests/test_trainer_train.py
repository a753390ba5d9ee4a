"""Training the reference GLM: schedule, clipping, accumulation, overfitting, exact resume,
a short run whose loss drops, the unigram baseline, and the train/eval/infill commands."""
from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from glmprep.pipeline.cli import main
from glmprep.core.samples import SampleBuilder, SampleOptions, split_document
from glmprep.schemas import ShardMetadata, write_shard
from glmprep.trainer import checkpoint
from glmprep.trainer import model as M
from glmprep.trainer import train as T
from glmprep.trainer.data import BatchStream, open_shards, split_rows, tokenizer_fingerprint
from glmprep.trainer.infill import fill_blanks, part_a_from_text

from test_trainer_data import write_toy_shards

TINY = dict(d_model=32, n_layers=2, n_heads=2)


def setup_run(path, steps=60, seed=0, **train):
    shards = open_shards(str(path))
    tc = T.TrainConfig(steps=steps, batch_size=8, lr=1e-2, warmup_steps=5, seed=seed, eval_fraction=0.2, **train)
    train_rows, eval_rows = split_rows(shards, tc.eval_fraction)
    vocab = T.build_vocab(shards, train_rows, True)
    state = T.new_state(T.model_config_for(shards, vocab, **TINY), tc, vocab)
    return shards, state, train_rows, eval_rows


@pytest.fixture(scope="module")
def toy_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("trainer") / "shards"
    write_toy_shards(path, n_shards=2, n_docs=80)
    return path


def test_learning_rate_warms_up_then_follows_the_cosine():
    c = T.TrainConfig(steps=100, lr=1.0, warmup_steps=10, min_lr_ratio=0.1)
    assert T.lr_at(0, c) == pytest.approx(0.1)
    assert T.lr_at(9, c) == pytest.approx(1.0)
    assert T.lr_at(55, c) == pytest.approx(0.55)      # half way down the cosine: the mean of peak and floor
    assert T.lr_at(100, c) == pytest.approx(0.1)
    lrs = [T.lr_at(s, c) for s in range(10, 101)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))


def test_clipping_scales_to_the_global_norm():
    g = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}
    assert T.clip_grads(g, 1.0) == pytest.approx(5.0)
    assert math.sqrt(sum(float((x * x).sum()) for x in g.values())) == pytest.approx(1.0, rel=1e-5)
    g = {"a": np.array([0.3])}
    T.clip_grads(g, 1.0)
    assert g["a"][0] == 0.3


def test_accumulated_gradients_equal_one_big_batch():
    from test_trainer_model import paper_batch, tiny_config
    cfg = tiny_config()
    params = M.init_params(cfg, seed=5)
    batch = paper_batch(np.random.default_rng(0))
    full_loss, full, _ = M.loss_and_grads(params, cfg, batch)
    halves = [{k: v[i:i + 1] for k, v in batch.items()} for i in range(2)]
    denom = int(batch["loss_mask"].sum())
    parts = [M.loss_and_grads(params, cfg, h, denom=denom) for h in halves]
    assert parts[0][0] + parts[1][0] == pytest.approx(full_loss, rel=1e-12)
    for k in full:
        np.testing.assert_allclose(parts[0][1][k] + parts[1][1][k], full[k], rtol=1e-9, atol=1e-14)


def test_overfits_a_handful_of_samples(toy_dir):
    shards, state, train_rows, _ = setup_run(toy_dir, steps=150)
    few = train_rows[:4]
    stream = BatchStream(shards, few, 4, seed=0)
    losses = [T.train_step(state, stream)["loss"] for _ in range(150)]
    print(f"overfit: first {losses[0]:.3f}, last {losses[-1]:.4f}")
    assert losses[-1] < 0.05


def test_resume_gives_exactly_the_uninterrupted_losses(toy_dir, tmp_path):
    shards, state, rows, _ = setup_run(toy_dir, steps=20, grad_accum=2)
    stream = BatchStream(shards, rows, 8, seed=0)
    straight = [T.train_step(state, stream)["loss"] for _ in range(20)]

    shards, state, rows, _ = setup_run(toy_dir, steps=20, grad_accum=2)
    stream = BatchStream(shards, rows, 8, seed=0)
    first = [T.train_step(state, stream)["loss"] for _ in range(9)]
    checkpoint.save(str(tmp_path / "ck"), state, stream.state(), tokenizer_fingerprint(shards.metadata))
    del state, stream
    ck = checkpoint.load(str(tmp_path / "ck"))
    assert ck.state.step == 9
    stream = BatchStream(shards, rows, 8, seed=ck.state.train_cfg.seed, state=ck.data_cursor)
    rest = [T.train_step(ck.state, stream)["loss"] for _ in range(11)]
    assert first + rest == straight  # exact, not approximate


def test_a_short_run_lowers_the_loss_and_beats_the_unigram(toy_dir):
    shards, state, train_rows, eval_rows = setup_run(toy_dir, steps=80)
    stream = BatchStream(shards, train_rows, 8, seed=0)
    losses = [T.train_step(state, stream)["loss"] for _ in range(80)]
    assert np.mean(losses[-10:]) < np.mean(losses[:5]) - 1.0
    held = T.evaluate(state, shards, eval_rows)
    unigram = T.unigram_baseline(shards, train_rows, eval_rows, state.vocab)
    assert held["all"]["loss"] < unigram["all"]


def test_unigram_baseline_matches_a_direct_count(toy_dir):
    shards, state, train_rows, eval_rows = setup_run(toy_dir)
    p = T.unigram_probs(shards, train_rows, state.vocab)
    assert p.sum() == pytest.approx(1.0)
    assert (p > 0).all()
    targets = []
    for r in eval_rows:
        mask = shards.row_tokens("loss_mask", r) == 1
        targets.extend(shards.row_tokens("target_ids", r)[mask])
    expected = -np.mean(np.log(p[state.vocab.encode(np.array(targets))]))
    assert T.unigram_baseline(shards, train_rows, eval_rows, state.vocab)["all"] == pytest.approx(expected)


def test_only_loss_positions_reach_the_output_layer(toy_dir):
    """Changing a Part A target (loss 0) changes nothing: logits exist only at loss positions."""
    shards, state, rows, _ = setup_run(toy_dir)
    batch = T.compact_batch(BatchStream(shards, rows, 4, seed=0).__next__(), state.vocab)
    loss, grads, _ = M.loss_and_grads(state.params, state.model_cfg, batch)
    batch["target_ids"] = np.where(batch["loss_mask"] == 1, batch["target_ids"], 1)
    assert M.loss_and_grads(state.params, state.model_cfg, batch)[0] == loss


# --------------------------------------------------------------------------- the commands
@pytest.fixture(scope="module")
def real_shards(tmp_path_factory, tokenizer_module):
    """Shards of real English text with the real tokenizer's metadata, so infill can run."""
    tok = tokenizer_module
    text = ("The cat sat on the mat. The dog sat on the rug. The bird sat on the branch. "
            "A cat likes milk. A dog likes bones. A bird likes seeds. ")
    options = SampleOptions(seq_len=64, seed=0)
    builder = SampleBuilder(options, tok.specials)
    pieces = []
    for d in range(60):
        tokens = np.array(tok.encode(text * (1 + d % 2)), dtype=np.uint32)
        ends = np.zeros(len(tokens), dtype=bool)
        ends[[i for i, t in enumerate(tokens) if tok.decode([int(t)]) == "."]] = True
        pieces.extend(split_document(f"en-{d:03d}", tokens, ends, builder.max_piece_len))
    meta = ShardMetadata(**tok.metadata(), seq_len=64, objective_weights=dict(options.objective_weights),
                         sample_options=options.to_metadata(), seed=0)
    path = tmp_path_factory.mktemp("real") / "shards"
    path.mkdir()
    write_shard(str(path / "part-00000-of-00001.arrow"), builder.pack_pieces(pieces), meta)
    return path


@pytest.fixture(scope="module")
def tokenizer_module():
    from glmprep.core.tokenizer import cached_tokenizer
    return cached_tokenizer()


def read_losses(path):
    with open(path / "loss.csv", newline="") as fh:
        return [r["loss"] for r in csv.DictReader(fh)]


def test_train_eval_infill_commands(real_shards, tmp_path, capsys, tokenizer_module):
    out = tmp_path / "ck"
    args = ["train", "--data", str(real_shards), "--out", str(out), "--d-model", "32", "--layers", "1",
            "--heads", "2", "--batch-size", "8", "--lr", "1e-2", "--warmup", "5", "--eval-every", "10"]
    assert main(args + ["--steps", "30"]) == 0
    assert {p.name for p in out.iterdir()} >= {"model.npz", "config.json", "loss.csv", "loss.png"}
    straight = read_losses(out)
    assert len(straight) == 30
    captured = capsys.readouterr()
    assert "tokens/s" in captured.err
    assert "unigram" in captured.out

    # Stop after 12 steps, resume to 30: the same log.
    out2 = tmp_path / "ck2"
    assert main(["train", "--data", str(real_shards), "--out", str(out2)] + args[5:]
                + ["--steps", "30", "--stop-after", "12"]) == 0
    assert checkpoint.load(str(out2)).state.step == 12
    assert main(["train", "--data", str(real_shards), "--out", str(out2), "--resume", "--steps", "30"]) == 0
    assert read_losses(out2) == straight

    assert main(["eval", "--data", str(real_shards), "--checkpoint", str(out)]) == 0
    table = capsys.readouterr().out
    assert "blank" in table
    assert "unigram" in table

    assert main(["infill", "--checkpoint", str(out), "The cat [MASK] on the mat.", "--show-spans"]) == 0
    filled = capsys.readouterr().out.splitlines()
    assert filled[0].startswith("The cat")
    assert filled[0].endswith(" on the mat.")
    assert filled[1].startswith("[1] ")


def test_infill_builds_part_a_around_literal_markers(tokenizer_module):
    tok = tokenizer_module
    part_a, masks, pieces = part_a_from_text(tok, "A [MASK] b [MASK]")
    sp = tok.specials
    assert part_a[0] == sp.enc
    assert part_a[-1] == sp.eos
    assert [part_a[m] for m in masks] == [sp.mask, sp.mask]
    assert tok.decode(part_a) == "ENCA[MASK] b[MASK]eos"


def test_infill_refuses_a_checkpoint_of_another_tokenizer(toy_dir, tmp_path, capsys):
    shards, state, rows, _ = setup_run(toy_dir)
    checkpoint.save(str(tmp_path / "toy"), state, {"batches": 0}, tokenizer_fingerprint(shards.metadata))
    assert main(["infill", "--checkpoint", str(tmp_path / "toy"), "a [MASK] b"]) == 2
    assert "tokenizer_sha256" in capsys.readouterr().err


def test_generation_stops_at_eop_and_respects_the_span_limit(real_shards, tokenizer_module):
    shards = open_shards(str(real_shards))
    rows = np.arange(len(shards))
    vocab = T.build_vocab(shards, rows, True)
    state = T.new_state(T.model_config_for(shards, vocab, **TINY), T.TrainConfig(), vocab)
    filled, spans = fill_blanks(state, tokenizer_module, "x [MASK] y", max_span=3)
    assert len(tokenizer_module.encode(spans[0])) <= 3
    assert filled.startswith("x")
    assert filled.endswith(" y")
