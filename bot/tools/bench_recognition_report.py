"""Scores and the report of ``bot bench recognition``: single-shot readings, call outcomes,
misses by cause, the printed table and the picture."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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
    entity = parse.first("quantity")
    got = entity.value if entity is not None else ""
    reading = "exact" if got == quantity else "wrong" if got else "none"
    return {"reading": reading, "got": got}


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
    return round(sum(r["reading"] in readings for r in rows) / len(rows), 3) if rows else 0.0


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
        nbest = entry.get("single_shot_nbest")
        if nbest:
            print(
                f"{name:9} {'n-best':8} {nbest['articles']['exact']:>14.0%}"
                f" {nbest['articles']['read_right']:>10.0%}"
                f" {nbest['articles']['offered_right']:>8.0%}"
                f" {nbest['quantities']['exact']:>10.0%}"
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
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    ax = axes[0]
    labels: list[str] = []
    exact: list[float] = []
    read: list[float] = []
    for name in sets:
        single = report["sets"][name]["single_shot"]
        for style, fig_ in single["by_style"].items():
            labels.append(f"{name}\n{style}")
            exact.append(fig_["exact"])
            read.append(fig_["read_right"])
        labels.append(f"{name}\nquantity")
        exact.append(single["quantities"]["exact"])
        read.append(single["quantities"]["exact"])
    xs = range(len(labels))
    ax.bar([x - 0.2 for x in xs], exact, width=0.4, label="exact")
    ax.bar([x + 0.2 for x in xs], read, width=0.4, label="read right (regrouped too)")
    ax.axhline(0.9, color="red", linestyle="--", linewidth=1, label="target 90 % (articles)")
    ax.set_xticks(list(xs), labels, fontsize=7)
    ax.set_ylim(0, 1.05)
    ax.set_title("single shot: Whisper with the dialog's hint ➜ NLU")
    ax.legend(fontsize=7)
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
    for key, values in parts.items():
        ax.bar(range(len(groups)), values, bottom=bottom, label=key, color=colours[key])
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    for x, (top, w) in enumerate(zip(bottom, wrong, strict=True)):
        ax.text(
            x,
            top + 0.5,
            f"wrong items: {w}",
            ha="center",
            fontsize=8,
            color="red" if w else "black",
        )
    ax.set_xticks(range(len(groups)), groups, fontsize=8)
    ax.set_title("simulated calls (honest caller vs always «да»)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
