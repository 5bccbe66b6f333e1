"""JSON endpoints of one household: its record, live power, energy, CSV, savings,
comparison, export and deletion. Each reads only the household the caller may read
(deps.CurrentHousehold): its own link, or staff of its deployment."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from citizenwatt.firmware import wire
from citizenwatt.i18n import N_
from citizenwatt.store.port import ReadingStore

from .. import admin
from ..comparison import MIN_GROUP, compare
from ..consumption import check_dates, check_range, check_span, local_today
from ..deps import (
    Config,
    CurrentHousehold,
    Db,
    HouseholdByRef,
    HouseholdRef,
    Now,
    Reads,
    Store,
    Who,
    require_staff,
)
from ..energy import Resolution, snap_range
from ..errors import ERROR_RESPONSES, ApiError
from ..exporting import check_reading_days, energy_csv_text, export_household, readings_csv_chunks
from ..household_data import (
    ChannelLive,
    household_breakdown,
    household_buckets,
    household_key,
    household_zone,
    live_channels,
    live_of,
)
from ..household_savings import household_savings
from ..i18n import request_lang
from ..models import Household
from ..monthly import month_summary
from ..paper import printed_on, summaries_pdf
from ..readcache import MISSING, StoreReads
from ..schemas import (
    ChannelLiveOut,
    ComparisonOut,
    DeletedOut,
    HouseholdEnergyOut,
    HouseholdOut,
    LiveOut,
    MonthSummaryOut,
    SavingsOut,
    SubEnergyOut,
    bucket_out,
    household_out,
    total_out,
)
from ..texts import savings_method_text

router = APIRouter(prefix="/api/v1/households", tags=["households"], responses=ERROR_RESPONSES)

Start = Annotated[date | None, Query(description="First local day (YYYY-MM-DD).")]
End = Annotated[date | None, Query(description="Last local day, included (YYYY-MM-DD).")]
Res = Annotated[Literal["hour", "day", "week", "month"], Query(description="Bucket size.")]
Channel = Annotated[int | None, Query(ge=0, lt=wire.MAX_CHANNELS, description="One channel only.")]


def default_range(now: float, hh: Household, start: date | None, end: date | None,
                  days_back: int = 0) -> tuple[date, date]:
    """Missing days: from `days_back` days before today (in the household's zone) to today,
    or, with days_back 0, the start day alone."""
    today = local_today(now, household_zone(hh))
    if start is None:
        start = today - timedelta(days=days_back)
    return start, end or (today if days_back else start)


@router.get("/{household_id}", response_model=HouseholdOut, summary="The household's record")
def get_household(hh: CurrentHousehold) -> HouseholdOut:
    return household_out(hh)


@router.get("/{household_id}/live", response_model=LiveOut, summary="Live power of the household")
async def live(ref: HouseholdByRef, db: Db, store: Store, reads: Reads, settings: Config,
               now: Now) -> LiveOut:
    # async: the newest readings kept since the store last changed are answered on the event
    # loop; reading them (with the ORM household) goes to a worker thread
    today = local_today(now, ZoneInfo(ref.key[1]))
    chans = reads.peek(("live", ref.key, today))
    if chans is MISSING:
        chans = await run_in_threadpool(_live_channels, ref, db, store, reads, today)
    lv = live_of(chans, now)
    return LiveOut(household_id=ref.id, power_w=lv.power_w, ts_utc=lv.ts_utc, age_s=lv.age_s,
                   stale=lv.age_s is None or lv.age_s > settings.stale_after_s,
                   channels=[ChannelLiveOut(**c.__dict__) for c in lv.channels])


def _live_channels(ref: HouseholdRef, db: Session, store: ReadingStore, reads: StoreReads,
                   today: date) -> list[ChannelLive]:
    hh = ref.household(db)
    key = ("live", household_key(hh), today)  # as the household was read now
    return reads.get(key, lambda: live_channels(store, hh, today))


@router.get("/{household_id}/energy", response_model=HouseholdEnergyOut,
            summary="Energy per local hour, day, week or month (gaps are null)")
async def energy(ref: HouseholdByRef, db: Db, store: Store, reads: Reads, settings: Config, now: Now,
                 resolution: Res = "hour", start: Start = None, end: End = None,
                 channel: Channel = None) -> Response:
    start = start or local_today(now, ZoneInfo(ref.key[1]))  # as default_range(): today alone
    end = end or start
    check_range(start, end, resolution, settings)
    # The answer depends on the range and the household's meters, not on the clock: kept as
    # sent (JSON) until the store changes, and given on the event loop; reading and summing
    # go to a worker thread.
    body = reads.peek(("energy", ref.key, resolution, start, end, channel))
    if body is MISSING:
        body = await run_in_threadpool(_energy_body, ref, db, store, reads, resolution, start, end, channel)
    return Response(body, media_type="application/json")


def _energy_body(ref: HouseholdRef, db: Session, store: ReadingStore, reads: StoreReads,
                 resolution: Resolution, start: date, end: date, channel: int | None) -> bytes:
    hh = ref.household(db)
    key = ("energy", household_key(hh), resolution, start, end, channel)  # as the household was read now
    return reads.get(key, lambda: json_body(energy_out(store, hh, resolution, start, end, channel)))


def json_body(model: BaseModel) -> bytes:
    """The JSON FastAPI sends for a response model (by field alias, as JSONResponse renders it)."""
    return bytes(JSONResponse(model.model_dump(mode="json", by_alias=True)).body)


def energy_out(store: ReadingStore, hh: Household, resolution: Resolution, start: date, end: date,
               channel: int | None) -> HouseholdEnergyOut:
    buckets, total = household_buckets(store, hh, start, end, resolution, channel)
    tz = household_zone(hh)
    first, last = snap_range(start, end, resolution)  # the buckets' whole weeks or months
    breakdown = [] if channel is not None else [
        SubEnergyOut(label=b.label, channel=b.channel,
                     energy_wh=None if b.energy_wh is None else round(b.energy_wh, 3))
        for b in household_breakdown(store, hh, first, last)]
    return HouseholdEnergyOut(
        household_id=hh.id, timezone=hh.deployment.timezone, resolution=resolution, start=start,
        end=end, channel=channel, buckets=[bucket_out(b, tz) for b in buckets],
        total=total_out(total), breakdown=breakdown)


@router.get("/{household_id}/energy.csv",
            summary="The same energy buckets as CSV, in kWh (gaps are empty cells); French spreadsheet "
                    "dialect (semicolon, decimal comma, UTF-8 with BOM) by default, English/ISO with lang=en",
            response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def energy_csv(request: Request, hh: CurrentHousehold, store: Store, settings: Config, now: Now,
               resolution: Res = "day", start: Start = None, end: End = None,
               channel: Channel = None) -> Response:
    start, end = default_range(now, hh, start, end)
    check_range(start, end, resolution, settings)
    buckets, _ = household_buckets(store, hh, start, end, resolution, channel)
    name = f"citizenwatt-{resolution}-{start.isoformat()}-{end.isoformat()}.csv"
    return Response(energy_csv_text(buckets, household_zone(hh), request_lang(request)),
                    media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/{household_id}/readings.csv",
            summary="The raw readings (every clamp, one row per reading) as CSV, at most 31 days; "
                    "French spreadsheet dialect by default, English/ISO with lang=en",
            response_class=StreamingResponse, responses={200: {"content": {"text/csv": {}}}})
def readings_csv(request: Request, hh: CurrentHousehold, store: Store, now: Now,
                 start: Start = None, end: End = None) -> StreamingResponse:
    start, end = default_range(now, hh, start, end)
    check_dates(start, end)
    check_reading_days(start, end)
    name = f"citizenwatt-mesures-{start.isoformat()}-{end.isoformat()}.csv"
    return StreamingResponse(readings_csv_chunks(store, hh, start, end, request_lang(request)),
                             media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _month(now: float, hh: Household, month: str | None) -> str:
    """?month=YYYY-MM, by default the last whole month in the household's zone."""
    if month:
        return month
    first = local_today(now, household_zone(hh)).replace(day=1)
    return (first - timedelta(days=1)).strftime("%Y-%m")


Month = Annotated[str | None, Query(max_length=7, description="YYYY-MM (default: last month).")]


@router.get("/{household_id}/month", response_model=MonthSummaryOut,
            summary="The month on paper: kWh, euros, the same month last year or the baseline, "
                    "similar households, a tip")
def month(hh: CurrentHousehold, db: Db, store: Store, settings: Config, now: Now,
          month: Month = None) -> MonthSummaryOut:
    s = month_summary(db, store, hh, _month(now, hh, month), settings)
    c = s.comparison
    return MonthSummaryOut(
        household_id=hh.id, month=s.month.strftime("%Y-%m"), start=s.month, end=s.end, energy_kwh=s.kwh,
        measured_days=s.measured_days, days=s.days, cost_eur=s.eur, unpriced_days=s.unpriced_days,
        reference=s.reference, reference_kwh=s.reference_kwh, reference_pct=s.reference_pct,
        similar_status=c.status, similar_kwh_per_day=c.median_kwh_per_day,
        own_kwh_per_day=c.own_kwh_per_day, tip=s.tip.kind if s.tip else None)


@router.get("/{household_id}/month.pdf", summary="The monthly summary to print (A4, large type)",
            response_class=Response, responses={200: {"content": {"application/pdf": {}}}})
def month_pdf(request: Request, hh: CurrentHousehold, db: Db, store: Store, settings: Config, now: Now,
              month: Month = None) -> Response:
    s = month_summary(db, store, hh, _month(now, hh, month), settings)
    lang = request_lang(request)
    pdf = summaries_pdf([s], settings, lang, printed_on(local_today(now, household_zone(hh)), lang))
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="citizenwatt-{s.month.strftime("%Y-%m")}.pdf"'})


@router.get("/{household_id}/savings", response_model=SavingsOut,
            summary="Savings against the household's baseline, in kWh, euros and kg CO2")
def savings(request: Request, hh: CurrentHousehold, db: Db, store: Store, settings: Config,
            now: Now, start: Start = None, end: End = None) -> SavingsOut:
    start_given = start is not None
    start, end = default_range(now, hh, start, end, days_back=30)
    # Savings are for a period after the baseline: the default does not reach back into it.
    if not start_given and hh.baseline_end and start <= hh.baseline_end < end:
        start = hh.baseline_end + timedelta(days=1)
    s = household_savings(db, store, hh, start, end, settings)
    return SavingsOut(
        household_id=hh.id, status=s.status, start=start, end=end,
        baseline_start=hh.baseline_start, baseline_end=hh.baseline_end, method=s.method,
        baseline_days=s.baseline_days, baseline_kwh_per_day=s.baseline_kwh_per_day,
        dd_intercept_kwh=s.dd_intercept_kwh, dd_slope_kwh_per_hdd=s.dd_slope_kwh_per_hdd,
        dd_r2=s.dd_r2, period_days=s.period_days, skipped_days=s.skipped_days,
        expected_kwh=s.expected_kwh, actual_kwh=s.actual_kwh, saved_kwh=s.saved_kwh,
        saved_pct=s.saved_pct, priced_days=s.priced_days, saved_eur=s.saved_eur,
        co2_g_per_kwh=hh.deployment.co2_g_per_kwh, co2_source=hh.deployment.co2_source,
        saved_kg_co2=s.saved_kg_co2,
        method_text=savings_method_text(s, hh, start, end, request_lang(request)))


@router.get("/{household_id}/comparison", response_model=ComparisonOut,
            summary="Mean daily use against the median of similar households (groups of 5 or more)")
def comparison(hh: CurrentHousehold, db: Db, store: Store, settings: Config, now: Now,
               start: Start = None, end: End = None) -> ComparisonOut:
    start, end = default_range(now, hh, start, end, days_back=30)
    check_range(start, end, "day", settings)
    check_span(start, end, 367)
    c = compare(db, store, hh, start, end)
    return ComparisonOut(household_id=hh.id, start=start, end=end, min_group=MIN_GROUP, **c.__dict__)


@router.get("/{household_id}/export", summary="Everything stored about the household, as JSON")
def export(hh: CurrentHousehold, store: Store, now: Now) -> Response:
    return Response(
        export_household(store, hh, now),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="citizenwatt-foyer-{hh.id}.json"'},
    )


@router.delete(
    "/{household_id}",
    response_model=DeletedOut,
    summary="Delete the household and its readings (by the household or a leader)",
)
def delete(
    hh: CurrentHousehold,
    db: Db,
    who: Who,
    store: Store,
    now: Now,
    confirm: Annotated[str, Query(max_length=100, description="The household's name, to confirm.")] = "",
) -> DeletedOut:
    if who.household_id is None:
        require_staff(who, hh.deployment_id, "leader")
    if confirm != hh.name:
        raise ApiError(
            422,
            "confirm_name",
            N_('To confirm the deletion, type the household\'s name exactly: "{name}".'),
            name=hh.name,
        )
    household_id, deployment_id, name = hh.id, hh.deployment_id, hh.name
    series = admin.delete_household(db, store, hh)
    if who.user is not None:  # a household deleting its own data is no staff action
        admin.audit(db, who.user, "household.delete", deployment_id, household_id, detail=name, now=now)
    db.commit()
    return DeletedOut(household_id=household_id, deleted=True, readings_deleted=series)
