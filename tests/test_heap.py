"""glibc's thresholds fixed for local runs (glmprep/pipeline/heap.py): freed buffers leave."""
import ctypes
import os
import subprocess
import sys
import textwrap

import pytest

from glmprep.pipeline import heap

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc: Linux only")

# Frees one 8 MiB block (glibc then raises its thresholds past 8 MiB unless they are fixed),
# makes 40 blocks of 3 MiB, frees all but the last one made, and prints how many MiB stayed
# resident beyond what the process held before.
_SCRIPT = textwrap.dedent("""
    import sys
    if sys.argv[1] == "fixed":
        from glmprep.pipeline import heap
        assert heap.fix_thresholds()
    def resident_mib():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096 / 2**20
    before = resident_mib()
    big = bytearray(8 << 20)
    del big
    blocks = [bytearray(3 << 20) for _ in range(40)]
    last = blocks[-1]
    del blocks
    print(resident_mib() - before)
""")


def _resident_after(mode: str) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", _SCRIPT, mode], env=env, check=True, capture_output=True,
                         text=True, timeout=120)
    return float(out.stdout)


def test_freed_blocks_leave_once_thresholds_are_fixed():
    moving = _resident_after("moving")
    if moving < 60:
        pytest.skip(f"this C library gave the freed blocks back without help ({moving:.0f} MiB stayed)")
    fixed = _resident_after("fixed")
    assert fixed < 20, f"{fixed:.0f} MiB stayed resident with fixed thresholds ({moving:.0f} MiB without)"


def test_cold_workers_inherit_the_thresholds_and_a_users_own_setting_stays(monkeypatch):
    monkeypatch.setattr(os, "environ", {"MALLOC_TRIM_THRESHOLD_": "123456"})  # restored afterwards
    if not heap.fix_thresholds():
        pytest.skip("no mallopt in this C library")
    assert os.environ["MALLOC_MMAP_THRESHOLD_"] == str(heap.MMAP_THRESHOLD)
    assert os.environ["MALLOC_TRIM_THRESHOLD_"] == "123456"


@pytest.mark.parametrize("flags, fixed", [
    (["--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=LOOPBACK"], True),
    (["--runner=PortableRunner", "--job_endpoint=localhost:8099", "--environment_type=DOCKER"], False),
])
def test_runs_whose_workers_are_this_process_fix_the_thresholds(monkeypatch, flags, fixed):
    from glmprep.pipeline.local import build_pipeline_options, new_pipeline
    if not hasattr(ctypes.CDLL(None), "mallopt"):
        pytest.skip("no mallopt in this C library")
    monkeypatch.setattr(os, "environ", {})  # where fix_thresholds leaves its mark; restored afterwards
    new_pipeline(build_pipeline_options(flags))
    assert ("MALLOC_MMAP_THRESHOLD_" in os.environ) is fixed
