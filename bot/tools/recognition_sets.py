"""The test sets of ``bot bench recognition``: articles and quantities as callers say them.

Every article is said in one *style*:

- ``whole``: one cardinal, «сто сорок два» (142), «тысяча сорок пять» (1045);
- ``pairs``: two-digit groups, «двенадцать сорок пять» (1245), «двадцать пять тридцать
  восемнадцать» (253018);
- ``digits``: digit by digit, «семь семь один пять» (7715);
- ``zeros``: with leading zeros, «ноль ноль семь» (007), «ноль сорок пять» (045).

The human voice (:mod:`bot.tools.human_voice`) can say a number whole only up to 199 and
from 1000 to 1199 (no «двести» … «девятьсот» among the recordings), so ``whole`` articles
are 100–199 and 1000–1199; everything longer is said in pairs or digits. Half the articles
start with «номер» (the recordings hold it; the NLU takes it as «артикул»). Quantities are
bare numbers 1–199 (the recordings have no «штук»).

The sets are drawn from a seeded generator: the same seed gives the same articles, words
and (for the human voice) the same gaps. :func:`bench_catalog` makes the demo catalog of a
set: each article and one near neighbour (one digit changed, dropped, added or two
swapped), with distinct product names.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.tools.human_voice import UNITS, number_words

STYLES = ("whole", "pairs", "digits", "zeros")
ARTICLE_PREFIX = "номер"

Groups = tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class Spoken:
    """What the caller says: words in groups (a PBX leaves a longer gap between groups)."""

    groups: Groups

    @property
    def text(self) -> str:
        return " ".join(w for g in self.groups for w in g)

    @property
    def festival_text(self) -> str:
        """For the synthetic voice: groups apart with commas (Festival pauses there)."""
        return ", ".join(" ".join(g) for g in self.groups)


@dataclass(frozen=True, slots=True)
class Item:
    """One phrase of a set: the value meant (an article's digits or a quantity)."""

    kind: str  # "article" | "quantity"
    style: str  # an article style, or "quantity"
    value: str
    spoken: Spoken


@dataclass(frozen=True, slots=True)
class Product:
    article: str
    name: str


def say_article(article: str, style: str, *, prefix: bool) -> Spoken:
    """The words of ``article`` in ``style`` (``ValueError`` if that style cannot say it)."""
    groups: list[tuple[str, ...]] = [(ARTICLE_PREFIX,)] if prefix else []
    if style == "whole":
        if article.startswith("0"):
            raise ValueError(f"{article}: a leading zero is not said whole")
        groups.append(tuple(number_words(int(article))))
    elif style == "pairs":
        if len(article) % 2 or article.startswith("0"):
            raise ValueError(f"{article}: not in pairs")
        for i in range(0, len(article), 2):
            pair = article[i : i + 2]
            if pair.startswith("0"):
                raise ValueError(f"{article}: a pair starts with 0")
            groups.append(tuple(number_words(int(pair))))
    elif style == "digits":
        groups += [(UNITS[int(d)],) for d in article]
    elif style == "zeros":
        zeros = len(article) - len(article.lstrip("0"))
        rest = article[zeros:]
        if not zeros or not rest:
            raise ValueError(f"{article}: no leading zero")
        groups += [("ноль",)] * zeros
        if len(rest) == 2 and not rest.startswith("0"):
            groups.append(tuple(number_words(int(rest))))  # «ноль сорок пять»
        else:
            groups += [(UNITS[int(d)],) for d in rest]
    else:
        raise ValueError(f"unknown style {style!r}")
    return Spoken(tuple(groups))


def say_quantity(quantity: int, rng: random.Random) -> Spoken:
    feminine = quantity in (1, 2) and rng.random() < 0.5  # «одна», «две» as well as «один, два»
    return Spoken((tuple(number_words(quantity, feminine=feminine)),))


def _draw_article(style: str, rng: random.Random) -> str:
    if style == "whole":
        if rng.random() < 0.6:
            return str(rng.randint(101, 199))
        return str(rng.randint(1001, 1199))
    if style == "pairs":
        pairs = 3 if rng.random() < 0.2 else 2
        return "".join(str(rng.randint(10, 99)) for _ in range(pairs))
    if style == "digits":
        length = rng.choice((3, 4, 4, 5, 5, 6))
        return str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(length - 1))
    zeros = rng.choice((1, 1, 2))
    if rng.random() < 0.4:
        return "0" * zeros + str(rng.randint(10, 99))
    return "0" * zeros + "".join(str(rng.randint(1, 9)) for _ in range(rng.choice((1, 2, 3))))


