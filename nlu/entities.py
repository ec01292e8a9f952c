"""Entities of one utterance: number, article, quantity, yes_no, name.

- ``number``: every number said, value as a digit string.
- ``quantity``: a number followed by a unit word («две штуки», «5 шт», «десять упаковок»),
  a colloquial amount («пару», «десяток»), a number after «количество», or the number left
  over after a recognised article («артикул 123 две» ➜ 2).
- ``article``: a dictated digit string matched against the catalog (see
  :class:`~nlu.articles.ArticleMatcher`): the longest exact match of adjacent numbers,
  preferring those after «артикул / номер / код»; adjacent numbers are read both digit by
  digit («12 45» ➜ 1245) and as a cardinal the recognizer split («4500 12» ➜ 4512);
  otherwise the nearest article within the edit distance; no match ➜ no article.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from nlu.articles import ArticleMatch, ArticleMatcher
from nlu.morph import lemma, tokens
from nlu.names import find_name
from nlu.numbers import NumberSpan, dictation_runs, find_numbers, join_digits
from nlu.types import Entity
from nlu.yes_no import find_yes_no

DEFAULT_UNITS = frozenset(
    "штука шт штучка упаковка упак уп коробка короб пачка комплект набор единица ед позиция "
    "бутылка банка пакет рулон мешок флакон лист метр килограмм кг литр".split()
)
ARTICLE_KEYWORDS = frozenset("артикул арт номер код товар позиция".split())
CORRECTIONS = frozenset("нет не точнее вернее ой".split())
QUANTITY_KEYWORDS = frozenset("количество кол-во колво количества".split())
MAX_QUANTITY = 100_000


@dataclass(slots=True)
class EntityExtractor:
    """Finds entities; ``matcher`` is the catalog (``None``: articles are not extracted)."""

    matcher: ArticleMatcher | None = None
    units: frozenset[str] = DEFAULT_UNITS
    article_keywords: frozenset[str] = ARTICLE_KEYWORDS
    _unit_cache: dict[str, bool] = field(default_factory=dict)

    def add_units(self, words: Iterable[str]) -> None:
        self.units = self.units | {lemma(w.lower()) for w in words}

    def extract(self, text: str) -> list[Entity]:
        spans = find_numbers(text)
        words = tokens(text)
        entities = [Entity("number", s.value, s.start, s.end) for s in spans]
        quantities = [s for s in spans if self._is_quantity(s, words)]
        article, used = self._article(text, spans, quantities, words)
        if article is not None:
            entities.append(article)
        if not quantities and article is not None:
            rest = [s for s in spans if s.start >= article.end and id(s) not in used]
            between = text[article.end : rest[0].start] if rest else ""
            if rest and len(rest[0].value) <= 5 and not any(c.isalpha() for c in between):
                quantities = [rest[0]]  # «артикул 123 две», not «123, нет, 555»
        entities.extend(
            Entity("quantity", str(int(s.value)), s.start, s.end)
            for s in quantities
            if 0 < int(s.value) <= MAX_QUANTITY
        )
        for found in (find_yes_no(text), find_name(text)):
            if found is not None:
                entities.append(found)
        return sorted(entities, key=lambda e: (e.start, e.entity))

    def _is_quantity(self, span: NumberSpan, words: list[tuple[str, int, int]]) -> bool:
        if span.kind == "colloquial":
            return True
        after = next((w for w, s, _ in words if s >= span.end), None)
        before = next((w for w, _, e in reversed(words) if e <= span.start), None)
        if after is not None and self._is_unit(after):
            return True
        return before is not None and lemma(before) in QUANTITY_KEYWORDS

    def _is_unit(self, word: str) -> bool:
        known = self._unit_cache.get(word)
        if known is None:
            known = word in self.units or lemma(word) in self.units
            self._unit_cache[word] = known
        return known

    def _article(
        self,
        text: str,
        spans: list[NumberSpan],
        quantities: list[NumberSpan],
        words: list[tuple[str, int, int]],
    ) -> tuple[Entity | None, set[int]]:
        if self.matcher is None or not spans:
            return None, set()
        taken = {id(s) for s in quantities}
        # «сто двадцать три, нет, пятьсот пятьдесят пять»: what follows a «нет» corrects
        correction = max((start for w, start, _ in words if w in CORRECTIONS), default=-1)
        best: tuple[tuple[float, ...], Entity, set[int]] | None = None
        for run in dictation_runs(text, spans):
            for part in _split(run, taken):
                keyword = _after_keyword(part[0], words, self.article_keywords)
                for i, sub, digits, whole in _candidates(part):
                    found = self._match(digits, exact_only=not whole)
                    if found is None:
                        continue
                    corrects = float(sub[0].start > correction >= 0)
                    keyed = float(keyword and i == 0)
                    rank = (found.confidence, corrects, keyed, len(sub), -sub[0].start)
                    if best is None or rank > best[0]:
                        start, end = sub[0].start, sub[-1].end
                        entity = Entity("article", found.article, start, end, found.confidence)
                        best = (rank, entity, {id(s) for s in sub})
        return (best[1], best[2]) if best else (None, set())

    def _match(self, digits: str, *, exact_only: bool) -> ArticleMatch | None:
        assert self.matcher is not None
        if exact_only:
            return ArticleMatch(digits, 1.0, 0) if self.matcher.exact(digits) else None
        return self.matcher.match(digits)


def _candidates(part: list[NumberSpan]) -> Iterator[tuple[int, list[NumberSpan], str, bool]]:
    """Every stretch of adjacent numbers with each way to read it; only the whole stretch
    may be matched approximately (a part of it must match exactly)."""
    for i in range(len(part)):
        for j in range(len(part), i, -1):
            sub = part[i:j]
            for digits in _readings(sub):
                yield i, sub, digits, (i, j) == (0, len(part))


def _readings(run: list[NumberSpan]) -> list[str]:
    """Ways to read adjacent numbers as one article: digits one after another («12 45» ➜
    1245), and as one cardinal the recognizer split («4500 12» ➜ 4512, «100 23» ➜ 123)."""
    readings = [join_digits(run)]
    total = int(run[0].value)
    for span in run[1:]:
        zeros = len(str(total)) - len(str(total).rstrip("0")) if total else 0
        if span.value.startswith("0") or len(span.value) > zeros:
            return readings
        total += int(span.value)
    if len(run) > 1 and str(total) not in readings:
        readings.append(str(total))
    return readings


def _split(run: list[NumberSpan], taken: set[int]) -> list[list[NumberSpan]]:
    """Cut a dictation run at the spans already used as quantities."""
    parts: list[list[NumberSpan]] = [[]]
    for span in run:
        if id(span) in taken:
            parts.append([])
        else:
            parts[-1].append(span)
    return [p for p in parts if p]


def _after_keyword(
    span: NumberSpan, words: list[tuple[str, int, int]], keywords: frozenset[str]
) -> bool:
    before = [w for w, _, e in words if e <= span.start]
    return bool(before) and lemma(before[-1]) in keywords
