"""The ``glmprep`` command line loads only the module of the command it runs."""
from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from glmprep.pipeline.cli import main
code = main(["validate", sys.argv[1]])
print(code, "apache_beam" in sys.modules)
"""


def test_validate_does_not_load_beam(tmp_path):
    # an empty directory: validate refuses it (exit 2, "no shards found") without Beam loaded
    result = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path)], capture_output=True, text=True)
    assert "no shards found" in result.stderr
    assert result.stdout.split()[-2:] == ["2", "False"], result.stdout + result.stderr


def test_help_lists_every_command(capsys):
    from glmprep.pipeline.cli import COMMANDS, main
    assert main([]) == 2
    listed = capsys.readouterr().out
    assert all(f"    {command} " in listed for command in COMMANDS)


NO_GCP = """
import sys
sys.modules["apitools"] = None  # as on a base install, without apache-beam[gcp]
from glmprep.pipeline.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_base_install_prints_no_gcp_warning(tmp_path):
    # a command that loads Beam and its I/O modules, refused before any work
    result = subprocess.run([sys.executable, "-c", NO_GCP, "run", "--input", str(tmp_path / "none*"),
                             "--output", str(tmp_path / "out")], capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [f"glmprep run: input {tmp_path / 'none*'} matches no file"]
