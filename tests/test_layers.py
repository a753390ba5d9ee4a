"""The layers hold: import-linter checks the contracts in ``.importlinter`` (schemas <- core
<- transforms <- pipeline; no Beam in core or schemas; the trainer, and the shard loader
``glmprep.loader`` when there is one, read shards through the contract and tokenize only)."""
import configparser
from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / ".importlinter"
# Contracts whose source modules are "the trainer side": the loader joins them when present.
TRAINER_SIDE = ("importlinter:contract:trainer-apart", "importlinter:contract:trainer-uses-contract-and-tokenizer")


def contracts_config(directory: Path) -> Path:
    """``.importlinter``, with ``glmprep.loader`` added to the trainer side if it exists."""
    config = configparser.ConfigParser()
    config.read(CONFIG, encoding="utf-8")
    if (ROOT / "glmprep" / "loader.py").exists() or (ROOT / "glmprep" / "loader").is_dir():
        for section in TRAINER_SIDE:
            config[section]["source_modules"] += "\nglmprep.loader"
        ignored = config[TRAINER_SIDE[1]]
        ignored["ignore_imports"] += "\nglmprep.loader.** -> glmprep.core.tokenizer\nglmprep.loader -> glmprep.core.tokenizer"
    path = directory / "importlinter.ini"
    with open(path, "w", encoding="utf-8") as fh:
        config.write(fh)
    return path


def test_config_names_every_layer():
    config = configparser.ConfigParser()
    config.read(CONFIG, encoding="utf-8")
    layers = config["importlinter:contract:layers"]["layers"].split()
    assert layers == ["glmprep.pipeline", "glmprep.transforms", "glmprep.core", "glmprep.schemas"]
    folders = {p.name for p in (ROOT / "glmprep").iterdir() if (p / "__init__.py").exists()}
    covered = {"pipeline", "transforms", "core", "schemas", "trainer", "loader"}  # loader: added by the test
    assert folders <= covered, f"{sorted(folders - covered)}: a new top-level package needs a contract"


def test_import_contracts_are_kept(tmp_path):
    # no_cache: the cache would be written into the working directory
    assert lint_imports(config_filename=str(contracts_config(tmp_path)), no_cache=True) == 0, \
        "an import breaks a layer contract: see the report above"
