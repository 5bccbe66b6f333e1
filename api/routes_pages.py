"""Server-rendered pages (Jinja2): the household page with live power and today's chart."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from .charts import bar_chart
from .consumption import energy, local_today, zone
from .i18n import format_age, format_energy, format_power, request_lang, t
from .routes_meters import MeterId

router = APIRouter(include_in_schema=False)


def _today_context(request: Request, meter_id: str, lang: str) -> dict:
    state = request.app.state
    tz = zone(state.settings.timezone)
    now = state.clock()
    today = local_today(now, tz)
    buckets, total = energy(state.store, meter_id, today, today, "hour", tz, state.settings)
    # Hours still to come are not gaps: only past hours without data are.
    past_gaps = sum(1 for b in buckets if b.energy_wh is None and b.end_utc <= now)
    return {
        "lang": lang, "t": lambda k, **p: t(lang, k, **p), "today": today,
        "chart": bar_chart(buckets, lang, chart_id="today-chart", now_utc=now),
        "total": None if total.energy_wh is None else format_energy(total.energy_wh, lang),
        "total_wh": total.energy_wh, "past_gaps": past_gaps,
    }


@router.get("/", response_class=HTMLResponse)
def home(request: Request):
    lang = request_lang(request)
    state = request.app.state
    now = state.clock()
    meters = [
        {"meter_id": m.meter_id, "age": format_age(now - m.last_ts_utc, lang),
         "state": (m.status or {}).get("state")}
        for m in state.store.meters()]
    return state.templates.TemplateResponse(request, "meters.html", {
        "lang": lang, "t": lambda k, **p: t(lang, k, **p), "meters": meters})


@router.get("/m/{meter_id}", response_class=HTMLResponse)
def household_page(request: Request, meter_id: MeterId):
    lang = request_lang(request)
    state = request.app.state
    context = _today_context(request, meter_id, lang)
    rows = state.store.latest(meter_id)
    now = state.clock()
    live = None
    if rows:
        ts = max(r.ts_utc for r in rows)
        live = {"power": format_power(sum(r.power_w for r in rows), lang),
                "age": t(lang, "live.updated", age=format_age(now - ts, lang)),
                "stale": now - ts > state.settings.stale_after_s,
                "stale_text": t(lang, "live.stale", age=format_age(now - ts, lang)),
                "channels": [(t(lang, "live.channel", n=r.channel + 1), format_power(r.power_w, lang))
                             for r in rows]}
    q = f"?lang={lang}"
    context.update({
        "meter_id": meter_id, "live": live,
        "power_url": f"/api/v1/meters/{meter_id}/live",
        "chart_url": f"/m/{meter_id}/today{q}",
        "live_refresh_s": state.settings.live_refresh_s,
        "chart_refresh_s": state.settings.chart_refresh_s,
        "stale_after_s": state.settings.stale_after_s,
        "switch_url": f"/m/{meter_id}?lang={'en' if lang == 'fr' else 'fr'}",
    })
    return state.templates.TemplateResponse(request, "household.html", context)


@router.get("/m/{meter_id}/today", response_class=HTMLResponse)
def today_fragment(request: Request, meter_id: MeterId):
    """The chart and total of today, as an HTML fragment the page's script swaps in."""
    lang = request_lang(request)
    context = _today_context(request, meter_id, lang)
    response = request.app.state.templates.TemplateResponse(request, "today.html", context)
    response.headers["Cache-Control"] = "no-store"
    return response
