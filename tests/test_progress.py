"""Progress while running: counts from this and other processes, in-place and plain output."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time


from glmprep.pipeline.cli import main
from glmprep.pipeline import progress

from support import SAMPLE_DIR


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_plain_lines_are_periodic_and_end_with_the_totals():
    out = io.StringIO()
    with progress.reporting(out=out, interval=0.05):
        for _ in range(5):
            progress.note(progress.DOCS_READ)
        progress.note(progress.BYTES_READ, 2_500_000)
        progress.note(progress.KEPT, 4)
        progress.note(progress.REJECTED)
        time.sleep(0.4)
    lines = out.getvalue().splitlines()
    assert len(lines) >= 3
    assert all(line.startswith("progress: ") for line in lines)
    assert "\r" not in out.getvalue()
    last = lines[-1]
    assert "read 5 docs" in last
    assert "kept 4" in last
    assert "rejected 1" in last
    assert "2.5 MB at" in last


def test_terminal_line_is_rewritten_in_place():
    out = FakeTerminal()
    with progress.reporting(out=out, interval=0.05):
        progress.note(progress.DOCS_READ, 3)
        time.sleep(0.3)
    text = out.getvalue()
    assert text.count("\r") >= 3
    assert text.endswith("\n")
    assert text.count("\n") == 1
    assert "progress:" not in text
    assert "read 3 docs" in text.rsplit("\r", 1)[1]


def test_counts_of_other_processes_are_summed(tmp_path):
    """A worker subprocess finds the directory in the environment and writes its own file."""
    out = io.StringIO()
    with progress.reporting(out=out, interval=60) as reporter:
        progress.note(progress.DOCS_READ, 2)
        code = "from glmprep.pipeline import progress; progress.note('docs_read', 5); progress.note('kept', 1)"
        subprocess.run([sys.executable, "-c", code], check=True, env=dict(os.environ))
        assert len([n for n in os.listdir(reporter.directory) if n.endswith(".json")]) == 2
    assert "read 7 docs" in out.getvalue()
    assert "kept 1" in out.getvalue()
    assert progress.ENV_VAR not in os.environ  # restored after the run


def test_read_totals_skips_half_written_files(tmp_path):
    (tmp_path / "1.json").write_text(json.dumps({"docs_read": 3, "bytes_read": 10}))
    (tmp_path / "2.json").write_text('{"docs_read": ')  # being replaced right now
    (tmp_path / "3.json.99.tmp").write_text(json.dumps({"docs_read": 100}))
    assert progress.read_totals(str(tmp_path)) == {"docs_read": 3, "bytes_read": 10}


def test_disabled_reporting_prints_nothing_and_notes_are_free(tmp_path):
    out = io.StringIO()
    with progress.reporting(enabled=False, out=out) as reporter:
        progress.note(progress.DOCS_READ)
    assert reporter is None
    assert out.getvalue() == ""


def test_format_line():
    line = progress.format_line({"docs_read": 1204, "kept": 980, "rejected": 31, "bytes_read": 3_200_000}, 10.0)
    assert "read 1,204 docs" in line
    assert "kept 980" in line
    assert "rejected 31" in line
    assert "3.2 MB at 0.32 MB/s" in line


def test_run_prints_progress_lines(tmp_path, capsys, monkeypatch):
    """The DoFns' counts reach the progress line of a real (tiny) run."""
    monkeypatch.setattr(progress, "PLAIN_INTERVAL_SECONDS", 0.2)
    out = str(tmp_path / "out")
    assert main(["run", "--input", os.path.join(SAMPLE_DIR, "extra.parquet"), "--output", out]) == 0
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.startswith("progress: ")]
    assert lines, captured.err[-2000:]
    with open(os.path.join(out, "manifest.json"), encoding="utf-8") as fh:
        totals = json.load(fh)["totals"]
    last = lines[-1]
    assert f"read {totals['documents_in']:,} docs" in last
    assert f"kept {totals['documents_kept']:,}" in last
    assert f"rejected {totals['documents_rejected']:,}" in last
    assert f"{os.path.getsize(os.path.join(SAMPLE_DIR, 'extra.parquet')) / 1e6:.1f} MB" in last
    assert "stage" in captured.out  # the summary table follows


def test_quiet_run_prints_no_progress(tmp_path, capsys):
    out = str(tmp_path / "out")
    assert main(["run", "--input", os.path.join(SAMPLE_DIR, "extra.parquet"), "--output", out, "--quiet"]) == 0
    assert "progress: " not in capsys.readouterr().err
