"""Server-rendered pages (Jinja2), French by default, readable on a 360 px phone.

- /h/<secret>/...: a household's pages (live, history, savings, comparison, its data),
  opened by its secret link; staff see the same pages at /staff/households/<id>/...
- /staff: meters with their status and households, for the association's staff;
- /m/<meter>: a meter's page, open only in demo/lab mode (see deps.open_mode).
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, cast
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from citizenwatt.config import ApiSettings
from citizenwatt.i18n import (
    N_,
    _,
    format_date,
    format_duration,
    format_month,
    format_number,
    format_power,
    format_quantity,
)
from citizenwatt.store.port import ReadingStore

from .. import admin
from ..auth import SESSION_COOKIE, SESSION_TTL_S, linked_household
from ..charts import bar_chart
from ..comparison import MIN_GROUP, compare
from ..consumption import MAX_DATE, MIN_DATE, check_dates, check_range, check_span, energy, local_today, zone
from ..deps import (
    Config,
    Db,
    HouseholdPage,
    LinkAsked,
    LinkHousehold,
    LinkPage,
    Now,
    ReadableMeter,
    StaffHousehold,
    Store,
    Who,
    open_mode,
    require_staff,
)
from ..energy import Bucket, Resolution, bucket_bounds, bucketize, totals
from ..errors import ApiError
from ..exporting import check_reading_days, energy_csv_text, export_household, readings_csv_chunks
from ..household_breakdown import DAYS as BREAKDOWN_DAYS
from ..household_breakdown import appliance_rows, household_appliances
from ..household_data import (
    ChannelLive,
    Source,
    SubEnergy,
    assignment_span,
    household_breakdown,
    household_buckets,
    household_key,
    household_zone,
    live_channels,
    live_of,
    merged_hours,
    meter_mains,
)
from ..household_savings import household_savings
from ..i18n import request_lang
from ..models import Household
from ..paper import welcome_sheet_pdf
from ..readcache import MISSING
from ..security import LOGIN_LOCKED, cookie_secure, login_failed, login_retry_after, login_succeeded, too_many
from ..staff_view import staff_overview, unassigned_meters
from ..texts import channel_name, energy_text, savings_method_text

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


async def page_env(request: Request, db: Db, store: Store, settings: Config, now: Now) -> Page:
    return Page(request, request_lang(request), db, store, settings, now)


PageEnv = Annotated[Page, Depends(page_env)]


def breakdown_context(subs: list[SubEnergy], lang: str) -> list[tuple[str, str]]:
    """(circuit, energy) for the "including the water heater: 1.2 kWh" line under a total."""
    out = []
    for sub in subs:
        if sub.energy_wh is None:
            continue
        name = sub.label or _("another circuit", lang=lang)
        if name[1:2].islower():  # "Chauffe-eau" -> "chauffe-eau" inside the sentence; "VMC" stays
            name = name[0].lower() + name[1:]
        out.append((name, energy_text(sub.energy_wh, lang)))
    return out


def first_reading_utc(store: ReadingStore, meter_spans: list[tuple[str, float, float]]) -> float | None:
    """When the first reading arrived among (meter, from_utc, to_utc) spans: the household's
    installation, as far as its pages know. None: nothing yet."""
    firsts = {m.meter_id: m.first_ts_utc for m in store.meters()}
    found = [max(firsts[m], a0) for m, a0, a1 in meter_spans if m in firsts and firsts[m] < a1]
    return min(found) if found else None


def household_since(p: Page, hh: Household) -> float | None:
    """The household's first reading: the first of each of its meters while at its home."""
    tz = household_zone(hh)
    return first_reading_utc(p.store, [(a.meter_id, *assignment_span(a, tz)) for a in hh.assignments])


def missing_periods(buckets: list[Bucket], now: float, since: float | None) -> int:
    """Past buckets without readings after the first reading: before it, the meter was not
    there yet, which is no missing reading."""
    if since is None:
        return 0
    return sum(1 for b in buckets if b.energy_wh is None and b.end_utc <= now and b.start_utc >= since)


