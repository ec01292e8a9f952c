"""Match heard digits against the catalog's articles.

:meth:`ArticleMatcher.exact` says whether a digit string is a catalog article;
:meth:`ArticleMatcher.nearest` finds the one catalog article a single edit away (a digit
changed, dropped, added, or two neighbours swapped), only for strings of
``min_fuzzy_length`` digits or more. When two articles are equally near by the same kind of
edit, there is no nearest one: the caller is asked again instead of being offered a guess.
Look-up uses a deletion index (SymSpell), so it stays fast for large catalogs.

A near article is a *suggestion*: the dialog names it and takes it only after a «да».
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# Which single edit is the likelier slip when two articles are equally near (a recognizer
# swaps or adds digits more often than it changes one).
EDIT_PRIORITY = {"swapped": 0, "added": 1, "dropped": 2, "changed": 3}


@dataclass(frozen=True, slots=True)
class ArticleMatch:
    article: str
    confidence: float
    distance: int
    edit: str = ""  # "" for an exact match; changed | dropped | added | swapped


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def single_edit(heard: str, article: str) -> str | None:
    """The kind of the one edit that turns ``heard`` into ``article``, or ``None``."""
    if heard == article:
        return None
    if len(article) == len(heard) + 1:
        return "dropped" if _one_deletion(article, heard) else None
    if len(heard) == len(article) + 1:
        return "added" if _one_deletion(heard, article) else None
    if len(heard) != len(article):
        return None
    diff = [i for i, (a, b) in enumerate(zip(heard, article, strict=True)) if a != b]
    if len(diff) == 1:
        return "changed"
    if len(diff) == 2 and diff[1] == diff[0] + 1:
        i = diff[0]
        if heard[i] == article[i + 1] and heard[i + 1] == article[i]:
            return "swapped"
    return None


def _one_deletion(longer: str, shorter: str) -> bool:
    return any(longer[:i] + longer[i + 1 :] == shorter for i in range(len(longer)))


def _deletions(word: str, depth: int) -> set[str]:
    result = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        result |= frontier
    return result


class ArticleMatcher:
    def __init__(self, articles: Iterable[str], *, min_fuzzy_length: int = 3) -> None:
        self.articles = frozenset(a.strip() for a in articles if a and a.strip())
        self.min_fuzzy_length = min_fuzzy_length
        self._index: dict[str, set[str]] = {}
        for article in self.articles:
            if len(article) >= self.min_fuzzy_length:
                for variant in _deletions(article, 1):
                    self._index.setdefault(variant, set()).add(article)

    def __len__(self) -> int:
        return len(self.articles)

    def exact(self, digits: str) -> bool:
        return digits in self.articles

    def nearest(self, digits: str) -> ArticleMatch | None:
        """The single catalog article one edit away from ``digits`` (not ``digits`` itself)."""
        if len(digits) < self.min_fuzzy_length:
            return None
        candidates: set[str] = set()
        for variant in _deletions(digits, 1):
            candidates |= self._index.get(variant, set())
        scored = sorted(
            (EDIT_PRIORITY[kind], article, kind)
            for article in candidates
            if (kind := single_edit(digits, article)) is not None
        )
        if not scored or (len(scored) > 1 and scored[1][0] == scored[0][0]):
            return None  # nothing near, or two articles equally near: ask again
        _, article, kind = scored[0]
        confidence = 1.0 - 1 / max(len(article), len(digits))
        return ArticleMatch(article, round(confidence, 3), 1, kind)