def draw_articles(per_style: int, seed: int = 16) -> list[tuple[str, str]]:
    """``per_style`` distinct articles of every style: ``(article, style)``, styles in turn."""
    rng = random.Random(seed)
    taken: set[str] = set()
    by_style: dict[str, list[str]] = {s: [] for s in STYLES}
    for style in STYLES:
        while len(by_style[style]) < per_style:
            article = _draw_article(style, rng)
            if article in taken or any(_one_edit(article, a) for a in taken):
                continue  # articles of a set are never each other's neighbours
            taken.add(article)
            by_style[style].append(article)
    return [(by_style[s][i], s) for i in range(per_style) for s in STYLES]


def draw_quantities(count: int, seed: int = 61) -> list[int]:
    """Quantities as people order them: mostly 1–10, then teens, tens, a few over 100."""
    rng = random.Random(seed)
    pool = (
        list(range(1, 11)) * 3
        + list(range(11, 20))
        + [20, 30, 40, 50, 60, 70, 80, 90]
        + [rng.randint(21, 99) for _ in range(10)]
        + [100, 120, 150, rng.randint(101, 199)]
    )
    rng.shuffle(pool)
    result: list[int] = []
    for q in pool:
        if len(result) == count:
            break
        result.append(q)
    while len(result) < count:
        result.append(rng.randint(1, 199))
    return result


def article_items(articles: Iterable[tuple[str, str]], seed: int = 5) -> list[Item]:
    rng = random.Random(seed)
    return [
        Item("article", style, article, say_article(article, style, prefix=rng.random() < 0.5))
        for article, style in articles
    ]


def quantity_items(quantities: Iterable[int], seed: int = 7) -> list[Item]:
    rng = random.Random(seed)
    return [Item("quantity", "quantity", str(q), say_quantity(q, rng)) for q in quantities]


# -- the demo catalog of a set ----------------------------------------------------------

NOUNS = (
    "ведро",
    "швабра",
    "щётка",
    "губка",
    "тряпка",
    "совок",
    "таз",
    "ковш",
    "кружка",
    "тарелка",
    "миска",
    "ложка",
    "вилка",
    "нож",
    "сковорода",
    "кастрюля",
    "чайник",
    "термос",
    "фонарь",
    "лампа",
    "розетка",
    "удлинитель",
    "батарейка",
    "отвёртка",
    "молоток",
    "рулетка",
    "лопата",
    "грабли",
    "шланг",
    "лейка",
)
DETAILS = (
    "для дачи",
    "для кухни",
    "для ванной",
    "для гаража",
    "для офиса",
    "из стали",
    "из пластика",
    "из дерева",
    "с ручкой",
    "с крышкой",
)


def neighbour(article: str, rng: random.Random, avoid: set[str]) -> str:
    """One catalog article a single edit away from ``article`` (not in ``avoid``)."""
    for _ in range(200):
        kind = rng.choice(("changed", "changed", "swapped", "dropped", "added"))
        digits = list(article)
        i = rng.randrange(len(digits))
        if kind == "changed":
            digits[i] = rng.choice([d for d in "0123456789" if d != digits[i]])
        elif kind == "swapped" and len(digits) > 1:
            i = min(i, len(digits) - 2)
            if digits[i] == digits[i + 1]:
                continue
            digits[i], digits[i + 1] = digits[i + 1], digits[i]
        elif kind == "dropped" and len(digits) > 3:
            del digits[i]
        elif kind == "added":
            digits.insert(i, rng.choice("0123456789"))
        else:
            continue
        candidate = "".join(digits)
        if len(candidate) >= 3 and candidate not in avoid and candidate != article:
            return candidate
    raise ValueError(f"no neighbour for {article}")


def bench_catalog(articles: Sequence[str], seed: int = 3) -> list[Product]:
    """Each article and one near neighbour, each with its own name (the articles first)."""
    rng = random.Random(seed)
    names = [f"{noun.capitalize()} {detail}" for detail in DETAILS for noun in NOUNS]
    rng.shuffle(names)
    if len(names) < 2 * len(articles):
        raise ValueError(f"at most {len(names) // 2} articles")
    taken = set(articles)
    products = [Product(a, names[i]) for i, a in enumerate(articles)]
    for i, article in enumerate(articles):
        near = neighbour(article, rng, taken)
        taken.add(near)
        products.append(Product(near, names[len(articles) + i]))
    return products


def _one_edit(a: str, b: str) -> bool:
    from nlu.articles import single_edit

    return single_edit(a, b) is not None
