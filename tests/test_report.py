"""``glmprep report`` and ``inspect --html``: numbers agree with the manifest, images are real
PNGs, pages are self-contained."""
from __future__ import annotations

import base64
import io
import json
import os
import re
import struct

import numpy as np
import pytest

from glmprep.pipeline.cli import main
from glmprep.core.report import (JSON_NAME, HTML_NAME, chi2_sf, chi_square, language_of, length_edges,
                            sample_row_numbers, utf8_html)
from glmprep.schemas.shard import OBJECTIVES

from support import SAMPLE_DIR

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DATA_URI = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """One small run (English JSONL + the bilingual Parquet file) with ``--report``."""
    out = str(tmp_path_factory.mktemp("report") / "out")
    code = main(["run", "--input", os.path.join(SAMPLE_DIR, "en.jsonl.gz"),
                 "--input", os.path.join(SAMPLE_DIR, "extra.parquet"), "--output", out, "--quiet", "--report"])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def manifest(run_dir):
    with open(os.path.join(run_dir, "manifest.json"), encoding="utf-8") as fh:
        return json.load(fh)


@pytest.fixture(scope="module")
def numbers(run_dir):
    # The report command over the same run (``run --report`` wrote it once already).
    assert main(["report", run_dir, "--sample-rows", "100000"]) == 0
    with open(os.path.join(run_dir, JSON_NAME), encoding="utf-8") as fh:
        return json.load(fh)


@pytest.fixture(scope="module")
def page(run_dir, numbers):
    with open(os.path.join(run_dir, HTML_NAME), encoding="utf-8") as fh:
        return fh.read()


def png_size(data: bytes):
    """(width, height) from a PNG's IHDR chunk."""
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


# --------------------------------------------------------------------------- numbers vs manifest
def test_run_with_report_flag_writes_both_files(run_dir):
    for name in (HTML_NAME, JSON_NAME):
        assert os.path.getsize(os.path.join(run_dir, name)) > 1000


def test_all_consistency_checks_pass(numbers):
    assert numbers["checks"] and all(numbers["checks"].values()), numbers["checks"]


def test_funnel_matches_manifest(numbers, manifest):
    steps, totals = numbers["funnel"], manifest["totals"]
    assert steps[0]["documents"] == totals["documents_in"]
    assert steps[-1]["documents"] == totals["documents_kept"]
    for a, b in zip(steps, steps[1:]):
        assert a["documents"] - b["removed"] == b["documents"]
    removed_by_stage = {}
    for step in steps[1:]:
        removed_by_stage[step["stage"]] = removed_by_stage.get(step["stage"], 0) + step["removed"]
    for stage, n in removed_by_stage.items():
        assert n == sum(v for k, v in totals["rejected_by_reason"].items() if k.startswith(stage + "/"))
    after = {s["stage"]: s["documents"] for s in steps if s["stage"]}
    assert after["filter"] == manifest["funnel"]["filter"]
    assert after["near_dedup"] == manifest["funnel"]["near_dedup"]
    # The sample corpus has junk for several filter rules: the filter stage shows up split.
    assert sum(s["step"].startswith("filter: ") for s in steps) >= 3


def test_reject_counts_match_manifest_and_files(numbers, manifest, run_dir):
    assert numbers["rejects"]["by_reason"] == manifest["totals"]["rejected_by_reason"]
    lines = 0
    for name in os.listdir(os.path.join(run_dir, "rejects")):
        with open(os.path.join(run_dir, "rejects", name), encoding="utf-8") as fh:
            lines += sum(1 for line in fh if line.strip())
    assert numbers["rejects"]["records"] == lines == manifest["totals"]["documents_rejected"]


def test_objective_mix_matches_manifest(numbers, manifest):
    mix = numbers["objective_mix"]
    for o in OBJECTIVES:
        assert mix[o]["rows"] == manifest["samples"]["objectives"][o]["rows"]
        assert mix[o]["tokens"] == manifest["samples"]["objectives"][o]["tokens"]
    assert sum(m["row_share"] for m in mix.values()) == pytest.approx(1.0, abs=1e-3)
    assert sum(m["weight"] for m in mix.values()) == pytest.approx(1.0, abs=1e-3)


