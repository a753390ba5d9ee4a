"""``glmprep report`` and ``inspect --html``: numbers agree with the manifest, images are real
PNGs, pages are self-contained."""
from __future__ import annotations

import base64
import copy
import html
import io
import json
import os
import re
import shutil
import struct
from html.parser import HTMLParser

import numpy as np
import pyarrow as pa
import pytest

from glmprep.pipeline.cli import main
from glmprep.core.report import HTML_NAME, JSON_NAME, ReportError, build_numbers, write_report
from glmprep.core.report.facts import gather_rejects, read_rejects, sample_row_numbers
from glmprep.core.report.numbers import numbers_of
from glmprep.core.report.page import render_report_html
from glmprep.core.report.stats import chi2_sf, chi_square, language_of, length_edges
from glmprep.core.sample_html import utf8_html
from glmprep.schemas.manifest import ManifestError, parse_manifest
from glmprep.schemas.reader import ShardReader
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
def test_run_with_report_flag_writes_both_files(run_dir, manifest):
    """``run --report`` writes this run's report: the JSON's totals are the manifest's, and the
    page, parsed, has every section and a plot image."""
    with open(os.path.join(run_dir, JSON_NAME), encoding="utf-8") as fh:
        written = json.load(fh)
    assert written["report_version"] == 1
    assert written["totals"] == manifest["totals"]
    assert written["run"]["output"] == run_dir
    parser = Elements()
    with open(os.path.join(run_dir, HTML_NAME), encoding="utf-8") as fh:
        parser.feed(fh.read())
    tags = [t for t, _ in parser.tags]
    assert tags.count("section") == 10  # 9 + languages
    assert tags.count("h2") >= 10
    assert sum(a.get("src", "").startswith("data:image/png;base64,") for t, a in parser.tags if t == "img") >= 9


def test_all_consistency_checks_pass(numbers):
    assert numbers["checks"], numbers["checks"]
    assert all(numbers["checks"].values()), numbers["checks"]


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
        assert width > 100
        assert height > 100
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            assert im.size == (width, height)
            # not a blank canvas: a plot has many colours
            assert len(im.convert("RGB").getcolors(maxcolors=1 << 16) or range(1 << 16)) > 10


def assert_self_contained(text: str):
    assert "http://" not in text
    assert "https://" not in text
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
    badges = re.findall(r'class="m"[^>]*>(\[[sg]?MASK)#\d+\]<', text)
    assert text.count("objective=sentence") == 3
    assert badges
    assert set(badges) == {"[sMASK"}


# --------------------------------------------------------------------------- helpers
@pytest.mark.parametrize("dof", [1, 2, 3, 7, 8, 21])
@pytest.mark.parametrize("x", [0.5, 3.0, 9.0, 30.0])
def test_chi2_sf_equals_scipy(x, dof):
    from scipy.stats import chi2
    assert chi2_sf(x, dof) == pytest.approx(chi2.sf(x, dof), rel=1e-9, abs=1e-12)


def test_chi_square_pools_the_tail():
    expected = np.array([50.0, 30.0, 10.0, 4.0, 3.0, 2.0, 1.0])
    result = chi_square(expected.copy(), expected)
    assert result["statistic"] == 0.0
    assert result["cells"] == 4  # 4 + 3 pooled, 2 + 1 joins them


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
    assert edges[0] == 1
    assert edges[-1] > 5000
    assert np.all(np.diff(edges) > 0)


def test_utf8_html_shows_cut_characters_as_hex():
    river = "河".encode()
    assert utf8_html(river[1:] + b"<a>" + river) == (
        '<span class="bytes" title="part of a UTF-8 character">b2 b3</span>&lt;a&gt;河')


def test_sample_row_numbers_are_windows_within_quota():
    rng = np.random.default_rng(0)
    rows = sample_row_numbers(10_000, 640, rng)
    assert len(rows) == 640
    assert len(set(rows.tolist())) == 640
    assert rows.max() < 10_000
    assert np.all(np.diff(rows) > 0)
    assert np.sum(np.diff(rows) != 1) <= 9  # ten windows of 64 consecutive rows (two may touch)
    assert sample_row_numbers(50, 640, rng).tolist() == list(range(50))


