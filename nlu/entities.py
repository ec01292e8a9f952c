"""Entities of one utterance: number, article, quantity, fraction, yes_no, name, order_edit.

What the dialog expects (``expect``: ``"article"``, ``"quantity"``, ``"yes_no"``,
``"menu"`` or ``None``) decides how digits are read:

- ``number``: every whole number said, value as a digit string; ``fraction``: «полтора»,
  «две с половиной» (value ``"1.5"``, ``"2.5"``): not a whole quantity.
- ``article``: the digits of one dictation run (numbers said one after another), *all* of
  them: «четыре пять один два три» is 45123, never 4512 plus something. The run is the one
  after the last correction («123, нет, 555» ➜ 555), preferring one after «артикул / номер /
  код». ``value`` is what was heard; ``match`` / ``suggestion`` / ``distance`` / ``edit``
  say how it stands against the catalog (see :class:`~nlu.types.Entity`): exact; near (one
  edit by :class:`~nlu.articles.ArticleMatcher`, the run's groups read another way — «100
  42» as 142, «сто двадцать три» as 10023, a group Whisper wrote twice («12 12 28» as 1228,
  «0 0 5 9 1 0 0 5 9 1» as 00591) or as a year («1994» for «девяносто четыре») — or a
  misheard number word); or none. At the article prompt the entity is always given, and
  digits Whisper wrote with bare dots or commas are one dictation («№2.1.5.0.7» is 21507);
  at the quantity prompt only after «артикул» or «№» (the caller corrects the article);
  elsewhere after «артикул» or when it matches.
- ``quantity``: at the article prompt (and with no expectation) only a number with a unit
  word («две штуки», «5 шт», «десять упаковок»), after «количество», a colloquial amount
  («пару», «десяток»), or a number set apart from the article by a word («артикул 555 и
  две»): «артикул 123 две» is the article 1232. At the quantity and yes/no prompts the whole
  number said is the quantity: dictated digits read as one number («один два» ➜ 12,
  «100 42» ➜ 142), never only the last of them; a number Whisper wrote twice («66 66»,
  «17. 17.», «6 шесть») or after its own tens («40-48») is read once. A quantity read from
  more than one number written (joined, regrouped, an echo dropped, or the last of several
  numbers apart) has ``confidence`` ``UNSURE_QUANTITY``: the dialog asks for it by keys
  rather than with a «да» to a number the caller may never have said.
- ``order_edit``: «количество» / «изменить» (``"quantity"``) or «убрать» / «удалить»
  (``"drop"``), for the read-back's «what is wrong?».
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from nlu.articles import ArticleMatcher
from nlu.dictation import dictation_runs, join_digits
from nlu.morph import lemma, tokens
from nlu.names import find_name
from nlu.numbers import NUMBER_LOOKALIKES, NumberSpan, find_numbers
from nlu.types import Entity
from nlu.yes_no import find_yes_no

DEFAULT_UNITS = frozenset(
    "штука шт штучка упаковка упак уп коробка короб пачка комплект набор единица ед позиция "
    "бутылка банка пакет рулон мешок флакон лист метр килограмм кг литр".split()
)
ARTICLE_KEYWORDS = frozenset("артикул арт номер код товар позиция №".split()) | NUMBER_LOOKALIKES
NUMERO = re.compile("№")  # Whisper writes «номер» as the sign
CORRECTIONS = frozenset("нет не точнее вернее ой".split())
QUANTITY_KEYWORDS = frozenset("количество кол-во колво количества".split())
EDIT_QUANTITY = frozenset("количество изменить поменять исправить сменить".split())
EDIT_DROP = frozenset("убрать удалить вычеркнуть исключить убирать удалять".split())
MAX_QUANTITY = 100_000
MAX_RUN = 8  # spans of one run whose regroupings are tried
NEAR_REGROUPED = 0.9  # confidence of a suggestion that only regroups the digits heard
WHOLE_NUMBER_EXPECTS = frozenset({"quantity", "yes_no"})
UNSURE_QUANTITY = 0.5  # confidence of a quantity read from several numbers written

Words = list[tuple[str, int, int]]


@dataclass(slots=True)
class EntityExtractor:
    """Finds entities; ``matcher`` is the catalog (``None``: articles are not extracted)."""

    matcher: ArticleMatcher | None = None
    units: frozenset[str] = DEFAULT_UNITS
    article_keywords: frozenset[str] = ARTICLE_KEYWORDS
    _unit_cache: dict[str, bool] = field(default_factory=dict)

    def add_units(self, words: Iterable[str]) -> None:
        self.units = self.units | {lemma(w.lower()) for w in words}

    def extract(self, text: str, expect: str | None = None) -> list[Entity]:
        found = find_numbers(text, hundred_homophones=expect == "article")
        spans = [s for s in found if s.kind != "fraction"]
        numero = [("№", m.start(), m.end()) for m in NUMERO.finditer(text)]
        words = sorted(tokens(text) + numero, key=lambda w: w[1])
        entities = [Entity("number", s.value, s.start, s.end) for s in spans]
        entities += [Entity("fraction", s.value, s.start, s.end) for s in found if s not in spans]
        correction = max((start for w, start, _ in words if w in CORRECTIONS), default=-1)
        with_unit = [s for s in spans if self._is_quantity(s, words)]
        whole = expect in WHOLE_NUMBER_EXPECTS
        runs = [
            part
            for run in dictation_runs(text, spans, tight=expect == "article")
            for part in _split(
                run,
                with_unit,
                cut=not whole or _after_keyword(run[0], words, self.article_keywords),
            )
        ]
        live = [r for r in runs if r[0].start > correction] or runs
        digits = [r for r in live if not all(s in with_unit for s in r)]
        keyed = [r for r in digits if _after_keyword(r[0], words, self.article_keywords)]
        choices = keyed or ([] if expect == "quantity" else digits)
        article_run = choices[0] if choices else None
        article = self._article(article_run, keyed=article_run in keyed, expect=expect)
        if article is not None:
            entities.append(article)
        quantity = self._quantity(text, expect, live, with_unit, article_run)
        if quantity is not None:
            entities.append(quantity)
        for extra in (find_yes_no(text), find_name(text), find_order_edit(words)):
            if extra is not None:
                entities.append(extra)
        return sorted(entities, key=lambda e: (e.start, e.entity))

    # -- articles ------------------------------------------------------------------------

    def _article(
        self, run: list[NumberSpan] | None, *, keyed: bool, expect: str | None
    ) -> Entity | None:
        if self.matcher is None or run is None or any(s.kind == "colloquial" for s in run):
            return None
        entity = self.resolve(run)
        if expect == "article" or keyed or entity.match != "none":
            return entity
        return None

    def resolve(self, run: list[NumberSpan]) -> Entity:
        """The article heard in a dictation run, with what the catalog says of it."""
        assert self.matcher is not None
        heard = join_digits(run)
        start, end = run[0].start, run[-1].end
        fixed = any(s.fixed for s in run)
        if self.matcher.exact(heard) and not fixed:
            return Entity("article", heard, start, end, match="exact")
        if self.matcher.exact(heard):  # «стой двадцать три» read as 123
            return _near(heard, heard, start, end, "respelled", 0, NEAR_REGROUPED)
        hits = {digits: kind for digits, kind in regroupings(run) if self.matcher.exact(digits)}
        if len(hits) == 1:
            (digits, kind), *_ = hits.items()
            return _near(heard, digits, start, end, kind, 0, NEAR_REGROUPED)
        near = None if hits else self.matcher.nearest(heard)
        if near is not None:
            return _near(heard, near.article, start, end, near.edit, 1, near.confidence)
        return Entity("article", heard, start, end, confidence=0.0, match="none")

    # -- quantities ----------------------------------------------------------------------

    def _quantity(
        self,
        text: str,
        expect: str | None,
        live: list[list[NumberSpan]],
        with_unit: list[NumberSpan],
        article_run: list[NumberSpan] | None,
    ) -> Entity | None:
        if expect in WHOLE_NUMBER_EXPECTS:
            others = [r for r in live if r is not article_run or expect == "yes_no"]
            united = [r for r in others if any(s in with_unit for s in r)]
            pick = united or others
            if not pick:
                return None
            sure = len(pick) == 1 and len(pick[-1]) == 1
            return _quantity_entity(pick[-1], whole_number(pick[-1]), sure=sure)
        live_units = [s for s in with_unit if any(s in r for r in live)] or with_unit
        if live_units:
            span = live_units[-1]
            return _quantity_entity([span], int(span.value))
        if article_run is None:
            return None
        for run in live:
            gap = text[article_run[-1].end : run[0].start]
            if run[0].start > article_run[-1].end and _words_between(gap):
                # «артикул 555 и две»
                return _quantity_entity(run, whole_number(run), sure=len(run) == 1)
        return None

    def _is_quantity(self, span: NumberSpan, words: Words) -> bool:
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


def _near(
    heard: str, article: str, start: int, end: int, edit: str, distance: int, confidence: float
) -> Entity:
    return Entity(
        "article",
        heard,
        start,
        end,
        confidence,
        match="near",
        suggestion=article,
        distance=distance,
        edit=edit,
    )


def _quantity_entity(run: list[NumberSpan], value: int, *, sure: bool = True) -> Entity | None:
    if not 0 < value <= MAX_QUANTITY:
        return None
    confidence = 1.0 if sure else UNSURE_QUANTITY
    return Entity("quantity", str(value), run[0].start, run[-1].end, confidence)


def whole_number(run: list[NumberSpan]) -> int:
    """A run read as one number: its groups joined as a cardinal where they fit («100 42»
    ➜ 142, «2000 500» ➜ 2500), else its digits one after another («один два» ➜ 12). A
    number of two digits or more written again («66 66», «17 17 17») or once in digits and
    once in words («6 шесть») counts once, and so does a round ten before a number of that
    ten («40-48» ➜ 48): Whisper's echoes."""
    run = _without_echoes(run)
    total = int(run[0].value)
    for span in run[1:]:
        if not _fits(total, span.value):
            return int(join_digits(run))
        total += int(span.value)
    return total