def test_span_histogram_matches_manifest(numbers, manifest):
    spans = numbers["span_lengths"]
    assert spans["observed"] == manifest["samples"]["blank_span_lengths"][1:spans["max_span"] + 1]
    assert spans["total_spans"] == manifest["samples"]["objectives"]["blank"]["spans"]
    assert spans["poisson_lambda"] == manifest["options"]["sample"]["poisson_lambda"]
    assert sum(spans["expected_pmf"]) == pytest.approx(1.0, abs=1e-6)
    assert 0.0 <= spans["chi_square"]["p_value"] <= 1.0


def test_masked_ratio_fill_and_shards_match_manifest(numbers, manifest):
    for o in OBJECTIVES:
        entry, stats = numbers["masked_ratio"]["objectives"][o], manifest["samples"]["objectives"][o]
        assert entry["whole_run_ratio"] == pytest.approx(stats["masked_tokens"] / stats["x_tokens"], abs=1e-4)
        assert sum(entry["per_sample_histogram"]) == entry["sampled_rows"] == stats["rows"]
    assert numbers["masked_ratio"]["objectives"]["blank"]["per_sample_min"] >= 0.15
    fill, totals = numbers["fill"], manifest["totals"]
    assert fill["histogram"] == manifest["samples"]["fill_histogram"]
    assert fill["padding_tokens"] == totals["rows"] * fill["seq_len"] - totals["tokens"]
    assert [s["tokens"] for s in numbers["shards"]] == [s["tokens"] for s in manifest["shards"]]


def test_kept_document_lengths_add_up_to_manifest(numbers, manifest):
    lengths = numbers["document_lengths"]
    assert numbers["sample"]["rows_read"] == manifest["totals"]["rows"]  # the whole run was read
    assert lengths["kept_documents_incomplete"] == 0
    langs = lengths["languages"]
    assert sum(v["kept_documents"] for v in langs.values()) == manifest["totals"]["documents_kept"]
    assert sum(v["kept_tokens"] for v in langs.values()) == manifest["totals"]["document_tokens"]
    assert sum(langs["en"]["kept"]) == langs["en"]["kept_documents"]
    # en.jsonl.gz is English, the Parquet file holds Chinese rows too.
    assert langs["en"]["kept_documents"] > langs["zh"]["kept_documents"] > 0
    rejected = sum(v[f"rejected_{b}_documents"] for v in langs.values()
                   for b in ("exact", "near_copy", "lower_bound"))
    assert rejected + sum(lengths["rejected_unmeasured"].values()) == manifest["totals"]["documents_rejected"]


def test_duplicate_clusters_match_manifest(numbers, manifest):
    clusters, totals = numbers["duplicate_clusters"], manifest["totals"]
    assert clusters["near"]["clusters"] == totals["near_duplicate_clusters"] > 0
    assert clusters["near"]["documents_removed"] == totals["near_duplicates_removed"]
    assert clusters["exact"]["documents_removed"] == totals["exact_duplicates_removed"] > 0
    for kind in ("near", "exact"):
        sizes = {int(k): v for k, v in clusters[kind]["size_histogram"].items()}
        assert sum(sizes.values()) == clusters[kind]["clusters"]
        assert sum((k - 1) * v for k, v in sizes.items()) == clusters[kind]["documents_removed"]


# --------------------------------------------------------------------------- the page
def test_every_image_is_a_valid_png(page):
    from PIL import Image
    images = DATA_URI.findall(page)
    assert len(images) >= 9  # funnel, reasons, lengths, clusters, spans, masks, mix, fill, shards
    for encoded in images:
        data = base64.b64decode(encoded, validate=True)
        width, height = png_size(data)
        assert width > 100 and height > 100
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            assert im.size == (width, height)
            # not a blank canvas: a plot has many colours
            assert len(im.convert("RGB").getcolors(maxcolors=1 << 16) or range(1 << 16)) > 10


