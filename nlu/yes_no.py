"""Yes / no in a caller's words: «да, ага, угу, конечно» / «нет, неа, не надо»; «да нет» is a no."""

from __future__ import annotations

from nlu.morph import tokens
from nlu.types import Entity

YES_WORDS = frozenset(
    "да ага угу конечно верно именно точно правильно подтверждаю согласен согласна "
    "давайте давай ок окей хорошо ладно разумеется естественно безусловно yes".split()
)
NO_WORDS = frozenset("нет неа не-а ноу отмена отменить отмените no".split())
# Words that turn a following «yes» word into a no: «не верно», «не правильно», «не надо».
NEGATIONS = frozenset({"не", "ни"})
NEGATED_ALWAYS_NO = frozenset("надо нужно хочу стоит буду согласен согласна".split())


def find_yes_no(text: str) -> Entity | None:
    """The caller's yes/no, or ``None`` when the turn holds neither.

    Any negative wins over a positive in the same turn («да нет», «да, но не надо» ➜ no),
    because confirming an order by mistake costs more than asking once more.
    """
    words = tokens(text)
    yes: tuple[int, int] | None = None
    no: tuple[int, int] | None = None
    for i, (word, start, end) in enumerate(words):
        prev = words[i - 1][0] if i else ""
        if word in NO_WORDS:
            no = no or (start, end)
        elif prev in NEGATIONS and (word in YES_WORDS or word in NEGATED_ALWAYS_NO):
            no = no or (words[i - 1][1], end)
        elif word == "неправильно" or word == "неверно":
            no = no or (start, end)
        elif word in YES_WORDS and yes is None:
            yes = (start, end)
    if no is not None:
        return Entity("yes_no", "no", no[0], no[1])
    if yes is not None:
        return Entity("yes_no", "yes", yes[0], yes[1])
    return None
