"""Small statistics of the report: language of a text, length histogram edges, chi-square."""
from __future__ import annotations

import math
import re
from typing import Dict, List, Sequence

import numpy as np

from glmprep.schemas.cjk import CJK_SCRIPT_RANGES, char_class

# A document is "ZH" when at least this share of its non-space characters are CJK:
# Chinese prose with Latin names, numbers and code stays far above it, English with a
# quoted Chinese phrase far below.
ZH_CJK_SHARE = 0.3
LANGUAGES = ("en", "zh")

_CJK = re.compile(f"[{char_class(CJK_SCRIPT_RANGES)}]")
_SPACE = re.compile(r"\s")


def language_of(text: str) -> str:
    """``"zh"`` when CJK characters are at least ``ZH_CJK_SHARE`` of the non-space ones.

    >>> language_of("The river rose."), language_of("河水上涨了。It rose.")
    ('en', 'zh')
    """
    chars = len(text) - len(_SPACE.findall(text))
    return "zh" if chars and len(_CJK.findall(text)) >= ZH_CJK_SHARE * chars else "en"


def length_edges(longest: int) -> np.ndarray:
    """Histogram edges in tokens, two per octave from 1: [1, 2, 3, 4, 6, 8, 11, 16, 23, ...]."""
    top = max(2, int(longest) + 1)
    edges = np.unique(np.round(2.0 ** (np.arange(0, 2 * math.log2(top) + 2) / 2)).astype(np.int64))
    return edges[: np.searchsorted(edges, top) + 1]


def chi2_sf(x: float, dof: int) -> float:
    """P(X ≥ x) for X ~ chi-square(dof), dof ≥ 1 (closed forms of the regularised gamma).

    >>> round(chi2_sf(3.84, 1), 3), round(chi2_sf(5.99, 2), 3)
    (0.05, 0.05)
    """
    half = x / 2.0
    if dof % 2 == 0:
        terms = [half ** i / math.factorial(i) for i in range(dof // 2)]
        return min(1.0, math.exp(-half) * math.fsum(terms))
    terms = [half ** (i - 0.5) / math.gamma(i + 0.5) for i in range(1, (dof + 1) // 2)]
    return min(1.0, math.erfc(math.sqrt(half)) + math.exp(-half) * math.fsum(terms))


def chi_square(observed: np.ndarray, expected: np.ndarray, min_expected: float = 5.0) -> Dict[str, float]:
    """Pearson's statistic after pooling the tail so that every cell expects ≥ ``min_expected``."""
    obs, exp = [], []
    acc_o = acc_e = 0.0
    for o, e in zip(observed, expected):
        acc_o, acc_e = acc_o + o, acc_e + e
        if acc_e >= min_expected:
            obs.append(acc_o)
            exp.append(acc_e)
            acc_o = acc_e = 0.0
    if obs and acc_e:  # leftover tail joins the last cell
        obs[-1] += acc_o
        exp[-1] += acc_e
    if len(obs) < 2:
        return {"statistic": 0.0, "dof": 0, "p_value": 1.0, "cells": len(obs)}
    o, e = np.array(obs), np.array(exp)
    stat = float(((o - e) ** 2 / e).sum())
    return {"statistic": round(stat, 3), "dof": len(o) - 1, "p_value": chi2_sf(stat, len(o) - 1), "cells": len(o)}


def histogram(values: Sequence[float], edges: np.ndarray) -> List[int]:
    return np.histogram(np.asarray(values, dtype=np.float64), bins=edges)[0].tolist()

