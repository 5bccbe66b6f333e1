"""Build stored readings for API tests: constant power over a span, as a meter would send."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from citizenwatt.store.port import ChannelReading

PARIS = ZoneInfo("Europe/Paris")


def local_ts(*args, tz=PARIS) -> float:
    return datetime(*args, tzinfo=tz).timestamp()


def constant_readings(meter_id: str, t0: float, t1: float, power_w: float, step_s: float = 60,
                      channel: int = 0, boot: int = 1, seq0: int = 0,
                      counter0_wh: float = 0.0) -> list[ChannelReading]:
    """Readings every step_s from t0 + step_s to t1 at a constant power, counter from counter0."""
    out, n = [], int(round((t1 - t0) / step_s))
    for i in range(1, n + 1):
        out.append(ChannelReading(
            meter_id=meter_id, channel=channel, boot=boot, seq=seq0 + i, ts_utc=t0 + i * step_s,
            ts_from_meter=True, interval_s=step_s,
            energy_wh=counter0_wh + power_w * i * step_s / 3600, power_w=power_w,
            irms_a=power_w / 230, apparent=True))
    return out
