"""Turn an utterance into sparse features for the intent model.

Features: the yes/no lexicon's verdict (:mod:`nlu.yes_no`), pymorphy3 lemmas, lemma
bigrams, character n-grams (2–4) of each word, and a ``<num>`` placeholder for every
number (digits or words), so «артикул 123» and «артикул сто двадцать три» look alike to
the model. Numbers are found by :mod:`nlu.numbers`.
"""

from __future__ import annotations

import itertools

from nlu.morph import lemma, tokens
from nlu.numbers import find_numbers
from nlu.yes_no import find_yes_no

NUM = "<num>"


def words(text: str) -> list[str]:
    """Lemmas of ``text`` with every spoken or written number replaced by ``<num>``."""
    spans = [(s.start, s.end) for s in find_numbers(text)]
    result: list[str] = []
    for word, start, end in tokens(text):
        if any(s <= start and end <= e for s, e in spans):
            if not result or result[-1] != NUM:
                result.append(NUM)
            continue
        result.append(lemma(word))
    return result


def featurize(text: str) -> list[str]:
    lemmas = words(text)
    feats = [f"w={w}" for w in lemmas]
    padded = ["<s>", *lemmas, "</s>"]
    feats.extend(f"b={a}_{b}" for a, b in itertools.pairwise(padded))
    for word in lemmas:
        if word == NUM:
            continue
        marked = f"<{word}>"
        for n in (2, 3, 4):
            feats.extend(f"c={marked[i : i + n]}" for i in range(len(marked) - n + 1))
    yes_no = find_yes_no(text)
    if yes_no is not None:
        feats.append(f"yn={yes_no.value}")
    if not lemmas:
        feats.append("w=<empty>")
    return feats
