"""``--config FILE`` and ``run.toml``: a run repeated from the config it wrote gives the same
shards; config files are checked like the command line."""
from __future__ import annotations

import os

import pytest

from glmprep.core.options import flags_of
from glmprep.core.validate import validate_paths
from glmprep.pipeline.cli import main
from glmprep.pipeline.config import load_config
from glmprep.pipeline.manifest import read_manifest
from glmprep.pipeline.options import STAGES, UsageError, run_defaults
from glmprep.schemas.manifest import RUN_CONFIG_NAME

from support import SAMPLE_DIR

INPUT = os.path.join(SAMPLE_DIR, "en.jsonl.gz")
# options away from their defaults, of every kind: int, float, choice, none, pair, weights, switch
OPTIONS = ["--seq-len", "128", "--num-shards", "2", "--mask-ratio", "0.2", "--format", "jsonl",
           "--max-words", "none", "--document-ratio", "0.4,0.9", "--seed", "7",
           "--objective-weights", "blank=0.6,sentence=0.2,document=0.2", "--no-symbol-ratio",
           "--near-dedup-verify", "estimate", "--compression", "zstd", "--quiet"]


def shard_bytes(out):
    return {name: (out / name).read_bytes() for name in sorted(os.listdir(out)) if name.endswith(".arrow")}


def test_run_repeats_from_its_run_toml(tmp_path):
    first, again = tmp_path / "first", tmp_path / "again"
    argv = ["run", "--input", INPUT, "--output", str(first), *OPTIONS, "--direct_running_mode=in_memory"]
    assert main(argv) == 0
    assert main(["run", "--config", str(first / RUN_CONFIG_NAME), "--output", str(again)]) == 0
    assert shard_bytes(again) == shard_bytes(first)
    assert len(shard_bytes(first)) == 2
    assert validate_paths([str(first)]).ok  # zstd-compressed shards read back and validate
    a, b = read_manifest(str(first)), read_manifest(str(again))
    assert a["run"]["command_line"] == argv[1:]
    assert b["run"]["command_line"] == ["--config", str(first / RUN_CONFIG_NAME), "--output", str(again)]
    a.pop("run"), b.pop("run")
    a["options"].pop("inputs"), b["options"].pop("inputs")
    assert a == b
    # the resolved config holds every option, defaults included, and the Beam flags
    values, beam_flags = load_config(str(first / RUN_CONFIG_NAME))
    assert beam_flags == ["--direct_running_mode=in_memory"]
    every = {f.field for _, cls in STAGES for f in flags_of(cls)} - {"config"}
    # left out, None being their default: the bundled tokenizer, no recipe, no special-token map, every language, no mixture file
    assert every - set(values) == {"tokenizer", "recipe", "special_tokens", "languages", "mixture", "total_tokens"}
    assert values["seq_len"] == 128
    assert values["max_words"] is None
    assert values["no_symbol_ratio"]
    assert values["objective_weights"] == {"blank": 0.6, "sentence": 0.2, "document": 0.2}


def test_command_line_wins_over_the_config(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(f'input = [{INPUT!r}]\n["GLM samples"]\nseq-len = 4\n'.replace("'", '"'))
    code = main(["run", "--config", str(config), "--output", str(tmp_path / "o"), "--seq-len", "3"])
    assert code == 2  # the command line's 3 is the one refused
    code = main(["run", "--config", str(config), "--output", str(tmp_path / "o")])
    assert code == 2


@pytest.mark.parametrize("text, message", [
    ("seq_len = 2048\n", "unknown option 'seq_len'; did you mean seq-len?"),
    ("seq-len = 'many'\n", "seq-len = 'many'"),
    ("seq-len = 2048.5\n", "seq-len"),
    ("quiet = 1\n", "expected true or false"),
    ("format = 'csv'\n", "expected one of auto"),
    ("[sampels]\nseq-len = 1\n", "unknown table [sampels]"),
    ("[beam]\nflags = 'x'\n", "[beam] must hold flags"),
    ("config = 'other.toml'\n", "cannot name another config"),
    ("seq-len = \n", "--config"),
])
def test_bad_config_is_one_line(tmp_path, capsys, text, message):
    config = tmp_path / "c.toml"
    config.write_text(text)
    assert main(["run", "--config", str(config), "--input", INPUT, "--output", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err, err
    assert len(err.splitlines()) == 1, err
    assert not (tmp_path / "o").exists()


def test_missing_config_file(tmp_path):
    with pytest.raises(UsageError, match="nothing.toml"):
        load_config(str(tmp_path / "nothing.toml"))


def test_defaults_cover_every_flag():
    defaults = run_defaults()
    assert defaults["seq_len"] == 512
    assert defaults["no_near_dedup"] is False
    assert defaults["fork_workers"] is True