def start_note(lang: str, since: float | None, first: float, last: float, tz) -> str | None:
    """What the page says when the period [first, last) starts before the first reading."""
    if since is None:
        return _("Your meter has not sent any reading yet. Once it is plugged in and on Wi-Fi, "
                 "your figures appear here within a few minutes.", lang=lang)
    if first < since < last:
        when = datetime.fromtimestamp(since, tz)
        return _("Measuring since {date} at {time}: before that, the meter was not installed yet.",
                 lang=lang, date=format_date(when.date(), lang=lang), time=when.strftime("%H:%M"))
    if last <= since:
        return _("Your meter was installed on {date}: nothing was measured before.", lang=lang,
                 date=format_date(datetime.fromtimestamp(since, tz).date(), lang=lang))
    return None


def exported_text(export_wh: float, lang: str) -> str | None:
    """The energy sent back to the grid (solar) as the pages write it; None when the
    household exported nothing, so that a household without panels sees nothing of it."""
    return energy_text(export_wh, lang) if export_wh > 0 else None


def today_context(p: Page, buckets: list[Bucket], total_wh: float | None, since: float | None,
                  tz, subs: list[SubEnergy] | None = None) -> dict:
    first, last = (buckets[0].start_utc, buckets[-1].end_utc) if buckets else (p.now, p.now)
    exported = sum(b.export_wh for b in buckets)
    return {"exported": exported_text(exported, p.lang),
            "chart": bar_chart(buckets, p.lang, chart_id="today-chart", now_utc=p.now,
                               since_utc=math.inf if since is None else since,
                               label=_("Energy per hour today", lang=p.lang)),
            "total": None if total_wh is None else energy_text(total_wh, p.lang),
            "breakdown": breakdown_context(subs or [], p.lang) if total_wh is not None else [],
            "past_gaps": missing_periods(buckets, p.now, since),
            "first_note": start_note(p.lang, since, first, min(last, p.now + 1), tz)}


def power_text(power_w: float, lang: str) -> str:
    """A live power as a household reads it: negative (solar panels producing more than the
    home uses) is said as power sent back to the grid, not as a minus sign."""
    if power_w < 0:
        return _("{power} sent back to the grid", lang=lang, power=format_power(-power_w, lang=lang))
    return format_power(power_w, lang=lang)


