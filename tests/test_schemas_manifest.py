"""Crafted manifests: ``validate``, ``report``, ``stats`` and ``train`` refuse them with one line
naming the file and what is wrong; no shard outside the run directory is ever opened."""
from __future__ import annotations

import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glmprep.core.samples import SampleOptions
from glmprep.core.tokenizer import file_sha256
from glmprep.pipeline.cli import main
from glmprep.schemas.manifest import (MANIFEST_NAME, ManifestError, is_plain_file_name, manifest_shard_paths,
                                      parse_manifest, shard_path)
from glmprep.schemas.shard import write_shard

from support import toy_metadata, toy_samples

OPTIONS = SampleOptions(seq_len=64, seed=4)
SHARD = "part-00000-of-00001.arrow"


def samples():
    return toy_samples(OPTIONS, documents=20, longest=60, seed=1)


@pytest.fixture(scope="module")
def place(tmp_path_factory):
    """``run/`` (a shard + its manifest) and ``other/`` (another run's shard beside it)."""
    root = tmp_path_factory.mktemp("manifests")
    for name in ("run", "other"):
        os.makedirs(root / name)
        write_shard(str(root / name / SHARD), samples(), toy_metadata(OPTIONS))
    return root


def write_manifest(directory, manifest) -> str:
    text = manifest if isinstance(manifest, str) else json.dumps(manifest)
    (directory / MANIFEST_NAME).write_text(text)
    return str(directory / MANIFEST_NAME)


def good_manifest(directory):
    path = str(directory / SHARD)
    return {"shards": [{"file": SHARD, "sha256": file_sha256(path), "rows": 1, "tokens": 1}]}


ESCAPES = ["../other/" + SHARD, "/etc/passwd", "sub/" + SHARD, "..", ".", "", "..\\other", "a\x00b"]


@pytest.mark.parametrize("name", ESCAPES)
def test_shard_names_leaving_the_run_directory_are_refused(name):
    assert not is_plain_file_name(name)
    with pytest.raises(ManifestError, match="not a file name inside the run directory"):
        parse_manifest(json.dumps({"shards": [{"file": name}]}), "m.json")
    with pytest.raises(ManifestError):
        shard_path("run", {"file": name})


@pytest.mark.parametrize("text, match", [
    ("{", "not valid JSON"),
    ("[]", "the manifest is [], expected an object"),
    ('"x"', "expected an object"),
    ("1" * 5000, "not valid JSON"),                            # past Python's integer digit limit
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"shards": {}}', "shards is {}, expected a list"),
    ('{"shards": [1]}', "shards[0] is 1, expected an object"),
    ('{"shards": [{}]}', "shards[0].file is missing"),
    ('{"shards": [{"file": 7}]}', "shards[0].file 7 is not a file name"),
    ('{"shards": [{"file": "a.arrow", "rows": -1}]}', "shards[0].rows is -1, expected a non-negative integer"),
    ('{"shards": [{"file": "a.arrow", "rows": true}]}', "shards[0].rows is true"),
    ('{"totals": {"documents_in": "9"}}', "totals.documents_in is '9'"),
    ('{"totals": []}', "totals is [], expected an object"),
    ('{"samples": {"objectives": {}, "blank_span_lengths": [], "fill_histogram": []}}', "lacks blank"),
    ('{"options": {"sample": {"max_span": "40"}}}', "options.sample.max_span"),
    ('{"options": {"sample": {"poisson_lambda": NaN}}}', "poisson_lambda"),
    ('{"manifest_version": 99}', "manifest_version 99 is not supported"),
])
def test_malformed_manifests_are_one_line(text, match):
    with pytest.raises(ManifestError) as info:
        parse_manifest(text, "out/manifest.json")
    assert str(info.value).startswith("out/manifest.json: ")
    assert "\n" not in str(info.value)
    assert match in str(info.value)


def test_required_keys():
    with pytest.raises(ManifestError, match="totals, samples missing"):
        parse_manifest("{}", "m.json", require=("totals", "samples"))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["shards", "totals", "samples", "file", "rows", "objectives", "blank", "options",
                         "sample", "max_span", "run", "seconds", "funnel", "x"]), inner, max_size=4),
    max_leaves=15)


@settings(max_examples=300, deadline=None)
@given(doc=json_values)
def test_fuzzed_manifest_is_parsed_or_refused(doc):
    try:
        parsed = parse_manifest(json.dumps(doc), "m.json")
    except ManifestError as exc:
        assert str(exc).startswith("m.json: ")
        assert "\n" not in str(exc)
    else:
        for entry in parsed.get("shards", []):
            assert is_plain_file_name(entry["file"])


@pytest.mark.parametrize("name", ["../other/" + SHARD, "{other}/" + SHARD])
def test_validate_never_opens_a_shard_outside_the_run(place, capsys, name):
    manifest = good_manifest(place / "run")
    manifest["shards"][0]["file"] = name.format(other=str(place / "other"))
    write_manifest(place / "run", manifest)
    assert main(["validate", str(place / "run")]) == 1
    out = capsys.readouterr().out
    assert "not a file name inside the run directory" in out


@pytest.mark.parametrize("command", ["stats", "report"])
@pytest.mark.parametrize("text", ["[]", '{"shards": [{"file": "../other/%s"}], "totals": {}}' % SHARD,
                                  '{"shards": "x", "totals": 3, "samples": null}', "{"])
def test_stats_and_report_refuse_crafted_manifests(place, capsys, command, text):
    write_manifest(place / "run", text)
    assert main([command, str(place / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"glmprep {command}: ")
    assert "\n" not in err
    assert "Traceback" not in err
    assert MANIFEST_NAME in err


def test_train_refuses_a_manifest_naming_another_runs_shard(place, tmp_path, capsys):
    manifest = good_manifest(place / "run")
    manifest["shards"][0]["file"] = "../other/" + SHARD
    write_manifest(place / "run", manifest)
    with pytest.raises(ManifestError):
        manifest_shard_paths(str(place / "run"))
    assert main(["train", "--data", str(place / "run"), "--out", str(tmp_path / "m"), "--steps", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "not a file name inside the run directory" in err
    assert "\n" not in err
    assert not os.path.exists(tmp_path / "m" / "loss.csv")


def test_a_good_manifest_lists_its_shards(place):
    write_manifest(place / "run", good_manifest(place / "run"))
    assert manifest_shard_paths(str(place / "run")) == [os.path.join(str(place / "run"), SHARD)]
