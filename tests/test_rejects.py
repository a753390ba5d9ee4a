"""Tests for glmprep.schemas.rejects and glmprep.schemas.stages: the reason registry is
the one list (README, the stages' own tuples and make_reject agree with it)."""
import re
from pathlib import Path

import pytest

from glmprep.core.clean import CLEAN_REJECT_REASONS
from glmprep.core.filters import FILTER_REASONS
from glmprep.schemas.rejects import (REJECT_FIELDS, REJECT_PREVIEW_CHARS, REJECT_REASONS, make_reject,
                                     reasons_of, reasons_table)
from glmprep.schemas.stages import FUNNEL_STAGES, STAGE_LIST, STAGES, stage

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_block(begin: str, end: str) -> str:
    text = README.read_text(encoding="utf-8")
    return text[text.index(begin) + len(begin):text.index(end)].strip()


def test_readme_reasons_table_is_the_registry():
    block = readme_block("<!-- reject-reasons:begin -->", "<!-- reject-reasons:end -->")
    assert block == reasons_table(), "regenerate it: python -m glmprep.schemas.rejects"


def test_readme_quality_filter_table_lists_the_filter_reasons_in_order():
    section = readme_block("## Quality filters", "The ratio rules apply")
    listed = re.findall(r"`([a-z_0-9]+)`", "\n".join(line.split("|")[1] for line in section.splitlines()
                                                    if line.startswith("| `")))
    assert sorted(listed) == sorted(reasons_of("filter"))


def test_every_reason_belongs_to_a_known_stage_once():
    pairs = [(r.stage, r.reason) for r in REJECT_REASONS]
    assert len(pairs) == len(set(pairs))
    assert {r.stage for r in REJECT_REASONS} <= set(FUNNEL_STAGES)
    order = [STAGES.index(r.stage) for r in REJECT_REASONS]
    assert order == sorted(order), "registry lines are in pipeline order"


def test_stages_own_lists_are_the_registry():
    from glmprep.transforms.dedup import EXACT_DUPLICATE
    from glmprep.transforms.read import READ_REJECT_REASONS
    from glmprep.transforms.unique_keys import DUPLICATE_ID
    assert FILTER_REASONS == reasons_of("filter")      # checking order
    assert CLEAN_REJECT_REASONS == reasons_of("clean")
    assert set(READ_REJECT_REASONS) | {DUPLICATE_ID} == set(reasons_of("read"))
    assert reasons_of("exact_dedup") == (EXACT_DUPLICATE,)
    from glmprep.core.decontaminate import DECONTAMINATE_REASONS
    from glmprep.core.langid import LANGUAGE_REASONS
    from glmprep.core.mixing import MIXING_REASONS
    assert (LANGUAGE_REASONS, DECONTAMINATE_REASONS, MIXING_REASONS) == (
        reasons_of("language"), reasons_of("decontaminate"), reasons_of("mixing"))


def test_make_reject_builds_every_field():
    record = make_reject("k", "exact_dedup", "exact_duplicate", "kept j", "x" * 500, kept_key="j")
    assert tuple(record) == REJECT_FIELDS
    assert record["kept_key"] == "j"
    assert record["preview"] == "x" * REJECT_PREVIEW_CHARS


@pytest.mark.parametrize("stage_name, reason, message", [
    ("filter", "too_shrot", "unknown reject reason filter/too_shrot"),
    ("pack", "too_short", "unknown stage 'pack'"),
    ("clean", "too_short", "unknown reject reason clean/too_short"),
])
def test_make_reject_refuses_what_is_not_registered(stage_name, reason, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make_reject("k", stage_name, reason)


def test_stage_names_and_labels():
    assert STAGES == tuple(s.name for s in STAGE_LIST)
    assert FUNNEL_STAGES == tuple(s for s in STAGES if s not in ("pii", "shards"))  # they drop nothing
    assert stage("clean").after == "cleaned"
    with pytest.raises(ValueError, match="unknown stage 'pack'"):
        stage("pack")