def live_context(lang: str, now: float, stale_after_s: float, power_w, ts, channels) -> dict | None:
    """channels: (name, power_w, sub) tuples."""
    if ts is None:
        return None
    age = format_duration(now - ts, lang=lang)
    return {
        "power": power_text(power_w, lang),
        "age": _("Measured {age} ago", lang=lang, age=age),
        "stale": now - ts > stale_after_s,
        "stale_text": _(
            "No reading for {age}: the meter may be unplugged or out of Wi-Fi range.", lang=lang, age=age
        ),
        # Each circuit by the workshop's label or in plain words (a slot for the
        # breakdown of sub channels: "of which water heater").
        "channels": [(n, power_text(p, lang)) for n, p, _sub in channels] if len(channels) > 1 else [],
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


def _meter_today(p: Page, meter_id: str, mains: list[int] | None) -> dict:
    tz = zone(p.settings.timezone)
    today = local_today(p.now, tz)
    if mains is None:
        buckets, total = energy(p.store, meter_id, today, today, "hour", tz, p.settings)
    else:
        bounds = bucket_bounds(today, today, tz, "hour")
        srcs = [Source(meter_id, c, bounds[0], bounds[-1]) for c in mains]
        buckets = bucketize(merged_hours(p.store, srcs), bounds, tz)
        total = totals(buckets)
    since = first_reading_utc(p.store, [(meter_id, 0.0, float("inf"))])
    return today_context(p, buckets, total.energy_wh, since, tz)


@router.get("/m/{meter_id}", response_class=HTMLResponse)
def meter_page(meter_id: ReadableMeter, p: PageEnv):
    lang = p.lang
    rows = p.store.latest(meter_id)
    mains, labels = meter_mains(p.db, p.store, meter_id)
    live = live_context(
        lang,
        p.now,
        p.settings.stale_after_s,
        sum(r.power_w for r in rows if mains is None or r.channel in mains),
        max((r.ts_utc for r in rows), default=None),
        [(channel_name(labels.get(r.channel), r.channel, False, lang), r.power_w, False)
         for r in rows],
    )
    return p.render(
        "household.html",
        **_meter_today(p, meter_id, mains),
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
    r = p.render("today.html", **_meter_today(p, meter_id, meter_mains(p.db, p.store, meter_id)[0]))
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


def today_clock(buckets: list[Bucket], since: float | None, now: float) -> tuple:
    """What today_context shows of the clock: which hours have started or ended (chart bars
    to come, missing hours), and whether the first reading is in the past."""
    return (sum(1 for b in buckets if b.start_utc < now), sum(1 for b in buckets if b.end_utc <= now),
            since is not None and since < now + 1)


def today_figures(p: Page, hh: Household, version: int | None | object = MISSING) -> dict:
    """The "today" part of a household's pages (chart, total, breakdown, notes): read from
    the store once per data version and household, and drawn again only when the clock
    passes something it shows (an hour's end, the first reading)."""
    reads = p.request.app.state.reads
    tz = household_zone(hh)
    today = local_today(p.now, tz)
    key = household_key(hh), today
    if version is MISSING:
        version = reads.version()

    def read():
        buckets, total = household_buckets(p.store, hh, today, today, "hour")
        return buckets, total, household_breakdown(p.store, hh, today, today), household_since(p, hh)

    buckets, total, subs, since = reads.get(("today",) + key, read, version)
    if not buckets:
        return today_context(p, buckets, total.energy_wh, since, tz, subs)
    clock = today_clock(buckets, since, p.now)
    return reads.get(("today_context", p.lang, clock) + key,
                     lambda: today_context(p, buckets, total.energy_wh, since, tz, subs), version)


def live_now(p: Page, chans: list[ChannelLive]) -> dict | None:
    """The "right now" part of the live page from the newest reading of each channel."""
    lv = live_of(chans, p.now)
    return live_context(
        p.lang,
        p.now,
        p.settings.stale_after_s,
        lv.power_w or 0.0,
        lv.ts_utc,
        [(channel_name(c.label, c.channel, c.sub, p.lang), c.power_w, c.sub) for c in lv.channels],
    )


def live_page_key(p: Page, token: str, name: str, hh_key: tuple, version: int | None) -> tuple | None:
    """Everything the live page opened by `token` shows, as the key of the page kept whole:
    the household (name, zone, meters and channels: hh_key, as household_key()), the
    language and query, the store's data version, and what the clock changes on it (the day,
    the "measured ... ago" line, the hours of today's chart). None: a figure it needs is not
    kept at `version` yet, the page is drawn."""
    if p.request.url.query not in ("", f"lang={p.lang}"):
        return None  # only the links the pages give are kept (a bounded set); others are drawn
    reads = p.request.app.state.reads
    today = local_today(p.now, ZoneInfo(hh_key[1]))
    chans = reads.peek(("live", hh_key, today), version)
    figures = reads.peek(("today", hh_key, today), version)
    if version is None or chans is MISSING or figures is MISSING:
        return None
    live = live_now(p, chans)
    live_shown = None if live is None else (live["power"], live["age"], live["stale"], live["stale_text"],
                                            tuple(live["channels"]))
    return ("live_page", token, str(p.request.url.query), p.lang, name, hh_key, today, live_shown,
            today_clock(figures[0], figures[3], p.now))


def kept_live_page(p: Page, asked: LinkAsked) -> Response | None:
    """The live page by the household's link as kept, if its link and every figure it shows
    are kept at the present versions of the database and the store (checked here: two
    version reads and look-ups, done on the event loop); None: live_page_by_link draws it."""
    linked = p.request.app.state.links.peek(asked.token)
    if linked is None:
        return None
    reads = p.request.app.state.reads
    version = reads.version()
    key = live_page_key(p, asked.token, linked.name, linked.key, version)
    body = MISSING if key is None else reads.peek(key, version)
    return None if body is MISSING else HTMLResponse(body)


def live_page_by_link(p: Page, asked: LinkAsked) -> Response:
    """The live page by the household's link, kept whole until anything it shows changes
    (see live_page_key); the link's household read in one plain query (kept until the
    database changes, so a revoked link or a renamed household is seen at once)."""
    reads = p.request.app.state.reads
    version = reads.version()
    links = p.request.app.state.links
    linked = links.get(asked.token, lambda: linked_household(p.request.app.state.engine, asked.token))
    if linked is not None:
        key = live_page_key(p, asked.token, linked.name, linked.key, version)
        body = MISSING if key is None else reads.peek(key, version)
        if body is not MISSING:
            return HTMLResponse(body)
    ctx = asked.page()  # the link checked the usual way: a refused one is counted
    response = view_live(p, ctx, version)
    # Kept under what it was drawn from (the household as read with the page).
    key = live_page_key(p, asked.token, ctx.hh.name, household_key(ctx.hh), version)
    if key is not None:
        reads.put(key, bytes(response.body), version)
    return response


def view_live(p: Page, ctx: HouseholdPage, version: int | None | object = MISSING):
    lang = p.lang
    hh = ctx.hh
    tz = household_zone(hh)
    reads = p.request.app.state.reads
    if version is MISSING:
        version = reads.version()
    key = ("live", household_key(hh), local_today(p.now, tz))
    chans = reads.get(key, lambda: live_channels(p.store, hh, key[2]), version)
    live = live_now(p, chans)
    return p.render(
        "household.html",
        **today_figures(p, hh, version),
        title=hh.name,
        heading=_("My electricity use", lang=lang),
        subtitle=None,
        live=live,
        appliances=appliance_rows(household_appliances(p.store, hh, key[2]), lang),
        appliance_days=BREAKDOWN_DAYS,
        nav=nav(ctx, lang, "live"),
        live_url=f"/api/v1/households/{hh.id}/live",
        auth=ctx.auth,
        chart_url=f"{ctx.base}/today?lang={lang}",
        settings=p.settings,
        switch_url=p.switch_url,
    )


def view_today(p: Page, ctx: HouseholdPage):
    r = p.render("today.html", **today_figures(p, ctx.hh))
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


HISTORY_VIEWS = ("day", "week", "month", "year")


def _weekday(lang: str) -> Callable[[datetime], str]:
    from babel.dates import format_date as babel_date

    from citizenwatt.i18n import babel_locale

    return lambda t: babel_date(t.date(), "EEE", locale=babel_locale(lang))


def _day_month(lang: str) -> Callable[[datetime], str]:
    from babel.dates import format_date as babel_date

    from citizenwatt.i18n import babel_locale

    return lambda t: babel_date(t.date(), "EEE d MMM", locale=babel_locale(lang))


def _month_name(lang: str) -> Callable[[datetime], str]:
    return lambda t: format_month(t.date(), lang=lang)


def view_history(p: Page, ctx: HouseholdPage):
    lang = p.lang
    query = p.request.query_params
    # An unknown view (an old or mistyped link) shows the day: nothing to fix for the family.
    view = query.get("view", "day")
    if view not in HISTORY_VIEWS:
        view = "day"
    tz = household_zone(ctx.hh)
    today = local_today(p.now, tz)
    d = _parse_day(query.get("date"), today)
    label_every: int
    res: Resolution
    label: str | Callable[[datetime], str]
    title: str | Callable[[datetime], str]
    if view == "day":
        start = end = d
        res, prev, nxt = "hour", d - timedelta(days=1), d + timedelta(days=1)
        label, title, label_every = "%H", "%H:%M", 3
        heading = format_date(d, lang=lang)
        aria = _("Energy per hour", lang=lang)
    elif view == "week":
        start = d - timedelta(days=d.weekday())
        end = start + timedelta(days=6)
        res, prev, nxt = "day", start - timedelta(days=7), start + timedelta(days=7)
        label, title, label_every = _weekday(lang), _day_month(lang), 1
        heading = _("Week of {date}", lang=lang, date=format_date(start, lang=lang))
        aria = _("Energy per day", lang=lang)
    elif view == "month":
        start = d.replace(day=1)
        end = start.replace(day=calendar.monthrange(d.year, d.month)[1])
        res, prev, nxt = "day", start - timedelta(days=1), end + timedelta(days=1)
        label, title, label_every = "%d", _day_month(lang), 5
        heading = format_month(d, lang=lang)
        aria = _("Energy per day", lang=lang)
    else:
        start, end = date(d.year, 1, 1), date(d.year, 12, 31)
        res, prev, nxt = "month", date(d.year - 1, 1, 1), date(d.year + 1, 1, 1)
        label, title, label_every = "%m", _month_name(lang), 1
        heading = str(d.year)
        aria = _("Energy per month", lang=lang)
    prev_day = prev if prev >= MIN_DATE else None
    next_day = nxt if nxt <= MAX_DATE else None
    buckets, total = household_buckets(p.store, ctx.hh, start, end, res)
    since = household_since(p, ctx.hh)
    first, last = (buckets[0].start_utc, buckets[-1].end_utc) if buckets else (p.now, p.now)
    chart = bar_chart(
        buckets,
        lang,
        label_every=label_every,
        label_format=label,
        title_format=title,
        chart_id="history-chart",
        now_utc=p.now,
        since_utc=math.inf if since is None else since,
        label=aria,
        empty_text=_("No readings in this period.", lang=lang),
    )
    title_of = (lambda t: t.strftime(title)) if isinstance(title, str) else title
    link = lambda v, day: f"{ctx.base}/history?view={v}&date={day.isoformat()}&lang={lang}"  # noqa: E731
    rows = [
        (title_of(b.start_local), "—" if b.energy_wh is None else energy_text(b.energy_wh, lang),
         "—" if b.energy_wh is None else energy_text(b.export_wh, lang))
        for b in buckets
        if b.start_utc < p.now and (since is None or b.end_utc > since)
    ]
    return p.render(
        "history.html",
        title=ctx.hh.name,
        nav=nav(ctx, lang, "history"),
        view=view,
        heading=heading,
        chart=chart,
        rows=rows,
        total=None if total.energy_wh is None else energy_text(total.energy_wh, lang),
        exported=exported_text(total.export_wh, lang),
        breakdown=[] if total.energy_wh is None else breakdown_context(
            household_breakdown(p.store, ctx.hh, start, end), lang),
        gaps=missing_periods(buckets, p.now, since),
        first_note=start_note(lang, since, first, min(last, p.now + 1), tz),
        views=[(v, link(v, d), v == view) for v in HISTORY_VIEWS],
        prev_url=link(view, prev_day) if prev_day else None,
        next_url=link(view, next_day) if next_day else None,
        csv_url=f"{ctx.base}/energy.csv?resolution={res}&start={start}&end={end}&lang={lang}",
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
    check_span(start, end, 367)
    return start, end


def view_savings(p: Page, ctx: HouseholdPage):
    lang = p.lang
    hh = ctx.hh
    after_baseline = hh.baseline_end + timedelta(days=1) if hh.baseline_end else None
    start, end = _period(p, household_zone(hh), not_before=after_baseline)
    s = household_savings(p.db, p.store, hh, start, end, p.settings)
    fig = None
    if s.status == "ok":
        # Signs in words: a saving or an increase, each figure shown without a minus sign.
        assert s.saved_kwh is not None and s.saved_kg_co2 is not None  # set with "ok"
        saved_kwh, saved_kg = s.saved_kwh, s.saved_kg_co2
        fig = {
            "gain": saved_kwh >= 0,
            "kwh": format_quantity(abs(saved_kwh), "kWh", 1, lang=lang),
            "pct": None if s.saved_pct is None else format_quantity(abs(s.saved_pct), "%", 0, lang=lang),
            "eur": None if s.saved_eur is None else format_quantity(abs(s.saved_eur), "€", 2, lang=lang),
            "co2": format_quantity(abs(saved_kg), "kg", 1, lang=lang),
        }
    return p.render(
        "savings.html",
        title=hh.name,
        nav=nav(ctx, lang, "savings"),
        period=period_text(start, end, lang),
        start=start,
        end=end,
        fig=fig,
        method=savings_method_text(s, hh, start, end, lang),
        savings_status=s.status,
        co2_factor=format_number(hh.deployment.co2_g_per_kwh, 0, lang=lang),
        form_action=ctx.base + "/savings",
        switch_url=p.switch_url,
    )


def period_text(start: date, end: date, lang: str) -> str:
    return _("From {start} to {end}", lang=lang, start=format_date(start, lang=lang),
             end=format_date(end, lang=lang))


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
        period=period_text(start, end, lang),
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
        csv_url=f"{ctx.base}/energy.csv?resolution=day&lang={lang}",
        hours_csv_url=f"{ctx.base}/energy.csv?resolution=hour&lang={lang}",
        readings_csv_url=f"{ctx.base}/readings.csv?lang={lang}",
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
    res = cast(Resolution, q.get("resolution", "day"))
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
        energy_csv_text(buckets, tz, p.lang),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="citizenwatt-{res}-{start}-{end}.csv"'},
    )


def view_readings_csv(p: Page, ctx: HouseholdPage):
    """The raw readings of ?start to ?end (by default yesterday and today)."""
    q = p.request.query_params
    today = local_today(p.now, household_zone(ctx.hh))
    end = _parse_day(q.get("end"), today)
    start = _parse_day(q.get("start"), end - timedelta(days=1))
    check_dates(start, end)
    check_reading_days(start, end)
    return StreamingResponse(
        readings_csv_chunks(p.store, ctx.hh, start, end, p.lang),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="citizenwatt-mesures-{start}-{end}.csv"'},
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
    ("/readings.csv", view_readings_csv),
]


def _register(path: str, view: Callable) -> None:
    """Each household page twice: under the household's secret link, and for staff."""

    async def link_view(p: PageEnv, asked: LinkPage):
        if view is view_live:
            return kept_live_page(p, asked) or await run_in_threadpool(live_page_by_link, p, asked)
        return await run_in_threadpool(lambda: view(p, asked.page()))

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


@router.post("/staff/households/{household_id}/welcome-sheet")
def welcome_sheet(p: PageEnv, ctx: StaffHousehold, who: Who):
    """A new secret link for the household, on its printable welcome sheet (A5 PDF, QR code):
    the link exists only in this answer, and the household's older link stops working."""
    require_staff(who, ctx.hh.deployment_id, "leader")
    token = admin.issue_link(p.db, ctx.hh)
    p.db.commit()
    return Response(
        welcome_sheet_pdf(ctx.hh, token, p.settings, p.lang),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="citizenwatt-accueil-foyer-{ctx.hh.id}.pdf"',
                 "Cache-Control": "no-store"},
    )


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
        d["co2"] = _("CO2 factor on the household pages: {factor} g per kWh. Source: {source}", lang=lang,
                     factor=format_number(d["dep"].co2_g_per_kwh, 0, lang=lang),
                     source=_(d["dep"].co2_source, lang=lang))
        for m in d["meters"]:
            m["age"] = (
                "—" if m["last_seen_age_s"] is None else format_duration(m["last_seen_age_s"], lang=lang)
            )
            m["clamps_without_role"] = ", ".join(str(c + 1) for c in m["channels_without_role"])
    last_month = (local_today(p.now, zone(p.settings.timezone)).replace(day=1) - timedelta(days=1))
    return p.render(
        "staff.html",
        user=who.user,
        deps=deps,
        unassigned=unassigned_meters(p.db, p.store, who.user),
        can_lead=who.staff_can(who.user.deployment_id, "leader"),
        switch_url=p.switch_url,
        last_month=last_month.strftime("%Y-%m"),
    )
