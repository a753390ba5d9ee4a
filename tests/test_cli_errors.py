"""``glmprep run`` refuses bad inputs and options before any work: one line, exit code 2,
and the output directory untouched."""
from __future__ import annotations

import os

import pytest

from glmprep.pipeline.cli import main

from support import SAMPLE_DIR

GOOD_INPUT = os.path.join(SAMPLE_DIR, "en.jsonl.gz")


@pytest.fixture
def place(tmp_path):
    """A scratch directory with a plain file, a directory holding a finished run, one holding
    the leftovers of an interrupted run, and a bad tokenizer file."""
    (tmp_path / "a_file").write_text("not a directory\n")
    (tmp_path / "inputs").mkdir()
    (tmp_path / "finished").mkdir()
    (tmp_path / "finished" / "manifest.json").write_text("{}\n")
    (tmp_path / "interrupted").mkdir()
    (tmp_path / "interrupted" / "part-00000-of-00003.arrow.inprogress").write_bytes(b"ARROW1")
    (tmp_path / "bad.tiktoken").write_text("this is not base64 and a rank\n")
    (tmp_path / "empty.tiktoken").write_text("")
    return tmp_path


CASES = {
    # name: (arguments, with {t} for the scratch directory; words the one line must contain)
    "glob matches nothing": (["--input", "{t}/inputs/*.jsonl"], "matches no file"),
    "glob matches only a directory": (["--input", "{t}/inp*"], "matches no file"),
    "input is a directory": (["--input", "{t}/inputs"], "is a directory; give a glob"),
    "output holds a finished run": (["--output", "{t}/finished"], "pass --overwrite"),
    "output holds an interrupted run": (["--output", "{t}/interrupted"], "pass --overwrite"),
    "output is a file": (["--output", "{t}/a_file"], "exists and is not a directory"),
    "output below a file": (["--output", "{t}/a_file/out"], "is not a directory"),
    "tokenizer file missing": (["--tokenizer", "{t}/missing.tiktoken"], "tokenizer ranks file not found"),
    "tokenizer file malformed": (["--tokenizer", "{t}/bad.tiktoken"], "not a '<base64> <rank>' line"),
    "tokenizer file empty": (["--tokenizer", "{t}/empty.tiktoken"], "tokenizer ranks file is empty"),
    "negative shard count": (["--num-shards", "-1"], "--num-shards must be ≥ 0"),
    "zero tokens per shard": (["--tokens-per-shard", "0"], "--tokens-per-shard > 0"),
    "zero minimum shards": (["--min-shards", "0"], "--min-shards ≥ 1"),
    "sequence too short": (["--seq-len", "4"], "--seq-len must be ≥ 8"),
    "min words above max words": (["--min-words", "10", "--max-words", "5"], "--min-words=10 is above --max-words"),
    "document ratio reversed": (["--document-ratio", "0.9,0.2"], "--document-ratio must satisfy"),
    "all objective weights zero": (["--objective-weights", "blank=0,sentence=0,document=0"], "positive sum"),
    "mask ratio above one": (["--mask-ratio", "1.5"], "--mask-ratio must be in (0, 1)"),
    "near-dedup threshold above one": (["--near-dedup-threshold", "1.5"], "--near-dedup-threshold must be in"),
    "near-dedup weight above one": (["--near-dedup-fn-weight", "1.5"], "--near-dedup-fn-weight must be in"),
    "mistyped option": (["--seq_len", "2048"], "unknown option --seq_len (did you mean --seq-len?)"),
    "two mistyped options": (["--num-shard", "4", "--near-dedup-treshold", "0.7"],
                             "--num-shard (did you mean --num-shards?), --near-dedup-treshold "
                             "(did you mean --near-dedup-threshold?)"),
    "abbreviated option": (["--overwrit", "x"], "unknown option --overwrit (did you mean --overwrite?)"),
    "mistyped Beam option": (["--direct_num_worker", "2"], "did you mean --direct_num_workers?"),
    "stray argument": (["--quiet", "extra"], "unexpected argument 'extra'"),
    "unparseable option value": (["--seq-len", "many"], "argument --seq-len: invalid int value: 'many'"),
    "unknown choice": (["--format", "csv"], "argument --format: invalid choice: 'csv'"),
    "bad objective weights": (["--objective-weights", "blank=x"], "argument --objective-weights"),
    "no input": (["--input", None], "--input is required"),
    "no output": (["--output", None], "--output is required"),
}


def command(place, overrides):
    options = {"--input": GOOD_INPUT, "--output": "{t}/out"}
    extra = []
    for name, value in zip(overrides[::2], overrides[1::2]):
        if name in options:
            options[name] = value
        else:
            extra += [name, value]
    args = ["run", "--quiet"]
    for name, value in list(options.items()) + list(zip(extra[::2], extra[1::2])):
        if value is not None:
            args += [name, value.format(t=place)]
    return args


def snapshot(root):
    return sorted((os.path.relpath(os.path.join(d, f), root), os.path.getsize(os.path.join(d, f)))
                  for d, _, files in os.walk(root) for f in files)


@pytest.mark.parametrize("name", list(CASES))
def test_refused_up_front_with_one_line(place, capsys, name):
    overrides, message = CASES[name]
    before = snapshot(place)
    code, err = run_command(place, overrides, capsys)
    assert code == 2
    assert message in err, err
    assert len(err.splitlines()) == 1
    assert err.startswith("glmprep run: ")
    assert "Traceback" not in err
    assert snapshot(place) == before  # nothing written, nothing removed


def run_command(place, overrides, capsys):
    """(exit code, stderr) of ``glmprep run`` with ``overrides``; argparse's own errors exit."""
    try:
        code = main(command(place, overrides))
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err.strip()


def test_beam_options_pass_through(place, capsys):
    # Beam's own options are not glmprep's: accepted, and the run goes on to its checks
    code, err = run_command(place, ["--output", "{t}/finished", "--runner", "DirectRunner",
                                    "--direct_running_mode", "in_memory"], capsys)
    assert code == 2, err
    assert "pass --overwrite" in err, err


def test_help_groups_options_by_stage_with_required_first(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = capsys.readouterr().out
    titles = ["required arguments:", "output:", "reading:", "quality filters:",
              "near-duplicate removal:", "GLM samples:"]
    positions = [text.index(t) for t in titles]
    assert positions == sorted(positions)
    required = text[positions[0]:positions[1]]
    assert "--input GLOB" in required
    assert "--output DIR" in required
    assert "--seq-len SEQ_LEN" in text[positions[-1]:]
    assert "MinHash permutations" in " ".join(text.split())  # --seed says what it does not seed


def test_other_commands_name_unknown_options(capsys):
    assert main(["train", "--data", "x", "--out", "y", "--step", "4"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--step (did you mean --steps?)" in err
    assert len(err.splitlines()) == 1
