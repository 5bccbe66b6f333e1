"""JSON endpoints for meters: list, live power, energy per local hour/day/week/month."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from citizenwatt.firmware import wire

from citizenwatt.i18n import N_

from .auth import Principal, get_db, principal
from .consumption import energy, live_power, local_today, zone
from .energy import Bucket
from .errors import ERROR_RESPONSES, ApiError
from .models import Household, Meter

METER_ID_PATTERN = "^[a-z0-9_-]{1,%d}$" % wire.MAX_METER_ID
MeterId = Annotated[str, Path(pattern=METER_ID_PATTERN, max_length=wire.MAX_METER_ID,
                              description="Meter id, as in the MQTT topic cw/<meter>/reading.")]

router = APIRouter(prefix="/api/v1", tags=["meters"], responses=ERROR_RESPONSES)
Db = Annotated[Session, Depends(get_db)]
Who = Annotated[Principal, Depends(principal)]


def open_mode(request: Request, db: Session) -> bool:
    """Meter pages and endpoints are open to anyone only in a lab or demo setup: when the
    settings say so, or (by default) while the database holds no household yet."""
    setting = request.app.state.settings.open_meters
    if setting is not None:
        return setting
    return db.scalar(select(Household.id).limit(1)) is None


def check_meter_access(request: Request, db: Session, who: Principal, meter_id: str) -> None:
    if open_mode(request, db):
        return
    if who.anonymous:
        raise ApiError(401, "auth_required", N_("You need your household's secret link, or to sign in as staff (page /staff/login)."))
    if who.user is None:
        raise ApiError(403, "staff_only", N_("This is for the association's staff only; a household link does not open it."))
    m = db.get(Meter, meter_id)
    if not who.staff_can(m.deployment_id if m else None, "viewer"):
        raise ApiError(404, "meter_unknown", N_("Meter \"{meter_id}\" has not sent anything yet. Check its id, or wait for its first reading."), meter_id=meter_id)


def visible_meter_ids(request: Request, db: Session, who: Principal) -> set[str] | None:
    """None: every meter; else the registered meters of the caller's deployment."""
    if open_mode(request, db):
        return None
    if who.anonymous:
        raise ApiError(401, "auth_required", N_("You need your household's secret link, or to sign in as staff (page /staff/login)."))
    if who.user is None:
        raise ApiError(403, "staff_only", N_("This is for the association's staff only; a household link does not open it."))
    if who.user.deployment_id is None and not who.user.disabled:
        return None
    return set(db.scalars(select(Meter.id).where(Meter.deployment_id == who.user.deployment_id)))


class ChannelPower(BaseModel):
    channel: int
    power_w: float
    irms_a: float
    apparent: bool = Field(description="True: no voltage sensor, power is Irms x nominal voltage.")
    vrms_v: float | None
    pf: float | None
    ts_utc: float


class PowerOut(BaseModel):
    meter_id: str
    power_w: float = Field(description="Sum over the meter's channels.")
    ts_utc: float = Field(description="End of the newest reading, UTC seconds.")
    ts: datetime
    age_s: float
    stale: bool = Field(description="True when the newest reading is older than the stale limit.")
    channels: list[ChannelPower]


class BucketOut(BaseModel):
    start: datetime = Field(description="Local start of the bucket, with its UTC offset.")
    end: datetime
    start_utc: int
    hours: float = Field(description="Length in hours: 23 or 25 on DST days.")
    energy_wh: float | None = Field(description="None when no reading covers the bucket (a gap).")
    covered_h: float
    complete: bool


class TotalOut(BaseModel):
    energy_wh: float | None
    hours: float
    covered_h: float
    gap_buckets: int


class EnergyOut(BaseModel):
    meter_id: str
    timezone: str
    resolution: str
    start: date
    end: date
    channel: int | None
    buckets: list[BucketOut]
    total: TotalOut


