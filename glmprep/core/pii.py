"""PII redaction (pure, no Beam): personal data in a text replaced by placeholders.

``PiiRedactor(options).redact(text)`` -> ``Redaction(text, counts)``: the text with every
match replaced by its kind's placeholder, and how many of each kind were replaced.

=============  ==============================================================  ===============
kind           what is replaced                                                placeholder
=============  ==============================================================  ===============
``email``      ``local@domain.tld`` (ASCII local part up to 64 characters)     ``<EMAIL>``
``ip``         IPv4 and IPv6 addresses that are globally routable unicast      ``<IP_ADDRESS>``
               (private, loopback, link-local, multicast and documentation
               ranges such as ``192.168.0.1``, ``127.0.0.1``, ``2001:db8::1``
               identify nobody and fill technical text: they are kept; so are
               look-alikes of versions and section numbers, see ``_ip``)
``phone``      ``+`` and a country code with 8-15 digits in all                ``<PHONE>``
               (``+44 20 7946 0958``); North American ``(415) 555-0132``;
               Chinese mobile numbers ``13800138000``, ``138-0013-8000``,
               ``+86 138 0013 8000``
``id_number``  Chinese resident identity numbers: 18 characters, a valid       ``<ID_NUMBER>``
               birth date, and the ISO 7064 MOD 11-2 check character
``card``       payment card numbers: 13-19 digits, optionally grouped by one   ``<CARD_NUMBER>``
               kind of separator, issuer prefix 2-6, Luhn checksum
=============  ==============================================================  ===============

Linear time: every pattern starts a match only where a run of its characters starts (a
lookbehind), its quantifiers are bounded or possessive, and the checks that regular
expressions cannot do (check digits, Luhn, address ranges, digit counts) run in Python
on each candidate, so hostile text (a megabyte of digits, of ``a.a.a.``, of ``1:1:1``)
costs a bounded amount of work per character. The patterns only run in windows around
the ASCII digits of a text (every kind but email holds one; an IPv6 address written
without any decimal digit is therefore not found) and around its ``@``s, so prose
costs one scan for digits and one ``find`` for ``@``; within the digits' windows, each
pattern but IPv6's runs only around what all its matches hold (``_ANCHORS``: a ``+`` and
a digit for international phones, 17 digits in a row for identity numbers, ...), and IPv6's
only in windows holding a colon. In a long text the windows are found with NumPy from the
runs of digits, with what each holds (its longest run, a dot between digits, a ``+`` before
one, its colons), and an anchor is only looked for in the windows that can hold it
(``_NEEDS``): technical text has tens of windows per page, and a regular expression called
once per window and pattern cost more than all the scanning.

Where matches overlap, the one starting first wins, then the longer one, then the kind
listed first above.
"""
from __future__ import annotations

import functools
import ipaddress
import re
import sys
from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Optional, Pattern, Tuple

import numpy as np

from glmprep.core.options import Switch, option

EMAIL, IP, PHONE, ID_NUMBER, CARD = "email", "ip", "phone", "id_number", "card"
PII_KINDS = (EMAIL, IP, PHONE, ID_NUMBER, CARD)
DEFAULT_PLACEHOLDERS = {EMAIL: "<EMAIL>", IP: "<IP_ADDRESS>", PHONE: "<PHONE>",
                        ID_NUMBER: "<ID_NUMBER>", CARD: "<CARD_NUMBER>"}

_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}+@"
    r"(?:[A-Za-z0-9-]{1,63}+\.){1,8}[A-Za-z]{2,24}+(?![A-Za-z0-9-])")
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
# Not after "name-" or "name/" (novas-3.1.1.3.tar.gz, Firefox/2.0.0.11: versions).
_IPV4 = re.compile(rf"(?<![\d.])(?<!\w[-/])(?:{_OCTET}\.){{3}}{_OCTET}(?!\d|\.\d)")
# A run of hex digits and colons holding a colon within its first five characters,
# with an optional dotted IPv4 tail; ipaddress decides whether it is an address.
_IPV6 = re.compile(r"(?<![\w:.])[0-9A-Fa-f]{0,4}+:[0-9A-Fa-f:]{1,40}+(?:(?<=:)(?:\d{1,3}\.){3}\d{1,3})?(?![\w:])")
_INTERNATIONAL_PHONE = re.compile(r"(?<![\w+])\+[1-9][\d \-.()]{6,22}+")
_NANP_PHONE = re.compile(r"(?<![\w(+-])(?:\([2-9]\d\d\) ?|[2-9]\d\d[-.])[2-9]\d\d[-.]\d{4}(?![\w-])")
_CN_MOBILE = re.compile(r"(?<![\d+.])(?:(?:\+|00)?86[ -]?)?1[3-9]\d(?:[ -]?+\d{4}){2}(?!\d|\.\d)")
_ID_NUMBER = re.compile(
    r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx](?![0-9A-Za-z])")
