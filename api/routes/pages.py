"""Server-rendered pages (Jinja2), French by default, readable on a 360 px phone.

- /h/<secret>/...: a household's pages (live, history, savings, comparison, its data),
  opened by its secret link; staff see the same pages at /staff/households/<id>/...
- /staff: meters with their status and households, for the association's staff;
- /m/<meter>: a meter's page, open only in demo/lab mode (see deps.open_mode).
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from citizenwatt.config import ApiSettings
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
from citizenwatt.store.port import ReadingStore

from .. import admin
from ..auth import SESSION_COOKIE, SESSION_TTL_S
from ..charts import bar_chart
from ..comparison import MIN_GROUP, compare
from ..consumption import MAX_DATE, MIN_DATE, check_range, energy, local_today, zone
from ..deps import (
    Config,
    Db,
    HouseholdPage,
    LinkHousehold,
    Now,
    ReadableMeter,
    StaffHousehold,
    Store,
    Who,
    open_mode,
)
from ..energy import Bucket
from ..errors import ApiError
from ..exporting import energy_csv_text, export_household
from ..household_data import household_buckets, household_live, household_zone
from ..household_savings import household_savings
from ..i18n import request_lang
from ..security import LOGIN_LOCKED, cookie_secure, login_failed, login_retry_after, login_succeeded, too_many
from ..staff_view import staff_overview
from ..texts import savings_method_text

router = APIRouter(include_in_schema=False)


def render(request: Request, template: str, lang: str, status: int = 200, **context) -> HTMLResponse:
    context.update(lang=lang)
    return request.app.state.templates.TemplateResponse(request, template, context,
                                                        status_code=status)


def other_lang(request: Request, lang: str) -> str:
    q = dict(request.query_params)
    q["lang"] = "en" if lang == "fr" else "fr"
    return request.url.path + "?" + "&".join(f"{k}={v}" for k, v in q.items())


@dataclass(frozen=True)
class Page:
    """What every page is given: the request and its language, the database session, and
    the app's store, settings and clock reading (one instant for the whole page)."""
    request: Request
    lang: str
    db: Session
    store: ReadingStore
    settings: ApiSettings
    now: float

    def render(self, template: str, status: int = 200, **context) -> HTMLResponse:
        return render(self.request, template, self.lang, status, **context)

    @property
    def switch_url(self) -> str:
        """The same page in the other language."""
        return other_lang(self.request, self.lang)


def page_env(request: Request, db: Db, store: Store, settings: Config, now: Now) -> Page:
    return Page(request, request_lang(request), db, store, settings, now)


PageEnv = Annotated[Page, Depends(page_env)]


def today_context(p: Page, buckets: list[Bucket], total_wh: float | None) -> dict:
    past_gaps = sum(1 for b in buckets if b.energy_wh is None and b.end_utc <= p.now)
    return {"chart": bar_chart(buckets, p.lang, chart_id="today-chart", now_utc=p.now),
            "total": None if total_wh is None else format_energy(total_wh, lang=p.lang),
            "past_gaps": past_gaps}


def live_context(lang: str, now: float, stale_after_s: float, power_w, ts, channels) -> dict | None:
    """channels: (name, power_w, sub) tuples."""
    if ts is None:
        return None
    age = format_duration(now - ts, lang=lang)
    return {
        "power": format_power(power_w, lang=lang),
        "age": _("Measured {age} ago", lang=lang, age=age),
        "stale": now - ts > stale_after_s,
        "stale_text": _(
            "No reading for {age}: the meter may be unplugged or out of Wi-Fi range.", lang=lang, age=age
        ),
        "channels": [(n, format_power(p, lang=lang)) for n, p, _sub in channels] if len(channels) > 1 else [],
    }