def _without_echoes(run: list[NumberSpan]) -> list[NumberSpan]:
    kept: list[NumberSpan] = []
    for span in run:
        if (
            kept
            and span.value == kept[-1].value
            and (len(span.value) >= 2 or {span.kind, kept[-1].kind} == {"digits", "words"})
        ):
            continue  # «66 66», «6 шесть»
        if kept and _tens_echo(kept[-1].value, span.value):
            kept[-1] = span  # «40-48»
            continue
        kept.append(span)
    return kept


def _tens_echo(first: str, second: str) -> bool:
    return (
        len(first) == len(second) == 2
        and first.endswith("0")
        and first[0] == second[0]
        and first != second
    )


def _fits(total: int, digits: str) -> bool:
    zeros = len(str(total)) - len(str(total).rstrip("0")) if total else 0
    return not digits.startswith("0") and len(digits) <= zeros


def regroupings(run: list[NumberSpan]) -> Iterator[tuple[str, str]]:
    """Other readings of a run's digits: ``split`` groups joined as a cardinal («100 42» ➜
    142, «25, 30, 8» ➜ 2538) and ``merged`` cardinals taken apart («сто двадцать три» ➜
    10023 or 1203)."""
    heard = join_digits(run)
    seen = {heard}
    if len(run) > 1:
        for values, kind in _echo_readings([s.value for s in run]):
            joined = _joinings(values) if len(values) <= MAX_RUN else iter(["".join(values)])
            for digits in joined:
                if digits not in seen:
                    seen.add(digits)
                    yield digits, kind
    for i, span in enumerate(run[:MAX_RUN]):
        if span.kind != "words" or len(span.value) < 3:
            continue
        value = int(span.value)
        for power in (10, 100, 1000, 1_000_000):
            high, low = value - value % power, value % power
            if high and low:
                parts = [s.value for s in run]
                parts[i] = f"{high}{low}"
                digits = "".join(parts)
                if digits not in seen:
                    seen.add(digits)
                    yield digits, "merged"


