"""GLM's published pre-training setups as named sets of sample options (``--recipe NAME``).

Each recipe fixes the ``SampleOptions`` fields its source fixes; the rest keep glmprep's
defaults, and a flag given explicitly overrides a recipe's value. Sources:

- ``ds_block_*.sh``: THUDM/GLM ``config/ds_block_{base,large,large_chinese,10B,10B_chinese}.sh``
  (``--bert-prob`` is the blank share, ``--gap-sentence-prob`` the sentence share, the rest
  is generation; ``--gpt-min-ratio`` the shortest generated suffix; ``--avg-block-length``
  the Poisson λ; ``--seq-length``).
- ``arguments.py`` / ``blocklm_utils.py``: THUDM/GLM's defaults for what a script leaves out
  (``--avg-block-length 3``, ``--gap-sentence-ratio 0.15``; ``ConstructBlockStrategy``'s
  ``bert_ratio=0.15`` and ``max_block_length=40``, whose span lengths run over 1..39).
- GLM-130B: THUDM/GLM-130B's README ("What is GLM-130B", the objective): ``[MASK]`` short
  spans with Poisson λ=3 and ``[gMASK]`` to the end of the input, 30 % and 70 % of the
  pre-training tokens.

The README's recipe table lists every value with its source.
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

# (option, value, source) per recipe; the option names are SampleOptions fields.
_DEFAULTS = ("THUDM/GLM blocklm_utils.py, ConstructBlockStrategy defaults (bert_ratio 0.15; "
             "max_block_length 40: span lengths drawn over 1..39) and arguments.py (--avg-block-length 3)")
_GLM130B = ("THUDM/GLM-130B README, \"Objective\": [MASK] short spans, Poisson λ=3; [gMASK] to the end "
            "of the input; 30 % and 70 % of the pre-training tokens")


def _glm(script: str, flags: str, blank: float, sentence: float,
         min_ratio: Optional[float] = None) -> Tuple[Tuple[str, object, str], ...]:
    source = f"THUDM/GLM config/{script}: {flags}"
    rows = [
        ("objective_weights", {"blank": blank, "sentence": sentence,
                               "document": round(1.0 - blank - sentence, 10)}, source),
        ("poisson_lambda", 3.0, source if "--avg-block-length" in flags else _DEFAULTS),
        ("mask_ratio", 0.15, _DEFAULTS),
        ("max_span", 39, _DEFAULTS),
        ("seq_len", 512, source),
    ]
    if min_ratio is not None:
        rows.append(("document_ratio", (min_ratio, 1.0), source))
    return tuple(rows)


_MIXED = "--bert-prob {} --gap-sentence-prob 0.3 --avg-block-length 3 --gpt-min-ratio 0.25 --seq-length 512"
RECIPES: Dict[str, Tuple[Tuple[str, object, str], ...]] = {
    "glm-base": _glm("ds_block_base.sh", "--bert-prob 1.0 --seq-length 512", 1.0, 0.0),
    "glm-large": _glm("ds_block_large.sh", "--bert-prob 1.0 --avg-block-length 3 --seq-length 512", 1.0, 0.0),
    "glm-large-chinese": _glm("ds_block_large_chinese.sh", _MIXED.format(0.4), 0.4, 0.3, 0.25),
    "glm-10b": _glm("ds_block_10B.sh", _MIXED.format(0.5), 0.5, 0.3, 0.25),
    "glm-10b-chinese": _glm("ds_block_10B_chinese.sh", _MIXED.format(0.5), 0.5, 0.3, 0.25),
    "glm-130b": (
        ("objective_weights", {"blank": 0.3, "sentence": 0.0, "document": 0.7}, _GLM130B),
        ("poisson_lambda", 3.0, _GLM130B),
    ),
}


def recipe_options(name: str) -> Dict[str, object]:
    """The ``SampleOptions`` fields recipe ``name`` fixes, e.g. ``{"seq_len": 512, ...}``.

    >>> recipe_options("glm-130b")["objective_weights"]
    {'blank': 0.3, 'sentence': 0.0, 'document': 0.7}
    """
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; expected one of {', '.join(RECIPES)}")
    return {option: value for option, value, _ in RECIPES[name]}


_COLUMNS = (("objective_weights", "blank / sentence / document"), ("poisson_lambda", "λ"),
            ("mask_ratio", "mask ratio"), ("max_span", "max span"), ("document_ratio", "document ratio"),
            ("seq_len", "seq_len"))


def _cell(option: str, value: object) -> str:
    if option == "objective_weights":
        return " / ".join(f"{value[o]:g}" for o in ("blank", "sentence", "document"))
    if option == "document_ratio":
        return f"{value[0]:g}–{value[1]:g}"
    return f"{value:g}"


def recipes_table() -> str:
    """The README's recipe table (Markdown): every value a recipe fixes, with its source's
    number; "—" keeps glmprep's default. A test checks that the README holds this text."""
    sources = list(dict.fromkeys(source for rows in RECIPES.values() for _, _, source in rows))
    lines = ["| recipe | " + " | ".join(title for _, title in _COLUMNS) + " |",
             "|---|" + "---:|" * len(_COLUMNS)]
    for name, rows in RECIPES.items():
        fixed = {option: (value, sources.index(source) + 1) for option, value, source in rows}
        cells = [f"{_cell(option, fixed[option][0])} [{fixed[option][1]}]" if option in fixed else "—"
                 for option, _ in _COLUMNS]
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    lines.append("")
    lines += [f"[{i}] {source}" + ("  " if i < len(sources) else "") for i, source in enumerate(sources, 1)]
    return "\n".join(lines)