# -- landing, demo meter pages ------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def home(p: PageEnv, who: Who):
    lang = p.lang
    if not open_mode(p.settings, p.db):
        if who.user is not None:
            return RedirectResponse(f"/staff?lang={lang}", status_code=303)
        return p.render("landing.html")
    meters = [
        {
            "meter_id": m.meter_id,
            "age": format_duration(p.now - m.last_ts_utc, lang=lang),
            "state": (m.status or {}).get("state"),
        }
        for m in p.store.meters()
    ]
    return p.render("meters.html", meters=meters, switch_url=p.switch_url)


def _meter_today(p: Page, meter_id: str) -> dict:
    tz = zone(p.settings.timezone)
    today = local_today(p.now, tz)
    buckets, total = energy(p.store, meter_id, today, today, "hour", tz, p.settings)
    return today_context(p, buckets, total.energy_wh)


@router.get("/m/{meter_id}", response_class=HTMLResponse)
def meter_page(meter_id: ReadableMeter, p: PageEnv):
    lang = p.lang
    rows = p.store.latest(meter_id)
    live = live_context(
        lang,
        p.now,
        p.settings.stale_after_s,
        sum(r.power_w for r in rows),
        max((r.ts_utc for r in rows), default=None),
        [(_("Clamp {n}", lang=lang, n=r.channel + 1), r.power_w, False) for r in rows],
    )
    return p.render(
        "household.html",
        **_meter_today(p, meter_id),
        title=_("My electricity use", lang=lang),
        subtitle=meter_id,
        live=live,
        nav=None,
        live_url=f"/api/v1/meters/{meter_id}/live",
        auth="",
        chart_url=f"/m/{meter_id}/today?lang={lang}",
        settings=p.settings,
        switch_url=p.switch_url,
    )


@router.get("/m/{meter_id}/today", response_class=HTMLResponse)
def meter_today(meter_id: ReadableMeter, p: PageEnv):
    r = p.render("today.html", **_meter_today(p, meter_id))
    r.headers["Cache-Control"] = "no-store"
    return r


# -- household pages ----------------------------------------------------------------


def nav(ctx: HouseholdPage, lang: str, current: str) -> list[tuple[str, str, bool]]:
    items = [
        ("", "live", N_("Live")),
        ("/history", "history", N_("History")),
        ("/savings", "savings", N_("Savings")),
        ("/compare", "compare", N_("Compare")),
        ("/data", "data", N_("My data")),
    ]
    return [(f"{ctx.base}{p}?lang={lang}", _(label, lang=lang), k == current) for p, k, label in items]


def view_live(p: Page, ctx: HouseholdPage):
    lang = p.lang
    hh = ctx.hh
    today = local_today(p.now, household_zone(hh))
    buckets, total = household_buckets(p.store, hh, today, today, "hour")
    lv = household_live(p.store, hh, p.now)
    live = live_context(
        lang,
        p.now,
        p.settings.stale_after_s,
        lv.power_w or 0.0,
        lv.ts_utc,
        [(c.label or _("Clamp {n}", lang=lang, n=c.channel + 1), c.power_w, c.sub) for c in lv.channels],
    )
    return p.render(
        "household.html",
        **today_context(p, buckets, total.energy_wh),
        title=hh.name,
        subtitle=None,
        live=live,
        nav=nav(ctx, lang, "live"),
        live_url=f"/api/v1/households/{hh.id}/live",
        auth=ctx.auth,
        chart_url=f"{ctx.base}/today?lang={lang}",
        settings=p.settings,
        switch_url=p.switch_url,
    )


def view_today(p: Page, ctx: HouseholdPage):
    today = local_today(p.now, household_zone(ctx.hh))
    buckets, total = household_buckets(p.store, ctx.hh, today, today, "hour")
    r = p.render("today.html", **today_context(p, buckets, total.energy_wh))
    r.headers["Cache-Control"] = "no-store"
    return r


