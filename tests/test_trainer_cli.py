"""``glmprep train`` as a user runs it: stopped by SIGTERM or Ctrl-C at any moment it saves
and resumes to exactly the losses of an uninterrupted run; loss.csv is on disk line by line;
progress lines carry a rate and an ETA; a warmup longer than the run is named."""
from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time

import pytest

from test_trainer_data import write_toy_shards

STEPS = 24
TRAIN = ["--steps", str(STEPS), "--batch-size", "4", "--grad-accum", "2", "--d-model", "16",
         "--layers", "1", "--heads", "2", "--warmup", "4", "--log-every", "1"]


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    directory = tmp_path_factory.mktemp("toy") / "shards"
    write_toy_shards(directory, n_shards=2, n_docs=60)
    return directory


def train(data, out, *extra, **popen):
    return subprocess.Popen([sys.executable, "-m", "glmprep", "train", "--data", str(data), "--out", str(out),
                             *TRAIN, *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)), **popen)


def losses(out):
    with open(os.path.join(out, "loss.csv"), newline="") as fh:
        return [(r["step"], r["loss"]) for r in csv.DictReader(fh)]


def logged_steps(out) -> int:
    try:
        with open(os.path.join(out, "loss.csv")) as fh:
            return max(len(fh.read().splitlines()) - 1, 0)
    except FileNotFoundError:
        return 0


@pytest.fixture(scope="module")
def uninterrupted(toy, tmp_path_factory):
    out = tmp_path_factory.mktemp("whole") / "ck"
    done = train(toy, out)
    _, err = done.communicate(timeout=600)
    assert done.returncode == 0, err
    return losses(out), err


@pytest.mark.parametrize("signum, after", [(signal.SIGTERM, 1), (signal.SIGTERM, 3), (signal.SIGINT, 8)])
def test_interrupted_run_resumes_to_the_same_losses(toy, tmp_path, uninterrupted, signum, after):
    out = tmp_path / "ck"
    run = train(toy, out)
    deadline = time.monotonic() + 300
    while logged_steps(out) < after and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)  # loss.csv grows line by line while training runs
    run.send_signal(signum)
    _, err = run.communicate(timeout=300)
    assert run.returncode == 128 + signum, err
    assert "saved step" in err and "Traceback" not in err
    stopped = losses(out)
    assert stopped == uninterrupted[0][:len(stopped)]
    resumed = train(toy, out, "--resume")
    _, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err
    assert losses(out) == uninterrupted[0]


def test_progress_has_rate_and_eta_in_training_and_evaluation(uninterrupted):
    err = uninterrupted[1]
    step_lines = [line for line in err.splitlines() if line.startswith("step ")]
    assert len(step_lines) == STEPS and all("steps/s" in line and "ETA" in line for line in step_lines)
    assert f"step {STEPS}/{STEPS} steps" in step_lines[-1] and "ETA 0:00" in step_lines[-1]
    eval_lines = [line for line in err.splitlines() if line.startswith("eval ")]
    assert eval_lines and all("batches/s" in line and "ETA" in line for line in eval_lines)


def test_warmup_longer_than_the_run_is_named(toy, tmp_path):
    run = train(toy, tmp_path / "ck", "--warmup", "50", "--stop-after", "1")
    _, err = run.communicate(timeout=300)
    assert run.returncode == 0, err
    assert f"warning: --warmup 50 exceeds --steps {STEPS}" in err


def test_one_and_two_threads_train_the_same_weights(toy, tmp_path):
    import numpy as np
    from glmprep.trainer import checkpoint
    runs = {}
    for n in ("1", "2"):  # 40 rows of 64 positions: three parts of at most 16 rows
        run = train(toy, tmp_path / n, "--threads", n, "--batch-size", "40", "--stop-after", "3")
        _, err = run.communicate(timeout=300)
        assert run.returncode == 0, err
        runs[n] = losses(tmp_path / n), checkpoint.load(str(tmp_path / n)).state.params
    assert len(runs["1"][0]) == 3 and runs["1"][0] == runs["2"][0]
    for k, weights in runs["1"][1].items():
        np.testing.assert_array_equal(runs["2"][1][k], weights, err_msg=k)


def test_a_negative_thread_count_is_one_line(toy, tmp_path):
    run = train(toy, tmp_path / "ck", "--threads", "-1")
    _, err = run.communicate(timeout=300)
    assert run.returncode == 2 and "--threads must be 0" in err and "Traceback" not in err, err


# --- untrusted checkpoints ----------------------------------------------------------------

def checkpoint_of(toy, tmp_path):
    run = train(toy, tmp_path / "ck", "--stop-after", "1")
    _, err = run.communicate(timeout=300)
    assert run.returncode == 0, err
    return tmp_path / "ck"


def rewrite_npz(ck, member, write):
    """model.npz with ``member`` replaced by what ``write(zip_file, name)`` writes."""
    import zipfile
    src = ck / "model.npz"
    with zipfile.ZipFile(src) as old, zipfile.ZipFile(ck / "new.npz", "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            if info.filename == member:
                write(new, member)
            else:
                new.writestr(info, old.read(info))
    os.replace(ck / "new.npz", src)


def eval_error(toy, ck):
    done = subprocess.run([sys.executable, "-m", "glmprep", "eval", "--data", str(toy), "--checkpoint", str(ck)],
                          capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    err = done.stderr.strip()
    assert done.returncode == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_a_zip_bomb_in_a_checkpoint_is_refused_before_allocating(toy, tmp_path):
    ck = checkpoint_of(toy, tmp_path)

    def bomb(archive, member, size=1 << 30):  # 1 GiB of zeros, a few MB compressed
        with archive.open(member, "w", force_zip64=True) as fh:
            chunk = bytes(16 << 20)
            for _ in range(size // len(chunk)):
                fh.write(chunk)
    rewrite_npz(ck, "param/wte.npy", bomb)
    assert (ck / "model.npz").stat().st_size < 64 << 20
    err = eval_error(toy, ck)
    assert "model.npz" in err and "refused before reading" in err


@pytest.mark.parametrize("change, message", [
    (lambda ck: rewrite_npz(ck, "param/wpe.npy", lambda a, m: a.writestr(m, b"not an npy file")), "wpe"),
    (lambda ck: rewrite_npz(ck, "param/wte.npy", lambda a, m: a.writestr("param/extra.npy", b"x")), "extra.npy"),
    (lambda ck: (ck / "config.json").write_text("[1, 2]"), "format/version"),
    (lambda ck: (ck / "config.json").write_text("{"), "not JSON"),
    (lambda ck: (ck / "model.npz").write_bytes(b"PK\x03\x04 broken"), "not a readable .npz"),
])
def test_a_damaged_checkpoint_is_one_line(toy, tmp_path, change, message):
    ck = checkpoint_of(toy, tmp_path)
    change(ck)
    assert message in eval_error(toy, ck)
