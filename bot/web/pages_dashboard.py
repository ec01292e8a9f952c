"""Сводка: the supervisors' dashboard for a period (the journal's period selector).

Calls per hour (a period of up to two days) or per day by outcome, the outcomes, handoff
reasons, order conversion, the articles the bot did not understand most often (what the
editors should train next: «Фразы и интенты»), the turn gap p50/p95 per day and the
recognition confidence. The pictures are SVG drawn here (:mod:`bot.web.charts`): no
JavaScript is needed to read them.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from aiohttp import web

from bot.journal import queries
from bot.journal.figures import OUTCOMES, figures
from bot.journal.queries import PERIODS, REASONS, Filters, Scope
from bot.web import charts
from bot.web.app import Console, console
from bot.web.layout import page, render
from bot.web.pages_missed import wait_tile

OUTCOME_TITLES = {
    "order": "заказ принят",
    "transfer": "переведён на оператора",
    "hangup": "без заказа",
    "error": "ошибка",
}


@page("dashboard")
async def dashboard(request: web.Request) -> web.StreamResponse:
    state = console(request)
    filters = Filters.parse(request.query)
    filters.number = filters.result = filters.reason = ""  # the period (and route) only
    zone = queries.zone_of(state.host.settings.journal.timezone)
    now = datetime.now(zone)
    data = await figures(state.db, filters, Scope(), zone, now)
    per = "по часам" if data.hourly else "по дням"
    pictures = {
        "calls": charts.stacked_bars(
            f"Звонки {per}", data.buckets, data.by_outcome, OUTCOME_TITLES
        ),
        "outcomes": charts.hbars(
            "Чем закончились звонки",
            [(OUTCOME_TITLES[o], data.outcomes.get(o, 0)) for o in OUTCOMES],
        ),
        "reasons": charts.hbars(
            "Причины перевода", [(REASONS.get(r, r), n) for r, n in data.reasons], color="#e0a030"
        ),
        "conversion": charts.lines(
            "Доля звонков с заказом по дням",
            data.days,
            {"p50": data.conversion},
            {"p50": "заказы"},
            unit=" %",
            width=420,
            height=200,
        ),
        "gaps": charts.lines(
            "Пауза перед ответом бота по дням",
            data.days,
            {"p50": data.gap_p50, "p95": data.gap_p95},
            {"p50": "медиана", "p95": "95-й процентиль"},
            unit=" с",
            width=420,
            height=200,
        ),
        "confidence": charts.stacked_bars(
            "Уверенность распознавания",
            [f"{i / 10:.1f}" for i in range(10)],
            {"bar": data.confidence_bins},
            {"bar": "фраз"},
            height=180,
        ),
    }
    context = {
        "filters": filters,
        "periods": PERIODS,
        "data": data,
        "pictures": pictures,
        "titles": OUTCOME_TITLES,
        "outcomes": OUTCOMES,
        "journal_link": "/admin/journal?" + urlencode(filters.query()),
        "waits": await wait_tile(state.db, state.host.settings, now),
    }
    return render(request, "dashboard.html", context)


def add_routes(app: web.Application, state: Console) -> None:
    app.router.add_get("/dashboard", dashboard)
