"""The language, PII, decontamination and mixing stages inside ``glmprep run``: each one's
rejects, lineage and manifest section, the accounting with mixing repeats, and identical
shards on every runner with all four on.

The corpus is made here: two sources (English and Chinese JSON Lines) with PII, a French
document, and a benchmark file one English document copies a question from.
"""
from __future__ import annotations

import glob
import hashlib
import json
import os

import pyarrow as pa
import pytest

from glmprep.pipeline.cli import main

QUESTION = ("Which of the following statements about the boiling point of water at high altitude "
            "is correct according to the textbook")
EN = [
    "The river rose after three days of rain, and the old bridge was closed to traffic for a week. "
    "Engineers inspected the stone arches and found that the foundations had held.",
    "Write to the editor at letters@example.com or call +44 20 7946 0958 if you have seen the comet. "
    "Observers in the north reported a faint tail just after sunset on Tuesday evening.",
    "Our study notes repeat the exam question: " + QUESTION + "? The answer depends on air pressure.",
    "Libraries lend more than books now: tools, seeds, musical instruments and even fishing rods are "
    "on the shelves of many small town branches, and the loans are free for members.",
]
ZH = [
    "昨天下午，城市图书馆举办了一场关于古代天文学的讲座，很多学生和退休老人都来听讲，会场座无虚席。",
    "如需报名，请拨打13812345678联系王老师，或者发送邮件到 wang.laoshi@school.example.cn 说明姓名和班级。",
    "春天到了，公园里的桃花和杏花都开了，周末来散步的市民很多，孩子们在草地上放风筝，笑声不断。",
]
FRENCH = ("Le marché du samedi matin attire les habitants de tout le quartier, qui viennent acheter "
          "des légumes frais, du fromage et du pain encore chaud.")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("stages")
    en = root / "en.jsonl"
    en.write_text("".join(json.dumps({"id": f"en-{i}", "text": t}) + "\n" for i, t in enumerate(EN + [FRENCH])),
                  encoding="utf-8")
    zh = root / "zh.jsonl"
    zh.write_text("".join(json.dumps({"id": f"zh-{i}", "text": t}, ensure_ascii=False) + "\n"
                          for i, t in enumerate(ZH)), encoding="utf-8")
    bench = root / "exam.jsonl"
    bench.write_text(json.dumps({"id": "q1", "question": QUESTION, "choices": ["yes", "no"]}) + "\n")
    return {"en": str(en), "zh": str(zh), "bench": str(bench), "root": root}


def stage_args(corpus, out, *extra):
    return ["run", "--output", str(out), "--source", f"web={corpus['en']}:1", "--source",
            f"zhweb={corpus['zh']}:3", "--languages", "en,zh", "--decontaminate", corpus["bench"],
            "--seq-len", "128", "--num-shards", "2", "--quiet", "--no-near-dedup", "--min-words", "3", *extra]


def manifest_of(out):
    with open(os.path.join(out, "manifest.json"), encoding="utf-8") as fh:
        return json.load(fh)


def rejects_of(out):
    rows = []
    for path in sorted(glob.glob(os.path.join(out, "rejects", "*.jsonl"))):
        with open(path, encoding="utf-8") as fh:
            rows += [json.loads(line) for line in fh]
    return rows


def shard_hashes(out):
    return {os.path.basename(p): hashlib.sha256(open(p, "rb").read()).hexdigest()
            for p in sorted(glob.glob(os.path.join(out, "*.arrow")))}


def shard_tables(out):
    return [pa.ipc.open_file(pa.memory_map(p)).read_all() for p in sorted(glob.glob(os.path.join(out, "*.arrow")))]


@pytest.fixture(scope="module")
def all_on(corpus):
    out = corpus["root"] / "all_on"
    assert main(stage_args(corpus, out)) == 0
    assert main(["validate", str(out)]) == 0
    return out


