"""Server-rendered pages (Jinja2), French by default, readable on a 360 px phone.

- /h/<secret>/...: a household's pages (live, history, savings, comparison, its data),
  opened by its secret link; staff see the same pages at /staff/households/<id>/...
- /staff: meters with their status and households, for the association's staff;
- /m/<meter>: a meter's page, open only in demo/lab mode (see routes_meters.open_mode).
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import Annotated, Callable
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from citizenwatt.i18n import (
    N_,
    _,
    format_date,
    format_duration,
    format_energy,
    format_month,
    format_number,
    format_power,
    format_quantity,
)

from . import admin
from .auth import SESSION_COOKIE, SESSION_TTL_S, Principal, get_db, household_from_link, principal
from .charts import bar_chart
from .comparison import MIN_GROUP, compare
from .consumption import MAX_DATE, MIN_DATE, energy, local_today, zone
from .energy import Bucket
from .errors import ApiError
from .household_data import household_buckets, household_live, household_zone
from .i18n import request_lang
from .models import Deployment, Household, StaffToken, now_utc
from .routes_households import energy_csv_text, savings_for
from .routes_meters import MeterId, check_meter_access, open_mode
from .staff_view import meter_rows

router = APIRouter(include_in_schema=False)
Db = Annotated[Session, Depends(get_db)]
Who = Annotated[Principal, Depends(principal)]


def render(request: Request, template: str, lang: str, status: int = 200, **context) -> HTMLResponse:
    context.update(lang=lang)
    return request.app.state.templates.TemplateResponse(request, template, context,
                                                        status_code=status)


def today_context(request: Request, lang: str, buckets: list[Bucket], total_wh: float | None) -> dict:
    now = request.app.state.clock()
    past_gaps = sum(1 for b in buckets if b.energy_wh is None and b.end_utc <= now)
    return {"chart": bar_chart(buckets, lang, chart_id="today-chart", now_utc=now),
            "total": None if total_wh is None else format_energy(total_wh, lang=lang),
            "past_gaps": past_gaps}


def live_context(lang: str, now: float, stale_after_s: float, power_w, ts, channels) -> dict | None:
    """channels: (name, power_w, sub) tuples."""
    if ts is None:
        return None
    age = format_duration(now - ts, lang=lang)
    return {"power": format_power(power_w, lang=lang), "age": _("Measured {age} ago", lang=lang, age=age),
            "stale": now - ts > stale_after_s, "stale_text": _("No reading for {age}: the meter may be unplugged or out of Wi-Fi range.", lang=lang, age=age),
            "channels": [(n, format_power(p, lang=lang)) for n, p, _sub in channels]
            if len(channels) > 1 else []}


def other_lang(request: Request, lang: str) -> str:
    q = dict(request.query_params)
    q["lang"] = "en" if lang == "fr" else "fr"
    return request.url.path + "?" + "&".join(f"{k}={v}" for k, v in q.items())


# -- landing, demo meter pages ------------------------------------------------------

@router.get("/", response_class=HTMLResponse)
def home(request: Request, db: Db, who: Who):
    lang = request_lang(request)
    if not open_mode(request, db):
        if who.user is not None:
            return RedirectResponse(f"/staff?lang={lang}", status_code=303)
        return render(request, "landing.html", lang)
    now = request.app.state.clock()
    meters = [{"meter_id": m.meter_id, "age": format_duration(now - m.last_ts_utc, lang=lang),
               "state": (m.status or {}).get("state")} for m in request.app.state.store.meters()]
    return render(request, "meters.html", lang, meters=meters, switch_url=other_lang(request, lang))


def _meter_today(request: Request, meter_id: str, lang: str) -> dict:
    state = request.app.state
    tz = zone(state.settings.timezone)
    today = local_today(state.clock(), tz)
    buckets, total = energy(state.store, meter_id, today, today, "hour", tz, state.settings)
    return today_context(request, lang, buckets, total.energy_wh)


@router.get("/m/{meter_id}", response_class=HTMLResponse)
def meter_page(request: Request, meter_id: MeterId, db: Db, who: Who):
    check_meter_access(request, db, who, meter_id)
    lang = request_lang(request)
    state = request.app.state
    rows = state.store.latest(meter_id)
    now = state.clock()
    live = live_context(lang, now, state.settings.stale_after_s, sum(r.power_w for r in rows),
                        max((r.ts_utc for r in rows), default=None),
                        [(_("Clamp {n}", lang=lang, n=r.channel + 1), r.power_w, False) for r in rows])
    return render(request, "household.html", lang, **_meter_today(request, meter_id, lang),
                  title=_("My electricity use", lang=lang), subtitle=meter_id, live=live, nav=None,
                  live_url=f"/api/v1/meters/{meter_id}/live", auth="",
                  chart_url=f"/m/{meter_id}/today?lang={lang}", settings=state.settings,
                  switch_url=other_lang(request, lang))


@router.get("/m/{meter_id}/today", response_class=HTMLResponse)
def meter_today(request: Request, meter_id: MeterId, db: Db, who: Who):
    check_meter_access(request, db, who, meter_id)
    lang = request_lang(request)
    r = render(request, "today.html", lang, **_meter_today(request, meter_id, lang))
    r.headers["Cache-Control"] = "no-store"
    return r


# -- household pages ----------------------------------------------------------------

class HouseholdCtx:
    def __init__(self, hh: Household, base: str, auth: str):
        self.hh, self.base, self.auth = hh, base, auth


def by_link(request: Request, token: str, db: Db) -> HouseholdCtx:
    hh = household_from_link(db, token)
    if hh is None:
        raise ApiError(404, "bad_token", N_("This link or token is not (or no longer) valid. Ask the workshop leader for a new link."))
    return HouseholdCtx(hh, f"/h/{token}", token)


def by_staff(request: Request, household_id: int, db: Db, who: Who) -> HouseholdCtx:
    if who.user is None:
        raise ApiError(401, "auth_required", N_("You need your household's secret link, or to sign in as staff (page /staff/login)."))
    hh = db.get(Household, household_id) if 0 < household_id < 2 ** 31 else None
    if hh is None or not who.staff_can(hh.deployment_id, "viewer"):
        raise ApiError(404, "household_unknown", N_("Household {household_id} not found with these rights. Check the link or the number."), household_id=household_id)
    return HouseholdCtx(hh, f"/staff/households/{hh.id}", "")


def nav(ctx: HouseholdCtx, lang: str, current: str) -> list[tuple[str, str, bool]]:
    items = [("", "live", N_("Live")), ("/history", "history", N_("History")),
             ("/savings", "savings", N_("Savings")), ("/compare", "compare", N_("Compare")),
             ("/data", "data", N_("My data"))]
    return [(f"{ctx.base}{p}?lang={lang}", _(label, lang=lang), k == current) for p, k, label in items]


def view_live(request: Request, ctx: HouseholdCtx, db: Session):
    lang = request_lang(request)
    state = request.app.state
    hh = ctx.hh
    tz = household_zone(hh)
    now = state.clock()
    today = local_today(now, tz)
    buckets, total = household_buckets(state.store, hh, today, today, "hour")
    lv = household_live(state.store, hh, now)
    live = live_context(lang, now, state.settings.stale_after_s, lv.power_w or 0.0, lv.ts_utc,
                        [(c.label or _("Clamp {n}", lang=lang, n=c.channel + 1), c.power_w, c.sub)
                         for c in lv.channels])
    return render(request, "household.html", lang, **today_context(request, lang, buckets, total.energy_wh),
                  title=hh.name, subtitle=None, live=live, nav=nav(ctx, lang, "live"),
                  live_url=f"/api/v1/households/{hh.id}/live", auth=ctx.auth,
                  chart_url=f"{ctx.base}/today?lang={lang}", settings=state.settings,
                  switch_url=other_lang(request, lang))


def view_today(request: Request, ctx: HouseholdCtx, db: Session):
    lang = request_lang(request)
    tz = household_zone(ctx.hh)
    today = local_today(request.app.state.clock(), tz)
    buckets, total = household_buckets(request.app.state.store, ctx.hh, today, today, "hour")
    r = render(request, "today.html", lang, **today_context(request, lang, buckets, total.energy_wh))
    r.headers["Cache-Control"] = "no-store"
    return r


def _parse_day(value: str | None, default: date) -> date:
    if not value:
        return default
    try:
        d = date.fromisoformat(value)
    except ValueError:
        raise ApiError(422, "param", N_("The parameter \"{name}\" is not valid ({detail}). Fix it and try again."), name="date", detail="AAAA-MM-JJ / YYYY-MM-DD") from None
    if not MIN_DATE <= d <= MAX_DATE:
        raise ApiError(422, "date_bounds", N_("The date {value} is outside the accepted bounds ({min} to {max})."), value=d.isoformat(), min=MIN_DATE.isoformat(),
                       max=MAX_DATE.isoformat())
    return d


def view_history(request: Request, ctx: HouseholdCtx, db: Session):
    lang = request_lang(request)
    view = request.query_params.get("view", "day")
    if view not in ("day", "month", "year"):
        raise ApiError(422, "param", N_("The parameter \"{name}\" is not valid ({detail}). Fix it and try again."), name="view", detail="day | month | year")
    tz = household_zone(ctx.hh)
    today = local_today(request.app.state.clock(), tz)
    d = _parse_day(request.query_params.get("date"), today)
    if view == "day":
        start = end = d
        res, prev, nxt, fmt = "hour", d - timedelta(days=1), d + timedelta(days=1), ("%H", "%H:%M", 3)
        heading = format_date(d, lang=lang)
    elif view == "month":
        start = d.replace(day=1)
        end = start.replace(day=calendar.monthrange(d.year, d.month)[1])
        res, prev, nxt, fmt = "day", start - timedelta(days=1), end + timedelta(days=1), ("%d", "%d/%m", 5)
        heading = format_month(d, lang=lang)
    else:
        start, end = date(d.year, 1, 1), date(d.year, 12, 31)
        res, prev, nxt, fmt = "month", date(d.year - 1, 1, 1), date(d.year + 1, 1, 1), ("%m", "%m/%Y", 1)
        heading = str(d.year)
    if prev < MIN_DATE:
        prev = None
    if nxt > MAX_DATE:
        nxt = None
    buckets, total = household_buckets(request.app.state.store, ctx.hh, start, end, res)
    chart = bar_chart(buckets, lang, label_every=fmt[2], label_format=fmt[0], title_format=fmt[1],
                      chart_id="history-chart", now_utc=request.app.state.clock())
    link = lambda v, day: f"{ctx.base}/history?view={v}&date={day.isoformat()}&lang={lang}"  # noqa: E731
    rows = [(b.start_local.strftime(fmt[1]), "—" if b.energy_wh is None else format_energy(b.energy_wh, lang=lang))
            for b in buckets]
    return render(request, "history.html", lang, title=ctx.hh.name, nav=nav(ctx, lang, "history"),
                  view=view, heading=heading, chart=chart, rows=rows,
                  total=None if total.energy_wh is None else format_energy(total.energy_wh, lang=lang),
                  gaps=sum(1 for b in buckets if b.energy_wh is None and b.end_utc <= request.app.state.clock()),
                  views=[(v, link(v, d), v == view) for v in ("day", "month", "year")],
                  prev_url=link(view, prev) if prev else None, next_url=link(view, nxt) if nxt else None,
                  csv_url=f"{ctx.base}/energy.csv?resolution={res}&start={start}&end={end}",
                  switch_url=other_lang(request, lang))


def _period(request: Request, tz, days_back: int = 30,
            not_before: date | None = None) -> tuple[date, date]:
    """?start&end, by default the last `days_back` whole days, starting no earlier than
    `not_before` (savings: the day after the baseline) when that leaves at least a day."""
    today = local_today(request.app.state.clock(), tz)
    end = _parse_day(request.query_params.get("end"), today - timedelta(days=1))
    default_start = end - timedelta(days=days_back - 1)
    if not_before is not None and default_start < not_before <= end:
        default_start = not_before
    start = _parse_day(request.query_params.get("start"), default_start)
    if end < start:
        raise ApiError(422, "range_order", N_("The end date ({end}) is before the start date ({start}): swap them."), start=start.isoformat(), end=end.isoformat())
    if (end - start).days > 366:
        raise ApiError(422, "range_too_long", N_("The range spans {days} days; at resolution \"{resolution}\" at most {max_days} days are allowed. Shorten the range or pick a coarser resolution (day, week, month)."), days=(end - start).days + 1, resolution="day", max_days=367)
    return start, end


def view_savings(request: Request, ctx: HouseholdCtx, db: Session):
    lang = request_lang(request)
    hh = ctx.hh
    after_baseline = hh.baseline_end + timedelta(days=1) if hh.baseline_end else None
    start, end = _period(request, household_zone(hh), not_before=after_baseline)
    s, method = savings_for(request, db, hh, start, end, lang)
    fig = None
    if s.status == "ok":
        fig = {"kwh": format_quantity(s.saved_kwh, "kWh", 1, lang=lang),
               "pct": None if s.saved_pct is None else format_quantity(s.saved_pct, "%", 0, lang=lang),
               "eur": None if s.saved_eur is None else format_quantity(s.saved_eur, "€", 2, lang=lang),
               "co2": format_quantity(s.saved_kg_co2, "kg", 1, lang=lang),
               "positive": s.saved_kwh >= 0}
    return render(request, "savings.html", lang, title=hh.name, nav=nav(ctx, lang, "savings"),
                  period=_("From {start} to {end}", lang=lang, start=format_date(start, lang=lang), end=format_date(end, lang=lang)),
                  start=start, end=end, fig=fig, method=method, savings_status=s.status,
                  co2_source=_(hh.deployment.co2_source, lang=lang),
                  co2_factor=format_number(hh.deployment.co2_g_per_kwh, 0, lang=lang),
                  form_action=ctx.base + "/savings", switch_url=other_lang(request, lang))


def view_compare(request: Request, ctx: HouseholdCtx, db: Session):
    lang = request_lang(request)
    hh = ctx.hh
    start, end = _period(request, household_zone(hh))
    c = compare(db, request.app.state.store, hh, start, end)
    k = lambda v: None if v is None else format_quantity(v, "kWh", 1, lang=lang)  # noqa: E731
    return render(request, "compare.html", lang, title=hh.name, nav=nav(ctx, lang, "compare"),
                  period=_("From {start} to {end}", lang=lang, start=format_date(start, lang=lang), end=format_date(end, lang=lang)),
                  start=start, end=end, c=c, own=k(c.own_kwh_per_day), median=k(c.median_kwh_per_day),
                  diff=None if c.difference_pct is None else format_number(abs(c.difference_pct), 0, lang=lang),
                  min_group=MIN_GROUP, form_action=ctx.base + "/compare",
                  switch_url=other_lang(request, lang))


def view_data(request: Request, ctx: HouseholdCtx, db: Session):
    lang = request_lang(request)
    return render(request, "data.html", lang, title=ctx.hh.name, nav=nav(ctx, lang, "data"),
                  export_url=f"{ctx.base}/export.json", name=ctx.hh.name,
                  csv_url=f"{ctx.base}/energy.csv?resolution=day",
                  delete_url=f"{ctx.base}/delete?lang={lang}", can_delete=bool(ctx.auth),
                  error=None, switch_url=other_lang(request, lang))


def view_export(request: Request, ctx: HouseholdCtx, db: Session):
    from .exporting import export_household
    body = export_household(request.app.state.store, ctx.hh, request.app.state.clock())
    return Response(body, media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="citizenwatt-foyer-{ctx.hh.id}.json"'})


def view_csv(request: Request, ctx: HouseholdCtx, db: Session):
    from .consumption import check_range
    q = request.query_params
    res = q.get("resolution", "day")
    if res not in ("hour", "day", "week", "month"):
        raise ApiError(422, "param", N_("The parameter \"{name}\" is not valid ({detail}). Fix it and try again."), name="resolution", detail="hour | day | week | month")
    tz = household_zone(ctx.hh)
    today = local_today(request.app.state.clock(), tz)
    end = _parse_day(q.get("end"), today)
    start = _parse_day(q.get("start"), end - timedelta(days=30 if res != "hour" else 0))
    check_range(start, end, res, request.app.state.settings)
    buckets, _ = household_buckets(request.app.state.store, ctx.hh, start, end, res)
    return Response(energy_csv_text(buckets, tz), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="citizenwatt-{res}-{start}-{end}.csv"'})


HOUSEHOLD_VIEWS: list[tuple[str, Callable]] = [
    ("", view_live), ("/today", view_today), ("/history", view_history),
    ("/savings", view_savings), ("/compare", view_compare), ("/data", view_data),
    ("/export.json", view_export), ("/energy.csv", view_csv),
]


def _register(path: str, view: Callable) -> None:
    def link_view(request: Request, db: Db, ctx: HouseholdCtx = Depends(by_link)):
        return view(request, ctx, db)

    def staff_view(request: Request, db: Db, ctx: HouseholdCtx = Depends(by_staff)):
        return view(request, ctx, db)

    router.add_api_route("/h/{token}" + path, link_view, methods=["GET"], response_class=HTMLResponse)
    router.add_api_route("/staff/households/{household_id}" + path, staff_view, methods=["GET"],
                         response_class=HTMLResponse)


for _path, _view in HOUSEHOLD_VIEWS:
    _register(_path, _view)


async def form_fields(request: Request) -> dict[str, str]:
    body = (await request.body())[:10_000].decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


@router.post("/h/{token}/delete", response_class=HTMLResponse)
async def delete_household_page(request: Request, token: str, db: Db):
    ctx = by_link(request, token, db)
    lang = request_lang(request)
    fields = await form_fields(request)
    if fields.get("confirm", "").strip() != ctx.hh.name:
        return render(request, "data.html", lang, status=422, title=ctx.hh.name,
                      nav=nav(ctx, lang, "data"), export_url=f"{ctx.base}/export.json",
                      csv_url=f"{ctx.base}/energy.csv?resolution=day", name=ctx.hh.name,
                      delete_url=f"{ctx.base}/delete?lang={lang}", can_delete=True,
                      error=_("To confirm the deletion, type the household's name exactly: \"{name}\".", lang=lang, name=ctx.hh.name),
                      switch_url=other_lang(request, lang))
    series = admin.delete_household(db, request.app.state.store, ctx.hh)
    db.commit()
    return render(request, "deleted.html", lang, series=series)


# -- staff ----------------------------------------------------------------------------

@router.get("/staff/login", response_class=HTMLResponse)
def login_page(request: Request):
    lang = request_lang(request)
    return render(request, "login.html", lang, error=None, switch_url=other_lang(request, lang))


@router.post("/staff/login", response_class=HTMLResponse)
async def login_submit(request: Request, db: Db):
    lang = request_lang(request)
    f = await form_fields(request)
    token = admin.login(db, f.get("username", "")[:60], f.get("password", "")[:200])
    if token is None:
        return render(request, "login.html", lang, status=401, error=_("Wrong username or password. Try again, or ask an administrator to reset your account.", lang=lang),
                      switch_url=other_lang(request, lang))
    db.commit()
    r = RedirectResponse(f"/staff?lang={lang}", status_code=303)
    r.set_cookie(SESSION_COOKIE, token, max_age=SESSION_TTL_S, httponly=True, samesite="strict",
                 secure=request.app.state.settings.secure_cookies, path="/")
    return r


@router.post("/staff/logout")
def logout(request: Request, db: Db):
    from .auth import token_hash
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        tok = db.scalar(select(StaffToken).where(StaffToken.token_sha256 == token_hash(cookie)))
        if tok is not None:
            tok.revoked_utc = now_utc()
            db.commit()
    r = RedirectResponse("/staff/login", status_code=303)
    r.delete_cookie(SESSION_COOKIE, path="/")
    return r


@router.get("/staff", response_class=HTMLResponse)
def staff_page(request: Request, db: Db, who: Who):
    lang = request_lang(request)
    if who.user is None:
        return RedirectResponse(f"/staff/login?lang={lang}", status_code=303)
    u = who.user
    q = select(Deployment).order_by(Deployment.id)
    if u.deployment_id is not None:
        q = q.where(Deployment.id == u.deployment_id)
    now = request.app.state.clock()
    deps = []
    for dep in db.scalars(q):
        meters = meter_rows(db, request.app.state.store, dep, now, request.app.state.settings.stale_after_s)
        for m in meters:
            m["age"] = "—" if m["last_seen_age_s"] is None else format_duration(m["last_seen_age_s"], lang=lang)
        households = [{"id": h.id, "name": h.name, "profile": h.profile,
                       "meters": ", ".join(a.meter_id for a in h.assignments if a.valid_to is None),
                       "link": any(x.revoked_utc is None for x in h.links)}
                      for h in sorted(dep.households, key=lambda h: h.id)]
        deps.append({"dep": dep, "meters": meters, "households": households})
    return render(request, "staff.html", lang, user=u, deps=deps, switch_url=other_lang(request, lang))