def _parse_day(value: str | None, default: date) -> date:
    if not value:
        return default
    try:
        d = date.fromisoformat(value)
    except ValueError:
        raise ApiError(
            422,
            "param",
            N_('The parameter "{name}" is not valid ({detail}). Fix it and try again.'),
            name="date",
            detail="AAAA-MM-JJ / YYYY-MM-DD",
        ) from None
    if not MIN_DATE <= d <= MAX_DATE:
        raise ApiError(
            422,
            "date_bounds",
            N_("The date {value} is outside the accepted bounds ({min} to {max})."),
            value=d.isoformat(),
            min=MIN_DATE.isoformat(),
            max=MAX_DATE.isoformat(),
        )
    return d


def view_history(p: Page, ctx: HouseholdPage):
    lang = p.lang
    query = p.request.query_params
    view = query.get("view", "day")
    if view not in ("day", "month", "year"):
        raise ApiError(
            422,
            "param",
            N_('The parameter "{name}" is not valid ({detail}). Fix it and try again.'),
            name="view",
            detail="day | month | year",
        )
    today = local_today(p.now, household_zone(ctx.hh))
    d = _parse_day(query.get("date"), today)
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
    buckets, total = household_buckets(p.store, ctx.hh, start, end, res)
    chart = bar_chart(
        buckets,
        lang,
        label_every=fmt[2],
        label_format=fmt[0],
        title_format=fmt[1],
        chart_id="history-chart",
        now_utc=p.now,
    )
    link = lambda v, day: f"{ctx.base}/history?view={v}&date={day.isoformat()}&lang={lang}"  # noqa: E731
    rows = [
        (
            b.start_local.strftime(fmt[1]),
            "—" if b.energy_wh is None else format_energy(b.energy_wh, lang=lang),
        )
        for b in buckets
    ]
    return p.render(
        "history.html",
        title=ctx.hh.name,
        nav=nav(ctx, lang, "history"),
        view=view,
        heading=heading,
        chart=chart,
        rows=rows,
        total=None if total.energy_wh is None else format_energy(total.energy_wh, lang=lang),
        gaps=sum(1 for b in buckets if b.energy_wh is None and b.end_utc <= p.now),
        views=[(v, link(v, d), v == view) for v in ("day", "month", "year")],
        prev_url=link(view, prev) if prev else None,
        next_url=link(view, nxt) if nxt else None,
        csv_url=f"{ctx.base}/energy.csv?resolution={res}&start={start}&end={end}",
        switch_url=p.switch_url,
    )


def _period(p: Page, tz, days_back: int = 30, not_before: date | None = None) -> tuple[date, date]:
    """?start&end, by default the last `days_back` whole days, starting no earlier than
    `not_before` (savings: the day after the baseline) when that leaves at least a day."""
    query = p.request.query_params
    today = local_today(p.now, tz)
    end = _parse_day(query.get("end"), today - timedelta(days=1))
    default_start = end - timedelta(days=days_back - 1)
    if not_before is not None and default_start < not_before <= end:
        default_start = not_before
    start = _parse_day(query.get("start"), default_start)
    if end < start:
        raise ApiError(
            422,
            "range_order",
            N_("The end date ({end}) is before the start date ({start}): swap them."),
            start=start.isoformat(),
            end=end.isoformat(),
        )
    if (end - start).days > 366:
        raise ApiError(
            422,
            "range_too_long",
            N_(
                "The range spans {days} days; at resolution "
                '"{resolution}" at most {max_days} days are allowed. '
                "Shorten the range or pick a coarser resolution (day, "
                "week, month)."
            ),
            days=(end - start).days + 1,
            resolution="day",
            max_days=367,
        )
    return start, end


