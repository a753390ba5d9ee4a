"""Per-document work on adversarial text stays linear: time per character from 10 KB to 1 MB.

    python bench/adversarial.py [--sizes 10000,100000,1000000] [--repeats 3] [--baseline-max 40000]

Each family is a document built to make one per-document step slow: long punctuation runs
between letters (the n-gram words' edge punctuation, with and without "İ", which sends a
text word by word), punctuation glued to CJK, unterminated escape sequences and runs of
spaces (cleaning), one giant word, many tiny lines and paragraphs. Every family runs
through what the pipeline does to a document: ``clean_text``, ``QualityFilter().check``
(at the defaults and with every ratio rule applied, ``ratio_rules_min_words=None``) and
MinHash's ``shingle_hashes``. A second section times the tokenizer (tiktoken) on the
families that make one long pre-tokenizer piece; its merges are O(n log n) in a piece's
length, so its ratio grows slowly (about 2x per character from 10 KB to 1 MB); a run of about
1 MB of white space makes tiktoken's regex overflow its stack (a Rust panic, reported as
FAILED: a known limit of tiktoken, not of glmprep's code).

Prints, per family and size, microseconds per character (best CPU time of the rounds)
and the ratio to the smallest size: linear work gives ratios near 1 (a rising ratio
means superlinear work). The baseline, measured in the same run, is the edge-punctuation
regex the filters used before (``^[\\W_]+|[\\W_]+$``) on the first family, up to
``--baseline-max`` characters (it is quadratic: 1 MB would take hours).
"""
from __future__ import annotations

import argparse
import re
import time
from typing import Callable, Dict, List

from glmprep.core.clean import clean_text
from glmprep.core.filters import FilterOptions, QualityFilter
from glmprep.core.shingles import shingle_hashes
from glmprep.core.tokenizer import GLMTokenizer


def repeat_to(unit: str, size: int, prefix: str = "", suffix: str = "") -> str:
    """``prefix + unit * k + suffix`` of about ``size`` characters."""
    return prefix + unit * max(1, (size - len(prefix) - len(suffix)) // len(unit)) + suffix


# family -> size in characters -> document
FAMILIES: Dict[str, Callable[[int], str]] = {
    "edge punctuation, İ (word by word)": lambda n: repeat_to("!", n, "İ word " * 60 + "a", "a!"),
    "edge punctuation (NumPy view)": lambda n: repeat_to("!", n, "plain word " * 60 + "a", "a!"),
    "punctuation glued to CJK": lambda n: repeat_to("，!_", n, "中文 " * 60 + "中", "a中"),
    "many short punctuated words": lambda n: repeat_to("a!!! !!!a ", n, "İ "),
    "unterminated CSI escape": lambda n: repeat_to("0", n, "text " * 60 + "\x1b[", "\x01"),
    "escape then spaces": lambda n: repeat_to(" ", n, "text " * 60 + "\x1b", "\x01"),
    "blank-line look-alikes": lambda n: repeat_to("\n \t", n, "text " * 60),
    "one giant word": lambda n: repeat_to("ab", n, "text " * 60),
    "many tiny lines": lambda n: repeat_to("- a\n", n),
}
_OLD_EDGE_PUNCTUATION = re.compile(r"^[\W_]+|[\W_]+$")


def pipeline_steps(text: str) -> None:
    cleaned = clean_text(text).text or text
    QualityFilter().check(cleaned)
    QualityFilter(FilterOptions(ratio_rules_min_words=None)).check(cleaned)
    shingle_hashes(cleaned, 5)


def old_edge_strip(text: str) -> None:
    for word in text.split():
        _OLD_EDGE_PUNCTUATION.sub("", word.lower())


def best_cpu_seconds(run: Callable[[], None], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return best


def report(name: str, sizes: List[int], make: Callable[[int], str], step: Callable[[str], None],
           repeats: int) -> float:
    """Print µs per character at each size and the ratio to the first; return the last ratio."""
    per_char = []
    for size in sizes:
        text = make(size)
        try:
            seconds = best_cpu_seconds(lambda: step(text), repeats)
        except BaseException as exc:  # tiktoken's Rust panics are BaseExceptions
            if isinstance(exc, KeyboardInterrupt):
                raise
            print(f"  {name:38s} {size // 1000:>5} KB FAILED: {type(exc).__name__}: {str(exc)[:80]}")
            break
        per_char.append(seconds / len(text))
    if not per_char:
        return float("nan")
    cells = "  ".join(f"{s // 1000:>5} KB {1e6 * t:8.3f} µs/char ({t / per_char[0]:5.2f}x)"
                      for s, t in zip(sizes, per_char))
    print(f"  {name:38s} {cells}")
    return per_char[-1] / per_char[0]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000",
                        help="document sizes in characters, comma-separated (default: 10 KB, 100 KB, 1 MB)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds per measurement; the best counts")
    parser.add_argument("--baseline-max", type=int, default=40_000,
                        help="largest size the old quadratic regex is timed at (default: 40000)")
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))

    print("baseline: the old edge-punctuation regex, family 1")
    baseline_sizes = [s for s in (sizes[0], 2 * sizes[0], 4 * sizes[0]) if s <= args.baseline_max]
    report("^[\\W_]+|[\\W_]+$ per word", baseline_sizes, FAMILIES["edge punctuation, İ (word by word)"],
           old_edge_strip, args.repeats)
    print("clean_text + QualityFilter.check (defaults and all ratio rules) + shingle_hashes")
    worst = max(report(name, sizes, make, pipeline_steps, args.repeats) for name, make in FAMILIES.items())
    print(f"largest ratio of time per character, {sizes[-1] // 1000} KB vs {sizes[0] // 1000} KB: {worst:.2f}x")
    print("tokenizer (GLMTokenizer.encode, one thread)")
    tokenizer = GLMTokenizer()
    for name, make in (("one giant word", FAMILIES["one giant word"]),
                       ("ideographs", lambda n: "中" * n), ("spaces", lambda n: "a" + " " * n + "a")):
        report(name, sizes, make, tokenizer.encode, args.repeats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
