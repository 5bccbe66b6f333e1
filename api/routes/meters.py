"""JSON endpoints for meters: list, live power, energy per local hour/day/week/month."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from citizenwatt.firmware import wire

from ..consumption import energy, live_power, local_today, zone
from ..deps import Config, Db, Now, ReadableMeter, Store, VisibleMeters
from ..errors import ERROR_RESPONSES
from ..household_data import meter_mains
from ..schemas import ChannelPower, EnergyOut, MeterOut, MetersOut, PowerOut, bucket_out, total_out

router = APIRouter(prefix="/api/v1", tags=["meters"], responses=ERROR_RESPONSES)


@router.get("/meters", response_model=MetersOut, summary="Meters that have sent readings")
def list_meters(store: Store, visible: VisibleMeters) -> MetersOut:
    return MetersOut(meters=[
        MeterOut(meter_id=m.meter_id, channels=list(m.channels), first_ts_utc=m.first_ts_utc,
                 last_ts_utc=m.last_ts_utc, last_received_utc=m.last_received_utc,
                 readings=m.readings, state=(m.status or {}).get("state"), status=m.status)
        for m in store.meters() if visible is None or m.meter_id in visible])


@router.get("/meters/{meter_id}/live", response_model=PowerOut,
            summary="Latest power of a meter, per channel and in total")
def meter_power(meter_id: ReadableMeter, store: Store, settings: Config, now: Now, db: Db) -> PowerOut:
    tz = zone(settings.timezone)
    live = live_power(store, meter_id, now, settings)
    mains, labels = meter_mains(db, store, meter_id)
    counted = [r for r in live.channels if mains is None or r.channel in mains]
    return PowerOut(
        meter_id=meter_id, power_w=round(sum(r.power_w for r in counted), 2), ts_utc=live.ts_utc,
        ts=datetime.fromtimestamp(live.ts_utc, tz), age_s=round(live.age_s, 1), stale=live.stale,
        channels=[ChannelPower(channel=r.channel, power_w=r.power_w, irms_a=r.irms_a,
                               apparent=r.apparent, vrms_v=r.vrms_v, pf=r.pf, ts_utc=r.ts_utc,
                               label=labels.get(r.channel), sub=r not in counted,
                               export_wh=r.export_wh)
                  for r in live.channels])


@router.get("/meters/{meter_id}/energy", response_model=EnergyOut,
            summary="Energy per local hour, day, week or month over a date range")
def meter_energy(
    meter_id: ReadableMeter,
    store: Store,
    settings: Config,
    now: Now,
    resolution: Annotated[
        Literal["hour", "day", "week", "month"],
        Query(description="Bucket size. Weeks (ISO, from Monday) and months widen the range to whole ones."),
    ] = "hour",
    start: Annotated[date | None, Query(description="First local day (YYYY-MM-DD), default today.")] = None,
    end: Annotated[
        date | None, Query(description="Last local day, included (YYYY-MM-DD), default start.")
    ] = None,
    channel: Annotated[
        int | None, Query(ge=0, lt=wire.MAX_CHANNELS, description="One channel only; default all summed.")
    ] = None,
    tz: Annotated[
        str | None, Query(max_length=64, description="IANA time zone, default the household's.")
    ] = None,
) -> EnergyOut:
    zone_name = tz or settings.timezone
    zi = zone(zone_name)
    start = start or local_today(now, zi)
    end = end or start
    buckets, total = energy(store, meter_id, start, end, resolution, zi, settings, channel)
    return EnergyOut(
        meter_id=meter_id,
        timezone=zone_name,
        resolution=resolution,
        start=start,
        end=end,
        channel=channel,
        buckets=[bucket_out(b, zi) for b in buckets],
        total=total_out(total),
    )
