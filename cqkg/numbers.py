"""The numbers a sentence states, in base units: digits, English number words, Chinese numerals.

Number words are read by maintained libraries rather than hand-made tables: cn2an for Chinese
numerals (一百三十万, 百分之五), text2num for English words ("three million"); only the ordinals
first to tenth ("ranking second") are a list of our own. Each number followed by a scale word
(thousand, million, billion, trillion, 万, 亿, 万亿 …) is read with that scale, so
"1.3 million" states 1300000 and "1.3亿" 130000000.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from decimal import Decimal

SCALES = {
    "thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12,
    "千": 10**3, "万": 10**4, "十万": 10**5, "百万": 10**6, "千万": 10**7, "亿": 10**8, "十亿": 10**9,
    "百亿": 10**10, "千亿": 10**11, "万亿": 10**12,
}  # fmt: skip
_CJK = re.compile(r"[\u3400-\u9fff]")
SMALL_NUMBERS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth"]
# Each word pattern starts with a lookahead for the words' first letters: Python's regex engine
# then skips most positions at once instead of trying every alternative there (4x faster on quotes).
_ORDINAL = re.compile(rf"(?=[{''.join(sorted({w[0] for w in ORDINALS}))}])\b({'|'.join(ORDINALS)})\b", re.IGNORECASE)


def states(text: str, value: Decimal) -> bool:
    """Does `text` state `value` (or, for a decrease written as a positive number, its size)? The
    lenient reading a value check needs: small words and ordinals count ("ranking second" states 2).

    >>> [states("1.3 million vehicles, up 5.6%, ranking second; 3万 units", Decimal(v)) for v in (1300000, 2, 30000, 7)]
    [True, True, True, False]
    """
    return bool(forms_of(text, value))


def forms_of(text: str, value: Decimal) -> list[Found]:
    """The places where `text` states `value` (or, for a decrease, its size), in text order.

    >>> [(f.surface, f.scale) for f in forms_of("from 953,000 to 1.3 million", Decimal(1300000))]
    [('1.3 million', 'million')]
    """
    return matching(found_numbers(text, small_words=True), value)


def matching(found: list[Found], value: Decimal) -> list[Found]:
    """The numbers among `found` that are `value` (or, for a decrease, its size)."""
    size = abs(value)
    return [f for f in found if abs(f.value - size) <= size * Decimal("1e-9")]


def multiplier(scale: str) -> int:
    """The power of ten of a scale word: million 6, 亿 8, 万亿 12."""
    return len(str(SCALES[scale])) - 1


@dataclass(frozen=True)
class Found:
    """A number as it stands in a text: where, how it is written, its value in base units."""

    surface: str
    value: Decimal
    start: int
    end: int
    scale: str | None = None
    percent: bool = False


_DIGITS = re.compile(
    r"(?<![\d.,])(\d+(?:,\d{3})*(?:\.\d+)?)"
    r"((?:\s*|-)(?:万亿|千亿|百亿|十亿|千万|百万|十万|亿|万|千|(?:thousand|million|billion|trillion)s?\b))?"
    r"(\s*(?:%|per ?cent\b|percent\b))?",
    re.IGNORECASE,
)
_WORDS = re.compile(
    r"(?=[befhmnost])\b(?:(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
    r"seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundreds?|thousands?|millions?|"
    r"billions?|trillions?)(?:[\s-]+(?:and[\s-]+)?)?)+\b",
    re.IGNORECASE,
)
_CN = "零〇一二两三四五六七八九十百千万亿"
_CHINESE = re.compile(rf"(百分之)([{_CN}点]+)|([{_CN}]{{2,}}|[一二两三四五六七八九十](?=[个家项辆亿万]))")


def found_numbers(text: str, small_words: bool = False) -> list[Found]:
    """The numbers of `text` with their positions, in text order: digits (with scale words and
    percent signs), English number words and Chinese numerals; with `small_words`, also the words
    one to nine and the ordinals first to tenth.

    >>> [(f.surface, f.value) for f in found_numbers("up 5.6% to 1.3 million, three million more")]
    [('5.6%', Decimal('5.6')), ('1.3 million', Decimal('1300000.0')), ('three million', Decimal('3000000'))]
    """
    out: list[Found] = []
    taken: list[tuple[int, int]] = []
    for m in _DIGITS.finditer(text):
        n = Decimal(m.group(1).replace(",", ""))
        scale = (m.group(2) or "").strip(" -").lower().rstrip("s") or None
        if scale:
            n *= SCALES[scale]
        out.append(Found(m.group(0).strip(), n, m.start(), m.start() + len(m.group(0).rstrip()), scale,
                         bool(m.group(3))))  # fmt: skip
        taken.append((m.start(), m.end()))
    for m in _WORDS.finditer(text):
        words = m.group(0).strip(" -")
        if any(a <= m.start() < b for a, b in taken):
            continue  # the scale word of a number written in digits
        big = re.search(r"hundred|thousand|million|billion|trillion|ty\b|teen|ten|eleven|twelve", words, re.I)
        if not (big or small_words):
            continue  # "one of the …" is no number worth a fact; ten and above are
        from text_to_num import text2num

        try:
            n = Decimal(text2num(words.lower(), "en"))
        except ValueError:
            try:  # "three millions", "millions of": a plural scale word reads as the scale
                n = Decimal(
                    text2num(re.sub(r"(hundred|thousand|million|billion|trillion)s\b", r"\1", words.lower()), "en")
                )
            except ValueError:
                continue
        scale = next((w for w in ("trillion", "billion", "million", "thousand") if w in words.lower()), None)
        out.append(Found(words, n, m.start(), m.start() + len(words), scale))
    if small_words:
        for m in _ORDINAL.finditer(text):
            out.append(Found(m.group(1), Decimal(ORDINALS.index(m.group(1).lower()) + 1), m.start(), m.end()))
    if _CJK.search(text):  # cn2an takes ~0.1 s to import: only for text that has Chinese in it
        import cn2an

        for m in _CHINESE.finditer(text):
            if any(a <= m.start() < b for a, b in taken):
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    n = Decimal(str(cn2an.cn2an(m.group(2) or m.group(3), "smart")))
            except (ValueError, KeyError, IndexError):
                continue
            out.append(Found(m.group(0), n, m.start(), m.end(), None, bool(m.group(1))))
    return sorted(out, key=lambda f: f.start)