# Not part of a longer run of digit groups ("Ref 1733 6917 7734 7544 9264 6285"): no digit
# group just before or just after.
# Nor the digits of a decimal fraction (0.37125959708466683).
_CARD = re.compile(r"(?<![\d.-])(?<!\d[ -])[2-6]\d{3}(?:[ -]?\d){9,15}+(?![\d-]|[ -]\d|\.\d)")

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_number_valid(number: str) -> bool:
    """ISO 7064 MOD 11-2 check character of an 18-character resident identity number.

    >>> id_number_valid("11010519491231002X"), id_number_valid("110105194912310021")
    (True, False)
    """
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == number[17].upper()


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum of a string of digits.

    >>> luhn_valid("4111111111111111"), luhn_valid("4111111111111112")
    (True, False)
    """
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = ord(d) - 48
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _card(match: str) -> Optional[str]:
    separators = set(re.findall(r"[ -]", match))
    digits = match.replace(" ", "").replace("-", "")
    if len(separators) > 1 or not 13 <= len(digits) <= 19:
        return None
    groups = [len(g) for g in re.split(r"[ -]", match)]
    if len(groups) > 1 and groups[:-1] != [4] * (len(groups) - 1) and groups[:2] != [4, 6]:
        return None  # grouped as cards print: fours, or 4-6-5 (Amex) and 4-6-4 (Diners)
    if digits[0] == "2" and not "2221" <= digits[:4] <= "2720":  # Mastercard's 2-series
        return None
    if len(digits) == 18 and _ID_NUMBER.fullmatch(digits):
        return None  # laid out as an identity number (a mistyped one, as its check failed)
    return match if luhn_valid(digits) else None


def _international_phone(match: str) -> Optional[str]:
    match = match.rstrip(" -.(")
    if match.count("(") > match.count(")"):  # "+1 415 555 0132 (24/7)": the bracket is not the number's
        match = match[:match.rindex("(")].rstrip(" -.")
    elif match.count(")") > match.count("("):
        match = match.rstrip(")")
    digits = sum(c.isdigit() for c in match)
    if not 8 <= digits <= 15 or "  " in match:
        return None
    return match


SMALL_OCTET = 16
_GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")  # where every assigned global address is


def _ip(match: str) -> Optional[str]:
    """``match`` when it is a globally routable unicast address that reads as one:
    an IPv4 address with an octet of at least ``SMALL_OCTET`` (6.2.4.1 and 1.2.0.1 are
    section and version numbers far more often than hosts; the hosts written that way
    are public resolvers such as 8.8.4.4, which identify nobody), an IPv6 address in
    2000::/3 with at least two groups written out (``2::`` is reST's ``::`` after a word,
    ``DB::DB`` a Perl package)."""
    try:
        address = ipaddress.ip_address(match)
    except ValueError:
        return None
    if not address.is_global or address.is_multicast:
        return None
    if address.version == 4 and max(map(int, match.split("."))) < SMALL_OCTET:
        return None
    if address.version == 6 and (address not in _GLOBAL_UNICAST_V6
                                  or sum(1 for group in match.split(":") if group) < 2):
        return None
    return match


# kind -> [(pattern, check: match text -> the text to replace (a prefix of it) or None)]
_DETECTORS: Dict[str, List[Tuple[Pattern[str], Optional[Callable[[str], Optional[str]]]]]] = {
    EMAIL: [(_EMAIL, None)],
    IP: [(_IPV4, _ip), (_IPV6, _ip)],
    PHONE: [(_INTERNATIONAL_PHONE, _international_phone), (_NANP_PHONE, None), (_CN_MOBILE, None)],
    ID_NUMBER: [(_ID_NUMBER, lambda m: m if id_number_valid(m) else None)],
    CARD: [(_CARD, _card)],
}
# No match of the numeric kinds (all but email) reaches further than this from one of its
# own ASCII digits: the longest is an IPv6 address, 45 characters.
REACH = 46
# Runs of ASCII digits whose windows touch: at most 2 * REACH + 2 other characters apart.
_DIGIT_CLUSTER = re.compile(rf"[0-9]++(?:[^0-9]{{1,{2 * REACH + 2}}}+[0-9]++)*+")
# From this many characters on, the windows and what each holds are found with NumPy, in
# a few passes over the text's code points (below it, the per-call cost of NumPy exceeds a
# regular expression's).
NUMPY_CHARS = 4096
# Same for an email around its "@": a local part of 64, a domain of 8 labels of 63.
EMAIL_REACH = (65, 8 * 64 + 25)
# pattern -> (anchor, reach): what every string the pattern matches holds, and the longest
# such string. A pattern runs only in windows reaching that far around its anchors, which
# are searched for in the windows around digits: technical text is full of digits, and
# few of them are near, say, a "+" and a digit (the anchors are what make a match likely;
# the patterns then judge). IPv6 has no anchor rarer than the digits themselves: it runs in
# the windows that hold a colon.
_ANCHORS: Dict[Pattern[str], Tuple[Pattern[str], int]] = {
    _IPV4: (re.compile(r"\d\.\d{1,3}\.\d"), 15),  # its first three octets' inner digits and dots
    _INTERNATIONAL_PHONE: (re.compile(r"\+[1-9]"), 24),
    _NANP_PHONE: (re.compile(r"[2-9]\d\d[-.]\d{4}"), 14),  # the exchange and the line number
    _CN_MOBILE: (re.compile(r"1[3-9]\d[ -]?\d{4}"), 18),
    _ID_NUMBER: (re.compile(r"\d{17}"), 18),
    _CARD: (re.compile(r"\d{4}[ -]?\d"), 34),
}
# pattern -> what a window must hold for its anchor (for IPv6: its pattern) to match there,
# as a test of the window's ``_Features``; a window failing it is not scanned. Each test is
# implied by the anchor: "\d{17}" needs a run of 17 digits, "\d\.\d{1,3}\.\d" a dot
# between two digits, and so on (features are found only in texts whose digits are all ASCII).
_NEEDS: Dict[Pattern[str], Callable[["_Features"], np.ndarray]] = {
    _IPV4: lambda f: f.dots_between > 0,
    _INTERNATIONAL_PHONE: lambda f: f.plus_digits > 0,
    _NANP_PHONE: lambda f: (f.longest_run >= 4) & (f.separators_between > 0),
    _CN_MOBILE: lambda f: f.longest_run >= 4,
    _ID_NUMBER: lambda f: f.longest_run >= 17,
    _CARD: lambda f: f.longest_run >= 4,
    _IPV6: lambda f: f.colons > 0,
}


def _regions(anchors, before: int, after: int, size: int) -> List[Tuple[int, int]]:
    """Merged ``[start - before, end + after)`` windows around ``(start, end)`` anchors, in order."""
    regions: List[List[int]] = []
    for start, end in anchors:
        lo, hi = max(0, start - before), min(size, end + after)
        if regions and lo <= regions[-1][1]:
            regions[-1][1] = hi
        else:
            regions.append([lo, hi])
    return [(lo, hi) for lo, hi in regions]


def _candidate_windows(text: str, pattern: Pattern[str], numeric: List[Tuple[int, int]],
                       features: Optional["_Features"]) -> List[Tuple[int, int]]:
    """The windows around digits where ``pattern``'s anchor (IPv6: its pattern) may match:
    those passing its ``_NEEDS`` test when the windows' features are known; else all of them,
    IPv6's only when they hold a colon."""
    if features is not None:
        return [numeric[i] for i in np.flatnonzero(_NEEDS[pattern](features)).tolist()]
    if pattern is _IPV6:
        return [(lo, hi) for lo, hi in numeric if text.find(":", lo, hi) >= 0] if ":" in text else []
    return numeric