def test_each_stage_rejects_with_its_reason(all_on, corpus):
    rejects = {(r["stage"], r["reason"]): r for r in rejects_of(all_on)}
    assert rejects[("language", "language")]["key"] == "web/en-4"
    assert rejects[("language", "language")]["detail"].startswith("fr ")
    assert rejects[("decontaminate", "contaminated")]["key"] == "web/en-2"
    assert rejects[("decontaminate", "contaminated")]["detail"] == f"{corpus['bench']}: id q1"
    assert all(r["preview"].count("@") == 0 and "13812345678" not in r["preview"] for r in rejects.values())


def test_manifest_sections_and_balanced_accounting(all_on):
    manifest = manifest_of(all_on)
    totals = manifest["totals"]
    assert totals["accounting_balanced"] is True
    assert totals["documents_in"] == 8
    assert totals["documents_in"] + totals["documents_added"] == totals["documents_kept"] + totals["documents_rejected"]
    assert manifest["pii"] == {"email": {"documents": 2, "replacements": 2}, "phone": {"documents": 2, "replacements": 2}}
    assert manifest["languages"]["fr"] == {"identified": 1, "rejected": 1, "kept": 0, "kept_tokens": 0}
    assert manifest["languages"]["zh"]["identified"] == 3
    mixing = manifest["mixing"]
    assert set(mixing) == {"web", "zhweb"}
    assert mixing["web"]["documents_before"] == 3 and mixing["zhweb"]["documents_before"] == 3
    assert mixing["zhweb"]["rate"] > 1 > mixing["web"]["rate"]
    kept_by_source = sum(s["documents_after"] for s in mixing.values())
    assert kept_by_source == totals["documents_kept"]
    assert manifest["decontamination"]["items"] == 1
    assert manifest["funnel"]["mixing"] == totals["documents_kept"]


def test_shards_carry_language_and_source_and_redacted_text(all_on):
    tables = shard_tables(all_on)
    keys = [k for t in tables for row in t.column("source_ids").to_pylist() for k in row]
    languages = [x for t in tables for row in t.column("source_languages").to_pylist() for x in row]
    assert len(keys) == len(languages)
    for key, language in zip(keys, languages):
        assert key.split("/", 1)[0] in ("web", "zhweb")
        assert language == ("zh" if key.startswith("zhweb/") else "en")
    assert any("~mix" in k for k in keys)                          # zhweb is repeated
    distinct_documents = {k for k in keys}
    assert len(distinct_documents) == manifest_of(all_on)["totals"]["documents_kept"]


def test_stats_shows_the_stage_sections(all_on, capsys):
    assert main(["stats", str(all_on)]) == 0
    out = capsys.readouterr().out
    for heading in ("language     identified", "PII replaced", "decontamination:", "source        docs before"):
        assert heading in out


def test_pii_on_by_default_and_off_with_no_pii(corpus):
    out = corpus["root"] / "no_pii"
    assert main(["run", "--output", str(out), "--input", corpus["en"], "--no-pii", "--quiet", "--min-words", "3",
                 "--no-near-dedup", "--num-shards", "1"]) == 0
    manifest = manifest_of(out)
    assert manifest["pii"] == {} and manifest["options"]["pii"] is None
    assert manifest["totals"]["accounting_balanced"] is True


def exit_code(args):
    """``main(args)``'s exit code, also when argparse exits on a bad value."""
    try:
        return main(args)
    except SystemExit as exc:
        return exc.code


def test_usage_errors(corpus, capsys):
    out = corpus["root"] / "bad"
    assert exit_code(["run", "--output", str(out), "--input", corpus["en"], "--languages", "english"]) == 2
    assert exit_code(["run", "--output", str(out), "--source", "we b=" + corpus["en"]]) == 2
    assert exit_code(["run", "--output", str(out), "--input", corpus["en"], "--decontaminate",
                      str(corpus["root"] / "missing.jsonl")]) == 2
    assert exit_code(["run", "--output", str(out), "--input", corpus["en"], "--pii-placeholders", "mail=x"]) == 2
    err = capsys.readouterr().err
    assert "--languages" in err and "source name" in err and "matches no file" in err and "KIND=TEXT" in err


