"""Scores and the report of ``bot bench recognition``: single-shot readings, call outcomes,
misses by cause, the printed table and the picture."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dialogs.config import DialogSettings
from dialogs.ordering import heard_unsurely
from nlu.types import Parse

# How one article phrase was read (best first):
#   exact      the digits heard are the article (taken at once, the product named)
#   regrouped  the digits heard, regrouped or respelled, are the article (asked: «Верно?»)
#   alternative the recognizer's runner-up reads as the article (asked)
#   near       the article is offered for digits one edit away (asked)
#   wrong_exact another catalog article heard exactly (taken at once: only the caller's
#              «нет» to the product named stops it)
#   wrong_near another article offered (asked)
#   none       nothing offered (asked again)
ARTICLE_READINGS = (
    "exact",
    "regrouped",
    "alternative",
    "near",
    "wrong_exact",
    "wrong_near",
    "none",
)
_LOOP = re.compile(r"(.{1,8}?)\1{3,}")


def score_article(parse: Parse, article: str) -> dict[str, Any]:
    entity = parse.first("article")
    if entity is None or entity.match not in ("exact", "near"):
        reading = "none"
        got = entity.value if entity is not None else ""
    elif entity.match == "exact":
        reading = "exact" if entity.value == article else "wrong_exact"
        got = entity.value
    else:
        got = entity.suggestion or ""
        if got != article:
            reading = "wrong_near"
        elif entity.edit == "alternative":
            reading = "alternative"
        elif entity.distance == 0:
            reading = "regrouped"
        else:
            reading = "near"
    return {"reading": reading, "got": got}


def score_quantity(parse: Parse, quantity: str) -> dict[str, Any]:
    """``reading``: exact, wrong or none; ``keys``: the dialog would ask for this quantity by
    keys rather than with a yes/no question (heard unsurely, see ``dialogs.ordering``)."""
    entity = parse.first("quantity")
    got = entity.value if entity is not None else ""
    reading = "exact" if got == quantity else "wrong" if got else "none"
    minimum = DialogSettings().min_quantity_confidence
    keys = entity is not None and heard_unsurely(parse, entity, minimum)
    return {"reading": reading, "got": got, "keys": keys}


def cause(row: dict[str, Any]) -> str:
    """Why a phrase was not read right, from what the recognizer wrote."""
    heard = row["heard"]
    if not heard:
        return "nothing heard"
    if _LOOP.search(heard):
        return "decoding loop (a word written again and again)"
    if not re.search(r"\d", heard) and row["reading"] == "none":
        return "no number in the words written"
    if row["kind"] == "article" and row["reading"] == "near":
        return "one digit off (offered, asked)"
    return "another number written"


def _share(rows: Sequence[dict[str, Any]], readings: Sequence[str]) -> float:
    return _fraction(rows, lambda r: r["reading"] in readings)


def _fraction(rows: Sequence[dict[str, Any]], test: Callable[[dict[str, Any]], bool]) -> float:
    return round(sum(test(r) for r in rows) / len(rows), 3) if rows else 0.0


def _article_figures(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    counts = Counter(r["reading"] for r in rows)
    return {
        "phrases": len(rows),
        "exact": _share(rows, ["exact"]),
        "read_right": _share(rows, ["exact", "regrouped", "alternative"]),
        "offered_right": _share(rows, ["exact", "regrouped", "alternative", "near"]),
        "wrong_exact": counts["wrong_exact"],
        "readings": {k: counts[k] for k in ARTICLE_READINGS if counts[k]},
    }


def summary(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    articles = [r for r in rows if r["kind"] == "article"]
    quantities = [r for r in rows if r["kind"] == "quantity"]
    styles = sorted({r["style"] for r in articles}, key=["whole", "pairs", "digits", "zeros"].index)
    misses = [
        {**r, "cause": cause(r)}
        for r in rows
        if r["reading"] not in ("exact", "regrouped", "alternative")
    ]
    return {
        "articles": _article_figures(articles),
        "by_style": {s: _article_figures([r for r in articles if r["style"] == s]) for s in styles},
        "quantities": {
            "phrases": len(quantities),
            "exact": _share(quantities, ["exact"]),
            "wrong": _share(quantities, ["wrong"]),
            # read wrong and surely: put to a yes/no question, not asked for by keys
            "wrong_sure": _fraction(
                quantities, lambda r: r["reading"] == "wrong" and not r.get("keys")
            ),
            "asked_by_keys": _fraction(quantities, lambda r: bool(r.get("keys"))),
        },
        "misses_by_cause": dict(Counter(m["cause"] for m in misses).most_common()),
        "misses": misses,
    }


def calls_summary(calls: Sequence[dict[str, Any]]) -> dict[str, Any]:
    def figures(group: Sequence[dict[str, Any]]) -> dict[str, Any]:
        n = len(group)
        outcomes = Counter(c["outcome"] for c in group)
        return {
            "calls": n,
            "intended": outcomes["intended"],
            "handoff": outcomes["handoff"],
            "other": outcomes["other"],
            "intended_or_handoff": round((outcomes["intended"] + outcomes["handoff"]) / n, 3)
            if n
            else 0.0,
            "wrong_items": sum(len(c["wrong_items"]) for c in group),
        }

    styles = sorted({c["style"] for c in calls}, key=["whole", "pairs", "digits", "zeros"].index)
    not_intended = [c for c in calls if c["outcome"] != "intended" or c["wrong_items"]]
    return {
        **figures(calls),
        "keypad_offered": sum(c["keypad"] for c in calls),
        "mean_turns": round(sum(c["turns"] for c in calls) / len(calls), 1) if calls else 0.0,
        "by_style": {s: figures([c for c in calls if c["style"] == s]) for s in styles},
        "handoff_reasons": dict(Counter(c["reason"] for c in calls if c["reason"]).most_common()),
        "not_intended": not_intended,
    }


# -- printed table and picture -------------------------------------------------------------


def print_table(report: dict[str, Any]) -> None:
    print(
        f"{'voice':9} {'style':8} {'articles exact':>14} {'read right':>10} {'offered':>8}"
        f" {'quantities':>10}"
    )
    for name, entry in report["sets"].items():
        single = entry["single_shot"]
        rows = [("all", single["articles"]), *single["by_style"].items()]
        for style, fig in rows:
            quantities = f"{single['quantities']['exact']:.0%}" if style == "all" else ""
            print(
                f"{name:9} {style:8} {fig['exact']:>14.0%} {fig['read_right']:>10.0%}"
                f" {fig['offered_right']:>8.0%} {quantities:>10}"
            )
        for variant, label in (("single_shot_beam", "beam"), ("single_shot_nbest", "n-best")):
            other = entry.get(variant)
            if other:
                print(
                    f"{name:9} {label:8} {other['articles']['exact']:>14.0%}"
                    f" {other['articles']['read_right']:>10.0%}"
                    f" {other['articles']['offered_right']:>8.0%}"
                    f" {other['quantities']['exact']:>10.0%}"
                )
        for kind, calls in entry["calls"].items():
            print(
                f"{name:9} calls, {kind}: {calls['intended']}/{calls['calls']} intended,"
                f" {calls['handoff']} handed off, {calls['other']} other"
                f" ({calls['intended_or_handoff']:.0%} intended or handoff),"
                f" wrong items {calls['wrong_items']}"
            )


def plot(report: dict[str, Any], path: Path) -> None:
    from bot.tools.plots import plt

    sets = list(report["sets"])
    fig, axes = plt.subplots(1, 2, figsize=(14, 5))
    ax = axes[0]
    labels: list[str] = []
    bars: dict[str, list[float]] = {"exact": [], "read right": [], "read right, n-best": []}
    for name in sets:
        entry = report["sets"][name]
        single, nbest = entry["single_shot"], entry.get("single_shot_nbest")
        for style, figures in single["by_style"].items():
            labels.append(f"{name}\n{style}")
            bars["exact"].append(figures["exact"])
            bars["read right"].append(figures["read_right"])
            bars["read right, n-best"].append(
                nbest["by_style"][style]["read_right"] if nbest else 0.0
            )
        labels.append(f"{name}\nquantity")
        bars["exact"].append(single["quantities"]["exact"])
        bars["read right"].append(single["quantities"]["exact"])
        bars["read right, n-best"].append(nbest["quantities"]["exact"] if nbest else 0.0)
    width = 0.27
    for i, (label, values) in enumerate(bars.items()):
        ax.bar([x + (i - 1) * width for x in range(len(labels))], values, width, label=label)
    ax.axhline(0.9, color="red", linestyle="--", linewidth=1, label="target: articles 90 %")
    ax.axhline(0.95, color="purple", linestyle=":", linewidth=1, label="target: quantities 95 %")
    ax.set_xticks(range(len(labels)), labels, fontsize=7)
    ax.set_ylim(0, 1.1)
    ax.set_title("single shot: 8 kHz ➜ Whisper with the dialog's hint ➜ NLU", fontsize=10)
    ax.legend(fontsize=7, loc="lower left")
    ax = axes[1]
    groups: list[str] = []
    parts: dict[str, list[int]] = {"intended": [], "handoff": [], "other": []}
    wrong: list[int] = []
    for name in sets:
        for kind, calls in report["sets"][name]["calls"].items():
            groups.append(f"{name}\n{kind}")
            for key in parts:
                parts[key].append(calls[key])
            wrong.append(calls["wrong_items"])
    bottom = [0] * len(groups)
    colours = {"intended": "tab:green", "handoff": "tab:orange", "other": "tab:grey"}
    for key, counts in parts.items():
        ax.bar(range(len(groups)), counts, bottom=bottom, label=key, color=colours[key])
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    for x, (top, w) in enumerate(zip(bottom, wrong, strict=True)):
        colour = "red" if w else "black"
        ax.text(x, top + 0.5, f"wrong items: {w}", ha="center", fontsize=8, color=colour)
    ax.set_ylim(0, max(bottom, default=1) * 1.15)
    ax.set_xticks(range(len(groups)), groups, fontsize=8)
    ax.set_title("simulated calls through the voice session", fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