def _echo_readings(values: list[str]) -> Iterator[tuple[list[str], str]]:
    """The groups as written (``split``), then without what Whisper wrote twice
    (``repeated``: «12 12 28», the whole dictation again) or as a year (``year``: «1994»
    for «девяносто четыре»)."""
    yield values, "split"
    half = len(values) // 2
    if len(values) % 2 == 0 and values[:half] == values[half:]:
        yield values[:half], "repeated"  # «0 0 5 9 1 0 0 5 9 1»
    collapsed = [v for i, v in enumerate(values) if not (i and len(v) >= 2 and v == values[i - 1])]
    if len(collapsed) < len(values):
        yield collapsed, "repeated"  # «12 12 28»
    years = [i for i, v in enumerate(values) if len(v) == 4 and v.startswith("19") and v[2] != "0"]
    if years and len(years) <= 3:
        yield [v[2:] if i in years else v for i, v in enumerate(values)], "year"


def _joinings(values: list[str]) -> Iterator[str]:
    """Every way to join neighbouring groups as a cardinal (where the digits fit)."""
    if len(values) == 1:
        yield values[0]
        return
    head, rest = values[0], values[1:]
    for tail in _joinings(rest):
        yield head + tail
    if _fits(int(head), values[1]):
        yield from _joinings([str(int(head) + int(values[1])), *values[2:]])


def _split(run: list[NumberSpan], taken: list[NumberSpan], *, cut: bool) -> list[list[NumberSpan]]:
    """Cut a dictation run at the spans already used as quantities (at the article prompt)."""
    if not cut:
        return [run]
    parts: list[list[NumberSpan]] = [[]]
    for span in run:
        if span in taken:
            parts.append([span])
            parts.append([])
        else:
            parts[-1].append(span)
    return [p for p in parts if p]


def _after_keyword(span: NumberSpan, words: Words, keywords: frozenset[str]) -> bool:
    before = [w for w, _, e in words if e <= span.start]
    return bool(before) and lemma(before[-1]) in keywords


def _words_between(gap: str) -> bool:
    """A word other than a correction or an article keyword stands between two numbers."""
    found = [w for w, _, _ in tokens(gap)]
    return bool(found) and not any(w in CORRECTIONS or lemma(w) in ARTICLE_KEYWORDS for w in found)


def find_order_edit(words: Words) -> Entity | None:
    """«количество», «изменить» ➜ ``quantity``; «убрать», «удалить» ➜ ``drop``."""
    for word, start, end in words:
        base = lemma(word)
        if base in EDIT_DROP:
            return Entity("order_edit", "drop", start, end)
        if base in EDIT_QUANTITY:
            return Entity("order_edit", "quantity", start, end)
    return None