def _anchor_regions(text: str, pattern: Pattern[str], windows: List[Tuple[int, int]]) -> List[Tuple[int, int]]:
    """Where ``pattern`` runs: ``windows`` (those around digits that may hold its anchor:
    ``_candidate_windows``) for IPv6, which has no anchor, else windows around its anchors
    there, wide enough that no match of it is cut (so the scan in each window finds what a
    scan of the whole text finds), with two characters more for lookaheads."""
    if pattern not in _ANCHORS:
        return windows
    anchor, reach = _ANCHORS[pattern]
    spans = (match.span() for lo, hi in windows for match in anchor.finditer(text, lo, hi))
    return _regions(spans, reach, reach + 2, len(text))


def _digit_windows(text: str) -> List[Tuple[int, int]]:
    """The merged windows reaching ``REACH`` before and ``REACH + 2`` after each run of
    ASCII digits, in order (one match of ``_DIGIT_CLUSTER`` is one window)."""
    size = len(text)
    return [(max(0, match.start() - REACH), min(size, match.end() + REACH + 2))
            for match in _DIGIT_CLUSTER.finditer(text)]


@dataclass(frozen=True)
class _Features:
    """What each window around digits holds (arrays, one value per window), in a text whose
    only digits are ASCII ones (so that what the anchors' ``\\d`` matches is 0-9)."""

    longest_run: np.ndarray  # digits in the window's longest run
    dots_between: np.ndarray  # "."s with a digit on either side
    separators_between: np.ndarray  # "-"s and "."s with a digit on either side
    plus_digits: np.ndarray  # "+"s followed by an ASCII 1-9
    colons: np.ndarray


