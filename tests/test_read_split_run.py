"""End to end: the shards do not depend on how the input files are split for reading
(split size) or on how many workers read the ranges. Keys without an id field are
``path@offset``, so they too are the same under any split."""
from __future__ import annotations

import glob
import gzip
import json
import os

import pytest

from glmprep.core.reading.options import ReadOptions
from glmprep.pipeline.api import GLMPrep, RunConfig
from glmprep.pipeline.local import build_pipeline_options, new_pipeline
from glmprep.core.samples import SampleOptions

from support import SAMPLE_DIR


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """The English sample as uncompressed JSON Lines without ids (CRLF line ends, a BOM,
    no final line end) and its texts as one paragraph file."""
    root = tmp_path_factory.mktemp("split")
    with gzip.open(os.path.join(SAMPLE_DIR, "en.jsonl.gz"), "rt", encoding="utf-8") as fh:
        texts = [json.loads(line)["text"] for line in fh if line.strip()][:150]
    lines = [json.dumps({"text": text}, ensure_ascii=False) for text in texts]
    (root / "en.jsonl").write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode())
    (root / "en.txt").write_text("\n\n".join(t.replace("\n\n", "\n") for t in texts[::-1]), encoding="utf-8")
    return [str(root / "en.jsonl"), str(root / "en.txt")]


def shards_of(inputs, output, split_bytes, flags=()):
    config = RunConfig(inputs=inputs, output=output, sample=SampleOptions(seq_len=256),
                       read=ReadOptions(text_mode="paragraph", split_bytes=split_bytes),
                       near_dedup=None, num_shards=3)
    pipeline = new_pipeline(build_pipeline_options(list(flags)))
    _ = pipeline | GLMPrep(config)
    pipeline.run().wait_until_finish()
    paths = sorted(glob.glob(os.path.join(output, "*.arrow")))
    return {os.path.basename(p): open(p, "rb").read() for p in paths}


def test_shards_are_byte_identical_across_split_sizes_and_workers(inputs, tmp_path):
    whole = shards_of(inputs, str(tmp_path / "whole"), 1 << 30)
    assert len(whole) == 3
    assert shards_of(inputs, str(tmp_path / "tiny"), 997) == whole
    assert shards_of(inputs, str(tmp_path / "two"), 4096,
                     ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]) == whole