class MeterOut(BaseModel):
    meter_id: str
    channels: list[int]
    first_ts_utc: float
    last_ts_utc: float
    last_received_utc: float
    readings: int
    state: str | None = Field(description="Last retained MQTT status: online, offline or None.")
    status: dict | None


class MetersOut(BaseModel):
    meters: list[MeterOut]


def bucket_out(b: Bucket, tz) -> BucketOut:
    return BucketOut(
        start=b.start_local, end=datetime.fromtimestamp(b.end_utc, tz), start_utc=b.start_utc,
        hours=b.hours, energy_wh=None if b.energy_wh is None else round(b.energy_wh, 3),
        covered_h=round(b.covered_h, 3), complete=b.complete)


@router.get("/meters", response_model=MetersOut, summary="Meters that have sent readings")
def list_meters(request: Request, db: Db, who: Who) -> MetersOut:
    store = request.app.state.store
    visible = visible_meter_ids(request, db, who)
    return MetersOut(meters=[
        MeterOut(meter_id=m.meter_id, channels=list(m.channels), first_ts_utc=m.first_ts_utc,
                 last_ts_utc=m.last_ts_utc, last_received_utc=m.last_received_utc,
                 readings=m.readings, state=(m.status or {}).get("state"), status=m.status)
        for m in store.meters() if visible is None or m.meter_id in visible])


@router.get("/meters/{meter_id}/live", response_model=PowerOut,
            summary="Latest power of a meter, per channel and in total")
def meter_power(request: Request, meter_id: MeterId, db: Db, who: Who) -> PowerOut:
    check_meter_access(request, db, who, meter_id)
    state = request.app.state
    tz = zone(state.settings.timezone)
    live = live_power(state.store, meter_id, state.clock(), state.settings)
    return PowerOut(
        meter_id=meter_id, power_w=round(live.power_w, 2), ts_utc=live.ts_utc,
        ts=datetime.fromtimestamp(live.ts_utc, tz), age_s=round(live.age_s, 1), stale=live.stale,
        channels=[ChannelPower(channel=r.channel, power_w=r.power_w, irms_a=r.irms_a,
                               apparent=r.apparent, vrms_v=r.vrms_v, pf=r.pf, ts_utc=r.ts_utc)
                  for r in live.channels])


@router.get("/meters/{meter_id}/energy", response_model=EnergyOut,
            summary="Energy per local hour, day, week or month over a date range")
def meter_energy(
    request: Request,
    meter_id: MeterId,
    resolution: Annotated[Literal["hour", "day", "week", "month"], Query(
        description="Bucket size. Weeks (ISO, from Monday) and months widen the range to whole ones.")] = "hour",
    start: Annotated[date | None, Query(description="First local day (YYYY-MM-DD), default today.")] = None,
    end: Annotated[date | None, Query(description="Last local day, included (YYYY-MM-DD), default start.")] = None,
    channel: Annotated[int | None, Query(ge=0, lt=wire.MAX_CHANNELS,
                                         description="One channel only; default all summed.")] = None,
    tz: Annotated[str | None, Query(max_length=64, description="IANA time zone, default the household's.")] = None,
    db: Db = None, who: Who = None,
) -> EnergyOut:
    check_meter_access(request, db, who, meter_id)
    state = request.app.state
    zone_name = tz or state.settings.timezone
    zi = zone(zone_name)
    start = start or local_today(state.clock(), zi)
    end = end or start
    buckets, total = energy(state.store, meter_id, start, end, resolution, zi, state.settings,
                            channel)
    return EnergyOut(
        meter_id=meter_id, timezone=zone_name, resolution=resolution, start=start, end=end,
        channel=channel, buckets=[bucket_out(b, zi) for b in buckets],
        total=TotalOut(energy_wh=None if total.energy_wh is None else round(total.energy_wh, 3),
                       hours=total.hours, covered_h=round(total.covered_h, 3),
                       gap_buckets=total.gap_buckets))
