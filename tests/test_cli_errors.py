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
    "sequence too short": (["--seq-len", "4"], "seq_len must be ≥ 8"),
    "min words above max words": (["--min-words", "10", "--max-words", "5"], "above max_words"),
    "document ratio reversed": (["--document-ratio", "0.9,0.2"], "document_ratio"),
    "all objective weights zero": (["--objective-weights", "blank=0,sentence=0,document=0"], "positive sum"),
    "mask ratio above one": (["--mask-ratio", "1.5"], "mask_ratio"),
    "near-dedup threshold above one": (["--near-dedup-threshold", "1.5"], "near-dedup"),
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
    assert main(command(place, overrides)) == 2
    err = capsys.readouterr().err.strip()
    assert message in err, err
    assert len(err.splitlines()) == 1 and err.startswith("glmprep run: ")
    assert "Traceback" not in err
    assert snapshot(place) == before  # nothing written, nothing removed


def test_unparseable_option_value_exits_2(place, capsys):
    with pytest.raises(SystemExit) as exc:
        main(command(place, ["--seq-len", "many"]))
    assert exc.value.code == 2
    assert "argument --seq-len: invalid int value" in capsys.readouterr().err
    assert not os.path.exists(place / "out")
