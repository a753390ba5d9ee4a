"""--recipe: each recipe's options equal the README table; explicit flags override; metadata names it."""
from __future__ import annotations

import os

import pytest

from glmprep.core.recipes import RECIPES, recipe_options, recipes_table
from glmprep.core.samples import SampleOptions
from glmprep.pipeline.config import resolve
from glmprep.pipeline.options import UsageError, parse_run_arguments, sample_options_from

from support import REPO

# The table as the README states it, typed out: (weights, λ, mask ratio, max span, document ratio, seq_len).
TABLE = {
    "glm-base": ((1.0, 0.0, 0.0), 3.0, 0.15, 39, None, 512),
    "glm-large": ((1.0, 0.0, 0.0), 3.0, 0.15, 39, None, 512),
    "glm-large-chinese": ((0.4, 0.3, 0.3), 3.0, 0.15, 39, (0.25, 1.0), 512),
    "glm-10b": ((0.5, 0.3, 0.2), 3.0, 0.15, 39, (0.25, 1.0), 512),
    "glm-10b-chinese": ((0.5, 0.3, 0.2), 3.0, 0.15, 39, (0.25, 1.0), 512),
    "glm-130b": ((0.3, 0.0, 0.7), 3.0, None, None, None, None),
}


def run_options(*flags):
    """SampleOptions as ``glmprep run`` builds them from these flags."""
    values, _ = resolve(parse_run_arguments(list(flags)))
    return sample_options_from(values)


def test_every_recipe_is_in_the_table():
    assert set(RECIPES) == set(TABLE)


@pytest.mark.parametrize("name", sorted(TABLE))
def test_recipe_options_equal_the_table(name):
    weights, lam, ratio, max_span, doc_ratio, seq_len = TABLE[name]
    options = run_options("--recipe", name)
    defaults = SampleOptions()
    assert tuple(options.objective_weights[o] for o in ("blank", "sentence", "document")) == pytest.approx(weights)
    assert options.poisson_lambda == lam
    assert options.mask_ratio == (ratio if ratio is not None else defaults.mask_ratio)
    assert options.max_span == (max_span if max_span is not None else defaults.max_span)
    assert options.document_ratio == (doc_ratio if doc_ratio is not None else defaults.document_ratio)
    assert options.seq_len == (seq_len if seq_len is not None else defaults.seq_len)
    assert options.to_metadata()["recipe"] == name


def test_explicit_flags_override_the_recipe():
    options = run_options("--recipe", "glm-10b", "--seq-len", "2048", "--mask-ratio", "0.2",
                          "--objective-weights", "blank=1")
    assert (options.seq_len, options.mask_ratio) == (2048, 0.2)
    assert options.objective_weights == {"blank": 1.0, "sentence": 0.0, "document": 0.0}
    assert options.document_ratio == (0.25, 1.0)          # still the recipe's


def test_no_recipe_keeps_the_defaults():
    assert run_options() == SampleOptions()


def test_unknown_recipe_is_refused():
    with pytest.raises(ValueError, match="unknown recipe"):
        recipe_options("glm-7b")
    with pytest.raises(UsageError, match="glm-7b"):
        run_options("--recipe", "glm-7b")


def test_a_config_file_recipe_yields_to_the_command_line(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('recipe = "glm-large-chinese"\nmask-ratio = 0.2\n', encoding="utf-8")
    options = run_options("--config", str(config), "--seq-len", "1024")
    assert (options.recipe, options.mask_ratio, options.seq_len) == ("glm-large-chinese", 0.2, 1024)
    assert options.objective_weights == {"blank": 0.4, "sentence": 0.3, "document": 0.3}


def test_readme_holds_the_generated_table():
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as fh:
        readme = "\n".join(line.strip() for line in fh)
    assert "\n".join(line.strip() for line in recipes_table().splitlines()) in readme