@functools.lru_cache(maxsize=1)
def _other_digits() -> np.ndarray:
    """code point -> whether a regular expression's ``\\d`` matches it and it is not 0-9."""
    table = np.zeros(sys.maxunicode + 1, dtype=bool)
    every = np.arange(128, sys.maxunicode + 1, dtype=np.uint32).tobytes().decode("utf-32-le", "surrogatepass")
    table[[128 + match.start() for match in re.finditer(r"\d", every)]] = True
    return table


def _windows_and_features(text: str) -> Tuple[List[Tuple[int, int]], Optional[_Features]]:
    """``_digit_windows(text)`` and, for a text of ``NUMPY_CHARS`` or more whose digits are
    all ASCII, their features (None otherwise: every window is scanned for every anchor).

    Found from the runs of digits: a window is the runs that open it up to the next that
    opens one; a "." or "-" between two digits is a gap of one character between two runs;
    a "+" before a digit is the character before a run."""
    if len(text) < NUMPY_CHARS:
        return _digit_windows(text), None
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    size = len(codes)
    ascii_digit = (codes - 48) < 10  # unsigned: only 0-9 fall below 10
    edges = np.flatnonzero(ascii_digit[1:] != ascii_digit[:-1]) + 1
    if ascii_digit[0]:
        edges = np.append(0, edges)
    if ascii_digit[-1]:
        edges = np.append(edges, size)
    starts, ends = edges[0::2], edges[1::2]  # runs of ASCII digits, [start, end)
    if not len(starts):
        return [], None
    # a run opens a window when more than 2 * REACH + 2 characters part it from the last
    first = np.flatnonzero(starts - np.append(-3 * REACH, ends[:-1]) > 2 * REACH + 2)
    lows = np.maximum(starts[first] - REACH, 0)
    highs = np.minimum(ends[np.append(first[1:], len(starts)) - 1] + REACH + 2, size)
    windows = list(zip(lows.tolist(), highs.tolist()))
    if not text.isascii() and _other_digits()[codes].any():
        return windows, None

    gap_char = codes[np.minimum(ends, size - 1)]  # the character after each run
    one_apart = np.append(starts[1:] - ends[:-1] == 1, False)  # run i and i + 1 parted by one character
    dot_between = one_apart & (gap_char == 46)
    plus = np.zeros(len(starts), dtype=bool)  # the run starts with 1-9 after a "+"
    inner = starts > 0
    plus[inner] = (codes[starts[inner] - 1] == 43) & (codes[starts[inner]] != 48)
    colons = np.flatnonzero(codes == 58)

    def per_window(per_run: np.ndarray) -> np.ndarray:
        return np.add.reduceat(per_run.astype(np.int64), first)

    return windows, _Features(
        longest_run=np.maximum.reduceat(ends - starts, first),
        dots_between=per_window(dot_between),
        separators_between=per_window(dot_between | (one_apart & (gap_char == 45))),
        plus_digits=per_window(plus),
        colons=np.searchsorted(colons, highs) - np.searchsorted(colons, lows))


def _at_signs(text: str):
    at = text.find("@")
    while at >= 0:
        yield at, at + 1
        at = text.find("@", at + 1)


def parse_kinds(text: str) -> Tuple[str, ...]:
    """``"email,phone"`` -> ``("email", "phone")``, in ``PII_KINDS`` order."""
    kinds = {k.strip() for k in text.split(",") if k.strip()}
    unknown = kinds - set(PII_KINDS)
    if unknown:
        raise ValueError(f"unknown PII kinds {sorted(unknown)}; expected some of {', '.join(PII_KINDS)}")
    return tuple(k for k in PII_KINDS if k in kinds)


