"""PII redaction precision and recall on the labelled EN/ZH snippets.

    python bench/pii_eval.py [FILE]

``FILE`` (default ``tests/data/pii_labelled.jsonl``): one JSON object per line with
``text``, ``lang`` (``en`` or ``zh``) and ``pii``, the list of ``[kind, exact text]`` that
should be replaced. A found item counts as true when a labelled item of the same kind and
the same text is in that snippet. Prints precision and recall per kind and per language,
and the misses.
"""
from __future__ import annotations

import json
import os
import sys
from collections import Counter
from typing import Dict, List, Tuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from glmprep.core.pii import PII_KINDS, PiiRedactor  # noqa: E402

LABELLED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "data",
                        "pii_labelled.jsonl")


def evaluate(path: str = LABELLED) -> Tuple[Dict[str, Counter], List[str]]:
    """group ('all', each kind, each language) -> Counter(tp, fp, fn); and the misses."""
    redactor = PiiRedactor()
    groups: Dict[str, Counter] = {}
    misses: List[str] = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            text = row["text"]
            found = Counter((kind, text[s:e]) for s, e, kind in redactor.find(text))
            wanted = Counter(tuple(item) for item in row["pii"])
            for outcome, items in (("tp", found & wanted), ("fp", found - wanted), ("fn", wanted - found)):
                for (kind, value), n in items.items():
                    for group in ("all", kind, row["lang"]):
                        groups.setdefault(group, Counter())[outcome] += n
                    if outcome != "tp":
                        misses.append(f"{outcome} {kind} {value!r} in {text!r}")
    return groups, misses


def precision_recall(counts: Counter) -> Tuple[float, float]:
    tp, fp, fn = counts["tp"], counts["fp"], counts["fn"]
    return tp / max(1, tp + fp), tp / max(1, tp + fn)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    groups, misses = evaluate(argv[0] if argv else LABELLED)
    print("| group | items | precision | recall |")
    print("|---|---|---|---|")
    for group in ("all", "en", "zh") + PII_KINDS:
        counts = groups.get(group, Counter())
        p, r = precision_recall(counts)
        print(f"| {group} | {counts['tp'] + counts['fn']} | {p:.3f} | {r:.3f} |")
    for miss in misses:
        print(miss)
    return 0


if __name__ == "__main__":
    sys.exit(main())