def view_savings(p: Page, ctx: HouseholdPage):
    lang = p.lang
    hh = ctx.hh
    after_baseline = hh.baseline_end + timedelta(days=1) if hh.baseline_end else None
    start, end = _period(p, household_zone(hh), not_before=after_baseline)
    s = household_savings(p.db, p.store, hh, start, end, p.settings)
    fig = None
    if s.status == "ok":
        fig = {
            "kwh": format_quantity(s.saved_kwh, "kWh", 1, lang=lang),
            "pct": None if s.saved_pct is None else format_quantity(s.saved_pct, "%", 0, lang=lang),
            "eur": None if s.saved_eur is None else format_quantity(s.saved_eur, "€", 2, lang=lang),
            "co2": format_quantity(s.saved_kg_co2, "kg", 1, lang=lang),
            "positive": s.saved_kwh >= 0,
        }
    return p.render(
        "savings.html",
        title=hh.name,
        nav=nav(ctx, lang, "savings"),
        period=_(
            "From {start} to {end}",
            lang=lang,
            start=format_date(start, lang=lang),
            end=format_date(end, lang=lang),
        ),
        start=start,
        end=end,
        fig=fig,
        method=savings_method_text(s, hh, start, end, lang),
        savings_status=s.status,
        co2_source=_(hh.deployment.co2_source, lang=lang),
        co2_factor=format_number(hh.deployment.co2_g_per_kwh, 0, lang=lang),
        form_action=ctx.base + "/savings",
        switch_url=p.switch_url,
    )


def view_compare(p: Page, ctx: HouseholdPage):
    lang = p.lang
    hh = ctx.hh
    start, end = _period(p, household_zone(hh))
    c = compare(p.db, p.store, hh, start, end)
    k = lambda v: None if v is None else format_quantity(v, "kWh", 1, lang=lang)  # noqa: E731
    return p.render(
        "compare.html",
        title=hh.name,
        nav=nav(ctx, lang, "compare"),
        period=_(
            "From {start} to {end}",
            lang=lang,
            start=format_date(start, lang=lang),
            end=format_date(end, lang=lang),
        ),
        start=start,
        end=end,
        c=c,
        own=k(c.own_kwh_per_day),
        median=k(c.median_kwh_per_day),
        diff=None if c.difference_pct is None else format_number(abs(c.difference_pct), 0, lang=lang),
        min_group=MIN_GROUP,
        form_action=ctx.base + "/compare",
        switch_url=p.switch_url,
    )


def _data_page(
    p: Page, ctx: HouseholdPage, status: int = 200, error: str | None = None, can_delete: bool | None = None
):
    lang = p.lang
    return p.render(
        "data.html",
        status=status,
        title=ctx.hh.name,
        nav=nav(ctx, lang, "data"),
        export_url=f"{ctx.base}/export.json",
        name=ctx.hh.name,
        csv_url=f"{ctx.base}/energy.csv?resolution=day",
        delete_url=f"{ctx.base}/delete?lang={lang}",
        can_delete=bool(ctx.auth) if can_delete is None else can_delete,
        error=error,
        switch_url=p.switch_url,
    )


def view_data(p: Page, ctx: HouseholdPage):
    return _data_page(p, ctx)


def view_export(p: Page, ctx: HouseholdPage):
    return Response(
        export_household(p.store, ctx.hh, p.now),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="citizenwatt-foyer-{ctx.hh.id}.json"'},
    )


def view_csv(p: Page, ctx: HouseholdPage):
    q = p.request.query_params
    res = q.get("resolution", "day")
    if res not in ("hour", "day", "week", "month"):
        raise ApiError(
            422,
            "param",
            N_('The parameter "{name}" is not valid ({detail}). Fix it and try again.'),
            name="resolution",
            detail="hour | day | week | month",
        )
    tz = household_zone(ctx.hh)
    today = local_today(p.now, tz)
    end = _parse_day(q.get("end"), today)
    start = _parse_day(q.get("start"), end - timedelta(days=30 if res != "hour" else 0))
    check_range(start, end, res, p.settings)
    buckets, _totals = household_buckets(p.store, ctx.hh, start, end, res)
    return Response(
        energy_csv_text(buckets, tz),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="citizenwatt-{res}-{start}-{end}.csv"'},
    )