def parse_placeholders(text: str) -> Dict[str, str]:
    """``"email=[EMAIL],phone=[PHONE]"`` -> the default placeholders with those replaced.

    >>> parse_placeholders("email=[E]")["email"], parse_placeholders("")["phone"]
    ('[E]', '<PHONE>')
    """
    placeholders = dict(DEFAULT_PLACEHOLDERS)
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, sep, value = part.partition("=")
        if not sep or kind.strip() not in PII_KINDS:
            raise ValueError(f"expected KIND=TEXT with KIND one of {', '.join(PII_KINDS)}, got {part!r}")
        placeholders[kind.strip()] = value
    return placeholders


@dataclass(frozen=True)
class PiiOptions:
    """Which kinds to redact and what to put in their place."""

    SWITCHES = (Switch("--no-pii", "keep emails, IP addresses, phone, identity and card numbers as they "
                                   "are (default: replaced by placeholders)"),)

    kinds: Tuple[str, ...] = option(PII_KINDS, "kinds of PII to replace", flag="--pii-kinds",
                                    parse=parse_kinds, metavar="KINDS")
    placeholders: Mapping[str, str] = option(
        help="placeholder per kind, e.g. email=[EMAIL],phone=[PHONE]", flag="--pii-placeholders",
        parse=parse_placeholders, metavar="KIND=TEXT,...", default_factory=lambda: dict(DEFAULT_PLACEHOLDERS))

    def __post_init__(self):
        if isinstance(self.kinds, list):  # from a config file
            object.__setattr__(self, "kinds", tuple(self.kinds))
        unknown = set(self.kinds) - set(PII_KINDS)
        if unknown:
            raise ValueError(f"unknown PII kinds {sorted(unknown)}; expected some of {PII_KINDS}")


@dataclass(frozen=True)
class Redaction:
    text: str
    counts: Dict[str, int]  # kind -> replacements (kinds with none left out)


class PiiRedactor:
    """``redact(text) -> Redaction``; see the module docstring."""

    def __init__(self, options: Optional[PiiOptions] = None):
        self.options = options or PiiOptions()
        self._kinds = [k for k in PII_KINDS if k in self.options.kinds]

    def find(self, text: str) -> List[Tuple[int, int, str]]:
        """Non-overlapping ``(start, end, kind)`` of every match, in text order.

        >>> PiiRedactor().find("mail a.b@example.org or call +44 20 7946 0958.")
        [(5, 20, 'email'), (29, 45, 'phone')]
        """
        # Patterns only run in windows around what every match must hold: an ASCII digit
        # (an "@" for emails). Lookbehinds see the text before a window; each window ends a
        # few characters after the furthest a match can reach, so lookaheads see real text.
        numeric, features = _windows_and_features(text)
        if not numeric and "@" not in text:
            return []
        around_at = _regions(_at_signs(text), *EMAIL_REACH, len(text)) if "@" in text else []
        found: List[Tuple[int, int, int, str]] = []
        for rank, kind in enumerate(self._kinds):
            for pattern, check in _DETECTORS[kind]:
                regions = around_at if kind == EMAIL else _anchor_regions(
                    text, pattern, _candidate_windows(text, pattern, numeric, features))
                for lo, hi in regions:
                    for match in pattern.finditer(text, lo, hi):
                        matched = match.group() if check is None else check(match.group())
                        if matched:
                            found.append((match.start(), -(match.start() + len(matched)), rank, kind))
        found.sort()
        spans: List[Tuple[int, int, str]] = []
        for start, neg_end, _, kind in found:
            if not spans or start >= spans[-1][1]:
                spans.append((start, -neg_end, kind))
        return spans

    def redact(self, text: str) -> Redaction:
        """``text`` with each match replaced by its placeholder.

        >>> r = PiiRedactor().redact("联系 zhang.wei@example.cn 或 13800138000")
        >>> r.text, r.counts
        ('联系 <EMAIL> 或 <PHONE>', {'email': 1, 'phone': 1})
        """
        spans = self.find(text)
        if not spans:
            return Redaction(text, {})
        parts, at, counts = [], 0, {}
        for start, end, kind in spans:
            parts += (text[at:start], self.options.placeholders[kind])
            counts[kind] = counts.get(kind, 0) + 1
            at = end
        parts.append(text[at:])
        return Redaction("".join(parts), counts)
