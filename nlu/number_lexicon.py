"""Number words as recognizers and people misspell them: «двадцат», «четыриста», «тисичи»,
and number words run together: «двадцатьпять», «стодвадцать», «тристапятьдесят».

:class:`NumberLexicon` maps a token that is not a number word to the number words it most
likely stands for, or to nothing:

* **merged**: the token is two or three exact number words written as one («сорокпять» ➜
  «сорок», «пять»); every piece has at least three letters.
* **misspelled**: the token is within a small edit distance (Damerau: a letter changed,
  dropped, added or two swapped) of number-word forms that all mean the same value. The
  allowed distance grows with the token's length (≤ 3 letters: none; 4–6: one; 7 and more:
  two) and by one when a neighbouring token is a number word («дви тисичи двадцить тре»).

It never turns a real word into a number: a token that the Russian dictionary knows
(pymorphy3: «сорокин», «десятков», «семён», «стой») is left alone, and so is a token written
with a capital letter in the middle of a sentence (a name). Look-ups use a deletion index
(SymSpell), so a miss costs a few dict probes; results are cached per token.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from nlu.number_table import EMPTY, HUNDRED, LOW_SLOT, MULT, TOP_SLOT

__all__ = ["NumberLexicon", "damerau_distance"]

MIN_PIECE = 3
MAX_INDEX_DISTANCE = 2


def damerau_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: changes, insertions, deletions, adjacent swaps."""
    rows = len(a) + 1
    cols = len(b) + 1
    d = [[0] * cols for _ in range(rows)]
    for i in range(rows):
        d[i][0] = i
    for j in range(cols):
        d[0][j] = j
    for i in range(1, rows):
        for j in range(1, cols):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[-1][-1]


def _deletions(word: str, depth: int) -> set[str]:
    result = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        result |= frontier
    return result


def allowed_distance(length: int, *, in_context: bool) -> int:
    """How many edits a token of ``length`` letters may be from a number word."""
    base = 0 if length <= 3 else 1 if length <= 6 else 2
    if in_context and length >= 3:
        base += 1
    return min(base, MAX_INDEX_DISTANCE)


class NumberLexicon:
    """Fixes tokens against ``forms`` (normalised word ➜ (word class, value) as in
    :mod:`nlu.number_table`; two forms with equal entries are interchangeable)."""

    def __init__(
        self,
        forms: dict[str, tuple[int, int]],
        *,
        is_real_word: Callable[[str], bool] | None = None,
    ) -> None:
        self.forms = forms
        self._index: dict[str, set[str]] = {}
        for word in forms:
            for variant in _deletions(word, MAX_INDEX_DISTANCE):
                self._index.setdefault(variant, set()).add(word)
        self._known = is_real_word or _dictionary_word
        self.fix = lru_cache(maxsize=8192)(self._fix)

    def _fix(self, token: str, in_context: bool) -> tuple[str, ...]:
        """The number words ``token`` (lower-case, ё folded) stands for; ``()`` if none."""
        if len(token) < MIN_PIECE or token in self.forms or not token.isalpha():
            return ()
        if self._known(token):
            return ()
        merged = self._split(token)
        if merged:
            return merged
        return self._nearest(token, allowed_distance(len(token), in_context=in_context))

    def _split(self, token: str) -> tuple[str, ...]:
        """Two or three exact forms that read as one number, longest first piece first."""
        for cut in range(len(token) - MIN_PIECE, MIN_PIECE - 1, -1):
            head, tail = token[:cut], token[cut:]
            if head not in self.forms:
                continue
            if tail in self.forms and self._one_number((head, tail)):
                return (head, tail)
            for cut2 in range(len(tail) - MIN_PIECE, MIN_PIECE - 1, -1):
                pieces = (head, tail[:cut2], tail[cut2:])
                if all(p in self.forms for p in pieces[1:]) and self._one_number(pieces):
                    return pieces
        return ()

    def _one_number(self, pieces: tuple[str, ...]) -> bool:
        """Whether the pieces make one well-formed number («двадцать»+«пять», not
        «пять»+«десять»: that is «пятьдесять», a misspelling of «пятьдесят»)."""
        low = EMPTY
        for i, piece in enumerate(pieces):
            cls = self.forms[piece][0]
            if cls == MULT:
                if i == 0 or self.forms[pieces[i - 1]][0] == MULT:
                    return False
                low = EMPTY
            elif cls <= HUNDRED and TOP_SLOT[cls] < low:
                low = LOW_SLOT[cls]
            else:
                return False
        return True

    def _nearest(self, token: str, distance: int) -> tuple[str, ...]:
        if distance <= 0:
            return ()
        candidates: set[str] = set()
        for variant in _deletions(token, distance):
            candidates |= self._index.get(variant, set())
        best: list[tuple[int, str]] = sorted(
            (d, w) for w in candidates if (d := damerau_distance(token, w)) <= distance
        )
        if not best:
            return ()
        nearest = [w for d, w in best if d == best[0][0]]
        if len({self.forms[w] for w in nearest}) != 1:
            return ()  # «дви» is две or два: the same 2; two different values: unclear
        return (nearest[0],)


def _dictionary_word(word: str) -> bool:
    from nlu.morph import analyzer

    return bool(analyzer().word_is_known(word))