HOUSEHOLD_VIEWS: list[tuple[str, Callable]] = [
    ("", view_live),
    ("/today", view_today),
    ("/history", view_history),
    ("/savings", view_savings),
    ("/compare", view_compare),
    ("/data", view_data),
    ("/export.json", view_export),
    ("/energy.csv", view_csv),
]


def _register(path: str, view: Callable) -> None:
    """Each household page twice: under the household's secret link, and for staff."""

    def link_view(p: PageEnv, ctx: LinkHousehold):
        return view(p, ctx)

    def staff_view(p: PageEnv, ctx: StaffHousehold):
        return view(p, ctx)

    router.add_api_route("/h/{token}" + path, link_view, methods=["GET"], response_class=HTMLResponse)
    router.add_api_route(
        "/staff/households/{household_id}" + path, staff_view, methods=["GET"], response_class=HTMLResponse
    )


for _path, _view in HOUSEHOLD_VIEWS:
    _register(_path, _view)


async def form_fields(request: Request) -> dict[str, str]:
    body = (await request.body())[:10_000].decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


@router.post("/h/{token}/delete", response_class=HTMLResponse)
async def delete_household_page(p: PageEnv, ctx: LinkHousehold):
    fields = await form_fields(p.request)
    if fields.get("confirm", "").strip() != ctx.hh.name:
        return _data_page(
            p,
            ctx,
            status=422,
            can_delete=True,
            error=_(
                'To confirm the deletion, type the household\'s name exactly: "{name}".',
                lang=p.lang,
                name=ctx.hh.name,
            ),
        )
    series = admin.delete_household(p.db, p.store, ctx.hh)
    p.db.commit()
    return p.render("deleted.html", series=series)


# -- staff ----------------------------------------------------------------------------


@router.get("/staff/login", response_class=HTMLResponse)
def login_page(p: PageEnv):
    return p.render("login.html", error=None, switch_url=p.switch_url)


@router.post("/staff/login", response_class=HTMLResponse)
async def login_submit(p: PageEnv):
    lang = p.lang
    f = await form_fields(p.request)
    username = f.get("username", "")[:60]
    wait = login_retry_after(p.request, username, p.now)
    if wait:
        locked = p.render("login.html", status=429, switch_url=p.switch_url,
                          error=too_many(wait, LOGIN_LOCKED).message(lang))
        locked.headers["Retry-After"] = str(wait)
        return locked
    token = admin.login(p.db, username, f.get("password", "")[:200])
    if token is None:
        login_failed(p.request, username, p.now)
        return p.render(
            "login.html",
            status=401,
            switch_url=p.switch_url,
            error=_(
                "Wrong username or password. Try again, or ask an administrator to reset your account.",
                lang=lang,
            ),
        )
    login_succeeded(p.request, username)
    p.db.commit()
    r = RedirectResponse(f"/staff?lang={lang}", status_code=303)
    # Lax: a link from elsewhere (an e-mail) opens the staff page signed in; cross-site
    # POSTs are refused by security.CrossSiteGuard whatever the browser does with SameSite.
    r.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_TTL_S,
        httponly=True,
        samesite="lax",
        secure=cookie_secure(p.request),
        path="/",
    )
    return r


@router.post("/staff/logout")
def logout(request: Request, db: Db):
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie and admin.logout(db, cookie):
        db.commit()
    r = RedirectResponse("/staff/login", status_code=303)
    r.delete_cookie(SESSION_COOKIE, path="/")
    return r


@router.get("/staff", response_class=HTMLResponse)
def staff_page(p: PageEnv, who: Who):
    lang = p.lang
    if who.user is None:
        return RedirectResponse(f"/staff/login?lang={lang}", status_code=303)
    deps = staff_overview(p.db, p.store, who.user, p.now, p.settings.stale_after_s)
    for d in deps:
        for m in d["meters"]:
            m["age"] = (
                "—" if m["last_seen_age_s"] is None else format_duration(m["last_seen_age_s"], lang=lang)
            )
    return p.render("staff.html", user=who.user, deps=deps, switch_url=p.switch_url)
