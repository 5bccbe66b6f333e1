"""JSON endpoints of one household: its record, live power, energy, CSV, savings,
comparison, export and deletion. Each reads only the household the caller may read
(auth.load_household): its own link, or staff of its deployment."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from citizenwatt.firmware import wire

from citizenwatt.i18n import N_

from . import admin
from .auth import Principal, get_db, load_household, principal, require_staff
from .comparison import compare
from .consumption import check_range, local_today
from .energy import Bucket
from .errors import ERROR_RESPONSES, ApiError
from .household_data import day_uses, household_buckets, household_live, household_zone
from .models import DailyTemperature, Household
from .routes_meters import BucketOut, TotalOut, bucket_out
from .savings import compute_savings
from .tariffs import price_on

router = APIRouter(prefix="/api/v1/households", tags=["households"], responses=ERROR_RESPONSES)

HouseholdId = Annotated[int, "path"]
Db = Annotated[Session, Depends(get_db)]
Who = Annotated[Principal, Depends(principal)]
Start = Annotated[date | None, Query(description="First local day (YYYY-MM-DD).")]
End = Annotated[date | None, Query(description="Last local day, included (YYYY-MM-DD).")]
Res = Annotated[Literal["hour", "day", "week", "month"], Query(description="Bucket size.")]


def hid_param(household_id: int) -> int:
    if not 0 < household_id < 2 ** 31:
        raise ApiError(404, "household_unknown", N_("Household {household_id} not found with these rights. Check the link or the number."), household_id=household_id)
    return household_id


HidDep = Annotated[int, Depends(hid_param)]


class ChannelOut(BaseModel):
    channel: int
    label: str
    role: str


class MeterPeriodOut(BaseModel):
    meter_id: str
    valid_from: date
    valid_to: date | None
    channels: list[ChannelOut]


class HouseholdOut(BaseModel):
    id: int
    name: str
    deployment_id: int
    timezone: str
    profile: str
    tariff_option: str
    offpeak_start_h: int
    offpeak_end_h: int
    baseline_start: date | None
    baseline_end: date | None
    meters: list[MeterPeriodOut]


def household_out(hh: Household) -> HouseholdOut:
    return HouseholdOut(
        id=hh.id, name=hh.name, deployment_id=hh.deployment_id, timezone=hh.deployment.timezone,
        profile=hh.profile, tariff_option=hh.tariff_option, offpeak_start_h=hh.offpeak_start_h,
        offpeak_end_h=hh.offpeak_end_h, baseline_start=hh.baseline_start,
        baseline_end=hh.baseline_end,
        meters=[MeterPeriodOut(meter_id=a.meter_id, valid_from=a.valid_from, valid_to=a.valid_to,
                               channels=[ChannelOut(channel=c.channel, label=c.label, role=c.role)
                                         for c in a.meter.channels])
                for a in hh.assignments])


class ChannelLiveOut(BaseModel):
    meter_id: str
    channel: int
    label: str | None
    sub: bool = Field(description="A circuit already counted by a main clamp: not added to the total.")
    power_w: float
    ts_utc: float


class LiveOut(BaseModel):
    household_id: int
    power_w: float | None
    ts_utc: float | None
    age_s: float | None
    stale: bool
    channels: list[ChannelLiveOut]


class HouseholdEnergyOut(BaseModel):
    household_id: int
    timezone: str
    resolution: str
    start: date
    end: date
    channel: int | None
    buckets: list[BucketOut]
    total: TotalOut


class SavingsOut(BaseModel):
    household_id: int
    status: str = Field(description="ok | no_baseline | baseline_too_short | no_period_data")
    start: date
    end: date
    baseline_start: date | None
    baseline_end: date | None
    method: str = Field(description="mean | degree_days")
    baseline_days: int
    baseline_kwh_per_day: float | None
    dd_intercept_kwh: float | None
    dd_slope_kwh_per_hdd: float | None
    dd_r2: float | None
    period_days: int
    skipped_days: int
    expected_kwh: float | None
    actual_kwh: float | None
    saved_kwh: float | None
    saved_pct: float | None
    priced_days: int
    saved_eur: float | None
    co2_g_per_kwh: float | None
    co2_source: str
    saved_kg_co2: float | None
    method_text: str = Field(description="The method in plain words, in the asked language.")

    @field_validator("baseline_kwh_per_day", "dd_intercept_kwh", "dd_slope_kwh_per_hdd", "dd_r2",
                     "expected_kwh", "actual_kwh", "saved_kwh", "saved_pct", "saved_eur",
                     "saved_kg_co2")
    @classmethod
    def _no_float_noise(cls, v: float | None) -> float | None:
        # 153.2, not 153.19999999999996; 6 decimals (mWh, micro-euros) keep what scripts sum.
        return None if v is None else round(v, 6)


class ComparisonOut(BaseModel):
    household_id: int
    start: date
    end: date
    status: str = Field(description="ok | no_profile | group_too_small | no_own_data")
    profile: str
    group_size: int
    min_group: int
    own_kwh_per_day: float | None
    median_kwh_per_day: float | None
    difference_pct: float | None


class DeletedOut(BaseModel):
    household_id: int
    deleted: bool
    readings_deleted: bool


def default_range(request: Request, hh: Household, start: date | None, end: date | None,
                  days_back: int = 0) -> tuple[date, date]:
    tz = household_zone(hh)
    today = local_today(request.app.state.clock(), tz)
    if start is None:
        start = today - timedelta(days=days_back)
    return start, end or (today if days_back else start)


@router.get("/{household_id}", response_model=HouseholdOut, summary="The household's record")
def get_household(household_id: HidDep, db: Db, who: Who) -> HouseholdOut:
    return household_out(load_household(db, who, household_id))


@router.get("/{household_id}/live", response_model=LiveOut, summary="Live power of the household")
def live(request: Request, household_id: HidDep, db: Db, who: Who) -> LiveOut:
    hh = load_household(db, who, household_id)
    state = request.app.state
    lv = household_live(state.store, hh, state.clock())
    return LiveOut(household_id=hh.id, power_w=lv.power_w, ts_utc=lv.ts_utc, age_s=lv.age_s,
                   stale=lv.age_s is None or lv.age_s > state.settings.stale_after_s,
                   channels=[ChannelLiveOut(**c.__dict__) for c in lv.channels])


def _energy(request, hh, resolution, start, end, channel):
    start, end = default_range(request, hh, start, end)
    check_range(start, end, resolution, request.app.state.settings)
    buckets, total = household_buckets(request.app.state.store, hh, start, end, resolution, channel)
    return start, end, buckets, total


Channel = Annotated[int | None, Query(ge=0, lt=wire.MAX_CHANNELS, description="One channel only.")]


@router.get("/{household_id}/energy", response_model=HouseholdEnergyOut,
            summary="Energy per local hour, day, week or month (gaps are null)")
def energy(request: Request, household_id: HidDep, db: Db, who: Who, resolution: Res = "hour",
           start: Start = None, end: End = None, channel: Channel = None) -> HouseholdEnergyOut:
    hh = load_household(db, who, household_id)
    start, end, buckets, total = _energy(request, hh, resolution, start, end, channel)
    tz = household_zone(hh)
    return HouseholdEnergyOut(
        household_id=hh.id, timezone=hh.deployment.timezone, resolution=resolution, start=start,
        end=end, channel=channel, buckets=[bucket_out(b, tz) for b in buckets],
        total=TotalOut(energy_wh=None if total.energy_wh is None else round(total.energy_wh, 3),
                       hours=total.hours, covered_h=round(total.covered_h, 3),
                       gap_buckets=total.gap_buckets))


def energy_csv_text(buckets: list[Bucket], tz) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["start_local", "end_local", "start_utc", "hours", "energy_wh", "covered_h", "complete"])
    for b in buckets:
        w.writerow([b.start_local.isoformat(), datetime.fromtimestamp(b.end_utc, tz).isoformat(),
                    b.start_utc, f"{b.hours:g}",
                    "" if b.energy_wh is None else f"{b.energy_wh:.3f}", f"{b.covered_h:.3f}",
                    "1" if b.complete else "0"])
    return buf.getvalue()


@router.get("/{household_id}/energy.csv", summary="The same energy buckets as CSV (gaps are empty cells)",
            response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def energy_csv(request: Request, household_id: HidDep, db: Db, who: Who, resolution: Res = "day",
               start: Start = None, end: End = None, channel: Channel = None) -> Response:
    hh = load_household(db, who, household_id)
    start, end, buckets, _ = _energy(request, hh, resolution, start, end, channel)
    name = f"citizenwatt-{resolution}-{start.isoformat()}-{end.isoformat()}.csv"
    return Response(energy_csv_text(buckets, household_zone(hh)), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def savings_for(request: Request, db: Session, hh: Household, start: date, end: date, lang: str):
    from .texts import savings_method_text

    state = request.app.state
    check_range(start, end, "day", state.settings)
    dep = hh.deployment
    if hh.baseline_start and hh.baseline_end:
        check_range(hh.baseline_start, hh.baseline_end, "day", state.settings)
        baseline = day_uses(state.store, hh, hh.baseline_start, hh.baseline_end)
    else:
        baseline = []
    period = day_uses(state.store, hh, start, end)
    prices = {d.day: price_on(dep.tariffs, hh.tariff_option, d.day) for d in period}
    days = [d.day for d in baseline] + [d.day for d in period]
    temps = None
    if days:
        rows = db.scalars(select(DailyTemperature).where(
            DailyTemperature.deployment_id == dep.id, DailyTemperature.day >= min(days),
            DailyTemperature.day <= max(days))).all()
        temps = {r.day: r.mean_temp_c for r in rows} or None
    s = compute_savings(baseline, period, prices, dep.co2_g_per_kwh, temps, dep.hdd_base_c)
    return s, savings_method_text(s, hh, start, end, lang)


@router.get("/{household_id}/savings", response_model=SavingsOut,
            summary="Savings against the household's baseline, in kWh, euros and kg CO2")
def savings(request: Request, household_id: HidDep, db: Db, who: Who, start: Start = None,
            end: End = None) -> SavingsOut:
    from .i18n import request_lang

    hh = load_household(db, who, household_id)
    start_given = start is not None
    start, end = default_range(request, hh, start, end, days_back=30)
    # Savings are for a period after the baseline: the default does not reach back into it.
    if not start_given and hh.baseline_end and start <= hh.baseline_end < end:
        start = hh.baseline_end + timedelta(days=1)
    s, text = savings_for(request, db, hh, start, end, request_lang(request))
    return SavingsOut(
        household_id=hh.id, status=s.status, start=start, end=end,
        baseline_start=hh.baseline_start, baseline_end=hh.baseline_end, method=s.method,
        baseline_days=s.baseline_days, baseline_kwh_per_day=s.baseline_kwh_per_day,
        dd_intercept_kwh=s.dd_intercept_kwh, dd_slope_kwh_per_hdd=s.dd_slope_kwh_per_hdd,
        dd_r2=s.dd_r2, period_days=s.period_days, skipped_days=s.skipped_days,
        expected_kwh=s.expected_kwh, actual_kwh=s.actual_kwh, saved_kwh=s.saved_kwh,
        saved_pct=s.saved_pct, priced_days=s.priced_days, saved_eur=s.saved_eur,
        co2_g_per_kwh=hh.deployment.co2_g_per_kwh, co2_source=hh.deployment.co2_source,
        saved_kg_co2=s.saved_kg_co2, method_text=text)


@router.get("/{household_id}/comparison", response_model=ComparisonOut,
            summary="Mean daily use against the median of similar households (groups of 5 or more)")
def comparison(request: Request, household_id: HidDep, db: Db, who: Who, start: Start = None,
               end: End = None) -> ComparisonOut:
    from .comparison import MIN_GROUP

    hh = load_household(db, who, household_id)
    start, end = default_range(request, hh, start, end, days_back=30)
    check_range(start, end, "day", request.app.state.settings)
    if (end - start).days > 366:
        raise ApiError(422, "range_too_long", N_("The range spans {days} days; at resolution \"{resolution}\" at most {max_days} days are allowed. Shorten the range or pick a coarser resolution (day, week, month)."), days=(end - start).days + 1, resolution="day",
                       max_days=367)
    c = compare(db, request.app.state.store, hh, start, end)
    return ComparisonOut(household_id=hh.id, start=start, end=end, min_group=MIN_GROUP, **c.__dict__)


@router.get("/{household_id}/export", summary="Everything stored about the household, as JSON")
def export(request: Request, household_id: HidDep, db: Db, who: Who) -> Response:
    from .exporting import export_household

    hh = load_household(db, who, household_id)
    body = export_household(request.app.state.store, hh, request.app.state.clock())
    return Response(body, media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="citizenwatt-foyer-{hh.id}.json"'})


@router.delete("/{household_id}", response_model=DeletedOut,
               summary="Delete the household and its readings (by the household or a leader)")
def delete(request: Request, household_id: HidDep, db: Db, who: Who,
           confirm: Annotated[str, Query(max_length=100, description="The household's name, to confirm.")] = "") -> DeletedOut:
    hh = load_household(db, who, household_id)
    if who.household_id is None:
        require_staff(who, hh.deployment_id, "leader")
    if confirm != hh.name:
        raise ApiError(422, "confirm_name", N_("To confirm the deletion, type the household's name exactly: \"{name}\"."), name=hh.name)
    series = admin.delete_household(db, request.app.state.store, hh)
    db.commit()
    return DeletedOut(household_id=household_id, deleted=True, readings_deleted=series)
