"""The comparison key of an article: what makes «A1», «А1» (Cyrillic), «a 1» one article.

Editors type articles by hand, in either keyboard layout; callers dictate them. Two spellings
are the same article when they differ only by

- letter case (``casefold``),
- Unicode compatibility forms (NFKC: full-width digits, ligatures, non-breaking spaces),
- Cyrillic letters that look like Latin ones (А/A, В/B, Е/E, К/K, М/M, Н/H, О/O, Р/P, С/C,
  Т/T, У/Y, Х/X, and the lower-case а, е, о, р, с, у, х, к, м, т, в, н, і, ј, ѕ, ԁ, ԛ, ԝ),
- white space anywhere (``"12 34"`` is ``"1234"``) and invisible format characters (zero-width
  space, soft hyphen, byte-order mark),
- the kind of dash (‐ ‑ ‒ – — ― − are ``-``).

The key is used for the catalog's duplicate check and for look-ups; the catalog still stores
and shows the article as the editor wrote it.
"""

from __future__ import annotations

import unicodedata

# after casefold every letter is lower case, so only lower-case look-alikes are needed
_LOOKALIKES = str.maketrans(
    {
        "а": "a",
        "в": "b",
        "е": "e",
        "ё": "e",
        "к": "k",
        "м": "m",
        "н": "h",
        "о": "o",
        "р": "p",
        "с": "c",
        "т": "t",
        "у": "y",
        "х": "x",
        "і": "i",
        "ї": "i",
        "ј": "j",
        "ѕ": "s",
        "ԁ": "d",
        "ԛ": "q",
        "ԝ": "w",
        "ο": "o",  # Greek omicron
        "α": "a",
        "ε": "e",
        "κ": "k",
        "ν": "v",
        "ρ": "p",
        "τ": "t",
        "υ": "y",
        "χ": "x",
        "‐": "-",
        "‑": "-",
        "‒": "-",
        "–": "-",
        "—": "-",
        "―": "-",
        "−": "-",
    }
)


def article_key(article: str) -> str:
    """The normalised comparison key of ``article`` (may be empty for blank input)."""
    text = unicodedata.normalize("NFKC", article).casefold()
    text = "".join(ch for ch in text if not ch.isspace() and unicodedata.category(ch) != "Cf")
    return text.translate(_LOOKALIKES)
