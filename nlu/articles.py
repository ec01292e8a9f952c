"""Match a dictated digit string against the catalog's articles.

Exact first; otherwise the nearest article by edit distance over the digit string
(at most ``max_distance`` edits, only for strings of ``min_fuzzy_length`` or more digits),
with a confidence ``1 - distance / length``, halved when several articles are equally near.
Look-up uses a deletion index (SymSpell), so it stays fast for large catalogs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ArticleMatch:
    article: str
    confidence: float
    distance: int


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


def _deletions(word: str, depth: int) -> set[str]:
    result = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        result |= frontier
    return result


class ArticleMatcher:
    def __init__(
        self, articles: Iterable[str], *, max_distance: int = 1, min_fuzzy_length: int = 3
    ) -> None:
        self.articles = frozenset(a.strip() for a in articles if a and a.strip())
        self.max_distance = max_distance
        self.min_fuzzy_length = min_fuzzy_length
        self._index: dict[str, set[str]] = {}
        for article in self.articles:
            if len(article) >= self.min_fuzzy_length:
                for variant in _deletions(article, max_distance):
                    self._index.setdefault(variant, set()).add(article)

    def __len__(self) -> int:
        return len(self.articles)

    def exact(self, digits: str) -> bool:
        return digits in self.articles

    def match(self, digits: str) -> ArticleMatch | None:
        if digits in self.articles:
            return ArticleMatch(digits, 1.0, 0)
        if len(digits) < self.min_fuzzy_length or self.max_distance <= 0:
            return None
        candidates: set[str] = set()
        for variant in _deletions(digits, self.max_distance):
            candidates |= self._index.get(variant, set())
        scored = sorted(
            (d, a) for a in candidates if (d := edit_distance(digits, a)) <= self.max_distance
        )
        if not scored:
            return None
        best_distance, best = scored[0]
        ties = sum(1 for d, _ in scored if d == best_distance)
        confidence = (1.0 - best_distance / max(len(best), len(digits))) / ties
        return ArticleMatch(best, round(confidence, 3), best_distance)