# --------------------------------------------------------------------------- every value escaped
PAYLOAD = '"><script>alert(1)</script><img src=x onerror=alert(1) id=injected>'
NAME_PAYLOAD = "<img src=x onerror=alert(1) id=injected>"  # no "/": usable as a file or directory name


class Elements(HTMLParser):
    """Every start tag of a page with its attributes."""

    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def assert_nothing_injected(page: str):
    parser = Elements()
    parser.feed(page)
    scripts = [t for t, _ in parser.tags if t == "script"]
    assert len(scripts) == 1                                    # the page's own hover script
    for tag, attrs in parser.tags:
        assert attrs.get("id") != "injected", (tag, attrs)
        assert "onerror" not in attrs, (tag, attrs)


def leaves(value, path=()):
    """Paths to every value of a JSON document (the first item of each list) and, as
    ``(..., KEY)``, to every key of an object."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield path + (("key", k),)
            yield from leaves(v, path + (k,))
    elif isinstance(value, list) and value:
        yield from leaves(value[0], path + (0,))
    else:
        yield path


def with_payload(doc, path, payload):
    doc = copy.deepcopy(doc)
    *parents, last = path
    target = doc
    for p in parents:
        target = target[p]
    if isinstance(last, tuple):                                 # an object key
        target[payload + last[1]] = target.pop(last[1])
    else:
        target[last] = payload
    return doc


@pytest.fixture
def fast_plots(monkeypatch):
    """Plots are PNGs drawn from numbers: nothing of them reaches the HTML as text, so the
    escaping tests skip drawing them."""
    from glmprep.core.report import page as page_module
    for name in dir(page_module):
        if name.startswith("plot_"):
            monkeypatch.setattr(page_module, name, lambda numbers: None)


def report_page(directory) -> str:
    write_report(str(directory), sample_rows=200)
    with open(os.path.join(str(directory), HTML_NAME), encoding="utf-8") as fh:
        return fh.read()


def test_every_manifest_field_is_escaped_or_refused(run_dir, manifest, tmp_path, fast_plots):
    """Each value and each key of the manifest in turn holds the payload: the page shows it
    as text, or the manifest is refused in one line (a count that is not a number ...). The
    shards and rejects are read once; each manifest goes through the same checks and
    numbers as ``write_report``."""
    work = tmp_path / NAME_PAYLOAD                               # the run's directory name shows too
    shutil.copytree(run_dir, work)
    assert_nothing_injected(report_page(work))
    numbers, sample, tokenizer = build_numbers(str(work), 200)
    meta = ShardReader(os.path.join(str(work), manifest["shards"][0]["file"])).metadata
    rejects = gather_rejects(read_rejects(str(work)), {}, tokenizer)
    paths = list(leaves(manifest))
    assert len(paths) > 80
    refused = shown = 0
    for path in paths:
        text = json.dumps(with_payload(manifest, path, PAYLOAD))
        try:
            crafted = parse_manifest(text, "manifest.json", require=("shards", "totals", "samples"))
            page = render_report_html(numbers_of(str(work), crafted, meta, sample, rejects), sample, tokenizer)
        except (ManifestError, ReportError) as exc:
            assert "\n" not in str(exc)
            refused += 1
            continue
        assert_nothing_injected(page)
        shown += 1
    assert refused
    assert shown


def test_page_escapes_values_the_manifest_check_would_refuse(run_dir, fast_plots):
    """Escaping does not lean on the manifest check: numbers whose every value is a payload."""
    numbers, sample, tokenizer = build_numbers(run_dir, 200)
    numbers["duplicate_clusters"]["near"]["manifest_clusters"] = PAYLOAD   # the one value once unescaped
    for key in numbers["totals"]:
        numbers["totals"][key] = PAYLOAD if key != "rejected_by_reason" else {PAYLOAD: 1}
    numbers["run"]["glmprep_version"] = numbers["run"]["output"] = PAYLOAD
    numbers["checks"][PAYLOAD] = False
    assert_nothing_injected(render_report_html(numbers, sample, tokenizer))


def test_every_shard_and_reject_field_is_escaped(run_dir, manifest, tmp_path, fast_plots):
    work = tmp_path / "run"
    shutil.copytree(run_dir, work)
    # shard: a payload as the file name, in every source id, and in the metadata's strings
    entry = manifest["shards"][0]
    reader = ShardReader(str(work / entry["file"]))
    table = reader.table
    ids = [[PAYLOAD + k for k in keys] for keys in table.column("source_ids").to_pylist()]
    table = table.set_column(table.schema.get_field_index("source_ids"), "source_ids",
                             pa.array(ids, pa.list_(pa.string())))
    meta = json.loads(table.schema.metadata[b"glmprep"])
    meta["tokenizer_name"] = PAYLOAD
    meta["sample_options"]["sample_key"] = PAYLOAD
    meta["extra"] = {PAYLOAD: PAYLOAD}
    table = table.replace_schema_metadata({b"glmprep": json.dumps(meta).encode()})
    os.remove(work / entry["file"])
    shard_name = NAME_PAYLOAD + ".arrow"
    with pa.OSFile(str(work / shard_name), "wb") as fh, pa.ipc.new_file(fh, table.schema) as writer:
        writer.write_table(table)
    crafted = copy.deepcopy(manifest)
    crafted["shards"][0]["file"] = shard_name
    with open(work / "manifest.json", "w", encoding="utf-8") as fh:
        json.dump(crafted, fh)
    # rejects: a payload in every field of every record
    rejects = sorted((work / "rejects").iterdir())
    records = [json.loads(line) for f in rejects for line in f.read_text(encoding="utf-8").splitlines() if line]
    for f in rejects:
        f.unlink()
    (work / "rejects" / "rejects-00000-of-00001.jsonl").write_text("".join(
        json.dumps({k: PAYLOAD + str(v) for k, v in r.items()}) + "\n" for r in records), encoding="utf-8")
    page = report_page(work)
    assert_nothing_injected(page)
    assert html.escape(PAYLOAD) in page                         # the values are there, as text
    # and the sample page of inspect over the same shard
    out = tmp_path / "samples.html"
    assert main(["inspect", str(work / shard_name), "--sample", "3", "--html", str(out)]) == 0
    assert_nothing_injected(out.read_text(encoding="utf-8"))


def test_malformed_reject_lines_are_one_line_errors(run_dir, tmp_path, capsys):
    work = tmp_path / "run"
    shutil.copytree(run_dir, work)
    target = sorted((work / "rejects").iterdir())[0]
    for line in ("{not json", "[1, 2]", '{"key": "k"}', '{"key": 1, "stage": "read", "reason": "x"}'):
        target.write_text(line + "\n", encoding="utf-8")
        assert main(["report", str(work), "--sample-rows", "50"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"glmprep report: {target}:1: ")
        assert "\n" not in err


def test_report_and_inspect_refuse_a_crafted_shard_in_one_line(run_dir, manifest, tmp_path, capsys):
    work = tmp_path / "run"
    shutil.copytree(run_dir, work)
    shard = str(work / manifest["shards"][0]["file"])
    table = ShardReader(shard).table.replace_schema_metadata({b"glmprep": b'{"format_version": 1, "seq_len": "x"}'})
    with pa.OSFile(shard + ".new", "wb") as fh, pa.ipc.new_file(fh, table.schema) as writer:
        writer.write_table(table)   # beside it: the table is memory-mapped from the shard
    os.replace(shard + ".new", shard)
    for command in (["report", str(work)], ["inspect", shard]):
        assert main(command) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"glmprep {command[0]}: {shard}: ")
        assert "\n" not in err