def reject_lines(out):
    """Every reject as the JSON line on disk, sorted (the rejects files' order is the runner's)."""
    return sorted(line for path in glob.glob(os.path.join(out, "rejects", "*.jsonl"))
                  for line in open(path, encoding="utf-8"))


@pytest.mark.parametrize("name, runner", [
    ("multi_processing", ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]),
    ("no_fork", ["--direct_running_mode=multi_processing", "--direct_num_workers=2", "--no-fork-workers"]),
    # Beam's portable Job API with its in-process job service (as tests/test_pipeline.py)
    ("portable", ["--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=LOOPBACK"]),
])
def test_all_four_stages_give_identical_output_on_every_runner(all_on, corpus, name, runner):
    """Language ID, PII, decontamination and mixing all on: the same shards, rejects and
    manifest (but its ``run`` section) as the DirectRunner's."""
    out = corpus["root"] / name
    assert main(stage_args(corpus, out, *runner)) == 0
    assert shard_hashes(out) == shard_hashes(all_on)
    assert reject_lines(out) == reject_lines(all_on)
    first, second = manifest_of(all_on), manifest_of(out)
    assert (second["run"]["runner"] == "PortableRunner") == (name == "portable")
    assert {r["stage"] for r in map(json.loads, reject_lines(out))} >= {"language", "decontaminate"}
    for manifest in (first, second):
        manifest.pop("run", None)
    assert second["pii"] and second["mixing"] and second["decontamination"] and second["languages"]
    assert first == second


def test_report_shows_the_stage_sections_and_its_checks_pass(all_on):
    from glmprep.core.report import write_report
    html_path, json_path = write_report(str(all_on))
    with open(json_path, encoding="utf-8") as fh:
        numbers = json.load(fh)
    assert all(numbers["checks"].values()), numbers["checks"]
    assert set(numbers["stages"]["mixing"]) == {"web", "zhweb"}
    page = open(html_path, encoding="utf-8").read()
    for title in ("Languages", "PII replaced", "Decontamination", "Sources before and after mixing"):
        assert f"<h2>{title}</h2>" in page


def test_run_toml_repeats_a_run_with_all_four_stages(all_on, corpus):
    again = corpus["root"] / "again"
    assert main(["run", "--config", str(all_on / "run.toml"), "--output", str(again)]) == 0
    assert shard_hashes(again) == shard_hashes(all_on)


def test_validate_checks_the_accounting_with_repeats(all_on, corpus, capsys):
    """validate agrees with the manifest: in + added = kept + rejected; one repeat fewer breaks it."""
    import shutil
    broken = corpus["root"] / "broken"
    shutil.copytree(all_on, broken)
    manifest = manifest_of(broken)
    assert manifest["totals"]["documents_added"] > 0
    manifest["totals"]["documents_added"] -= 1
    with open(broken / "manifest.json", "w", encoding="utf-8") as fh:
        json.dump(manifest, fh)
    assert main(["validate", str(broken)]) == 1
    assert "documents_added" in capsys.readouterr().out


def test_decontamination_by_keyed_join_gives_the_same_run(all_on, corpus):
    """--decontaminate-memory-mb 0: the benchmark goes through the keyed join instead of
    the side input; the shards and rejects are the same, and the manifest says which way."""
    out = corpus["root"] / "join"
    assert main(stage_args(corpus, out, "--decontaminate-memory-mb", "0")) == 0
    assert shard_hashes(out) == shard_hashes(all_on)
    assert reject_lines(out) == reject_lines(all_on)
    assert manifest_of(all_on)["decontamination"]["index"] == "side input"
    assert manifest_of(out)["decontamination"]["index"] == "join"
