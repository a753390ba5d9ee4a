"""What counts as a CJK character: the one definition, in two named variants.

Chinese and Japanese put no spaces between words, so glmprep treats each of their
characters as a word of its own. Which characters those are depends on the job:

- ``CJK_LETTER_RANGES`` (quality filters, ``glmprep.core.filters``): ideographs and
  kana only, the characters that carry words. CJK punctuation ("。", "，") and
  full-width ASCII are punctuation or letters to the rules, as in English text: a
  "。" is not a word, and full-width Latin letters form words as ASCII ones do.
- ``CJK_SCRIPT_RANGES`` (MinHash shingles, ``glmprep.core.minhash``; language share in
  the report): every character of the CJK blocks, punctuation, radicals and full-width
  forms included. For shingles a "，" is a word like any character (what near-duplicate
  detection compares is the character sequence; changing the set would change which
  documents are near duplicates); for telling a Chinese document from an English one,
  CJK punctuation is evidence of Chinese.

Ranges are inclusive ``(first, last)`` code points. ``char_class`` turns them into the
body of a regular-expression character class.

>>> import re
>>> letter, script = re.compile(f"[{char_class(CJK_LETTER_RANGES)}]"), re.compile(f"[{char_class(CJK_SCRIPT_RANGES)}]")
>>> [bool(letter.match(c)) for c in "中か。Ａ"], [bool(script.match(c)) for c in "中か。Ａ"]
([True, True, False, False], [True, True, True, True])
"""
from __future__ import annotations

from typing import Tuple

Ranges = Tuple[Tuple[int, int], ...]

CJK_LETTER_RANGES: Ranges = (
    (0x3040, 0x30FF),    # hiragana, katakana
    (0x31F0, 0x31FF),    # katakana phonetic extensions
    (0x3400, 0x4DBF),    # CJK unified ideographs extension A
    (0x4E00, 0x9FFF),    # CJK unified ideographs
    (0xF900, 0xFAFF),    # CJK compatibility ideographs
    (0xFF66, 0xFF9F),    # half-width katakana
    (0x20000, 0x3134F),  # CJK unified ideographs extensions B-G
)

CJK_SCRIPT_RANGES: Ranges = (
    (0x2E80, 0x2FDF),    # CJK radicals, Kangxi radicals
    (0x3001, 0x303F),    # CJK symbols and punctuation (U+3000 is a space)
    (0x3040, 0x30FF),    # hiragana, katakana
    (0x3400, 0x4DBF),    # CJK unified ideographs extension A
    (0x4E00, 0x9FFF),    # CJK unified ideographs
    (0xF900, 0xFAFF),    # CJK compatibility ideographs
    (0xFE30, 0xFE4F),    # CJK compatibility forms
    (0xFF00, 0xFFEF),    # half-width and full-width forms
    (0x20000, 0x3134F),  # CJK unified ideographs extensions B-G
)


# Languages (ISO 639 codes as glmprep.core.langid gives them) written in CJK characters
# without spaces between words: Chinese (Mandarin, Wu, Cantonese) and Japanese. Where a
# document's language is known, the quality rules treat it as CJK text by this list
# rather than by its share of CJK characters (glmprep.core.filters.mean_word_length).
CJK_LANGUAGES = frozenset({"ja", "wuu", "yue", "zh"})


def char_class(ranges: Ranges) -> str:
    """The characters of ``ranges`` as the inside of a regex ``[...]`` (literal characters).

    >>> char_class(((0x4E00, 0x4E01),))
    '一-丁'
    """
    return "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in ranges)