def assert_self_contained(text: str):
    assert "http://" not in text and "https://" not in text
    assert "file:" not in text
    assert "<link" not in text
    for src in re.findall(r'src="([^"]*)"', text):
        assert src.startswith("data:image/png;base64,"), src[:40]


def test_report_is_self_contained_and_labelled(page):
    assert page.startswith("<!DOCTYPE html>")
    assert_self_contained(page)
    for title in ("Funnel", "Reject reasons", "Document lengths", "Duplicate clusters", "Blank span lengths",
                  "Masked ratio per objective", "Objective mix", "Sample fill", "Tokens per shard"):
        assert f"<h2>{title}</h2>" in page
    assert "lower bound" in page  # the page says what the rejected lengths are based on


def test_report_command_errors(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "manifest.json" in capsys.readouterr().err


def test_inspect_html_page(run_dir, tmp_path, capsys):
    shard = os.path.join(run_dir, "part-00000-of-00001.arrow")
    path = str(tmp_path / "samples.html")
    assert main(["inspect", shard, "--sample", "4", "--html", path]) == 0
    text = open(path, encoding="utf-8").read()
    assert_self_contained(text)
    assert text.count('<div class="sample">') == 4
    # every mask badge in Part A has its span, linked by the same number and colour
    for number, colour in set(re.findall(r'class="m" data-s="(\d+)" style="background:([^"]+)"', text)):
        assert f'class="sp" data-s="{number}" style="background:{colour}"' in text
    assert main(["inspect", shard, "--objective", "sentence", "--sample", "3", "--html", path]) == 0
    text = open(path, encoding="utf-8").read()
    # mask badges only (the sample text itself may contain the literal string "[gMASK]")
    badges = re.findall(r'class="m"[^>]*>(\[[sg]?MASK\])', text)
    assert text.count("objective=sentence") == 3 and badges and set(badges) == {"[sMASK]"}


# --------------------------------------------------------------------------- helpers
@pytest.mark.parametrize("dof", [1, 2, 3, 7, 8, 21])
@pytest.mark.parametrize("x", [0.5, 3.0, 9.0, 30.0])
def test_chi2_sf_equals_scipy(x, dof):
    from scipy.stats import chi2
    assert chi2_sf(x, dof) == pytest.approx(chi2.sf(x, dof), rel=1e-9, abs=1e-12)


def test_chi_square_pools_the_tail():
    expected = np.array([50.0, 30.0, 10.0, 4.0, 3.0, 2.0, 1.0])
    result = chi_square(expected.copy(), expected)
    assert result["statistic"] == 0.0 and result["cells"] == 4  # 4 + 3 pooled, 2 + 1 joins them


@pytest.mark.parametrize("text, language", [
    ("The river rose after rain.", "en"),
    ("河水在雨后上涨了。", "zh"),
    ("我们在 GitHub 上发布了 2.0 版本，修复了 12 个问题。", "zh"),
    ("She said 你好 and left the station before noon.", "en"),
    ("", "en"),
])
def test_language_of(text, language):
    assert language_of(text) == language


def test_length_edges_cover_the_longest():
    edges = length_edges(5000)
    assert edges[0] == 1 and edges[-1] > 5000 and np.all(np.diff(edges) > 0)


def test_utf8_html_shows_cut_characters_as_hex():
    river = "河".encode()
    assert utf8_html(river[1:] + b"<a>" + river) == (
        '<span class="bytes" title="part of a UTF-8 character">b2 b3</span>&lt;a&gt;河')


def test_sample_row_numbers_are_windows_within_quota():
    rng = np.random.default_rng(0)
    rows = sample_row_numbers(10_000, 640, rng)
    assert len(rows) == 640 and len(set(rows.tolist())) == 640 and rows.max() < 10_000
    assert np.all(np.diff(rows) > 0)
    assert np.sum(np.diff(rows) != 1) <= 9  # ten windows of 64 consecutive rows (two may touch)
    assert sample_row_numbers(50, 640, rng).tolist() == list(range(50))
