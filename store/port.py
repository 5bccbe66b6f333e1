"""The storage port: what the collector writes and the API reads, whatever the backend.

Backends (the embedded SQLite store, InfluxDB) implement ReadingStore. The counting
rules that turn cumulative meter counters into energy per hour live here too, once, so
every backend applies the same ones (see docs/protocol.md, "From counters to energy").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Protocol, Sequence

HOUR_S = 3600


@dataclass(frozen=True, slots=True)
class ChannelReading:
    """One channel of one reading, as stored: the unit of the time series."""

    meter_id: str
    channel: int
    boot: int
    seq: int
    ts_utc: float  # end of the interval, UTC seconds
    ts_from_meter: bool  # False: the meter's clock was not synced, the collector stamped it
    interval_s: float
    energy_wh: float  # cumulative counter of the meter
    power_w: float
    irms_a: float
    apparent: bool
    vrms_v: float | None = None
    pf: float | None = None

    @property
    def order_key(self) -> tuple[int, int]:
        return (self.boot, self.seq)

    @property
    def interval_energy_wh(self) -> float:
        """Energy of this reading's own interval, from its mean power."""
        return max(0.0, self.power_w) * self.interval_s / HOUR_S


def _float_or_none(x) -> float | None:
    # a JSON integer stays a Python int, which SQLite refuses beyond 64 bits
    return None if x is None else float(x)


def readings_from_payload(obj: dict, received_s: float) -> list[ChannelReading]:
    """Turn a decoded wire payload into stored rows (one per channel)."""
    ts = obj.get("ts")
    return [
        ChannelReading(
            meter_id=obj["meter"], channel=c["id"], boot=obj["boot"], seq=obj["seq"],
            ts_utc=float(ts if ts is not None else received_s), ts_from_meter=ts is not None,
            interval_s=float(obj["interval_s"]), energy_wh=float(c["energy_wh"]),
            power_w=float(c["power_w"]), irms_a=float(c["irms_a"]), apparent=c["apparent"],
            vrms_v=_float_or_none(c.get("vrms_v")), pf=_float_or_none(c.get("pf")),
        )
        for c in obj["ch"]
    ]


def energy_delta_wh(prev: ChannelReading | None, cur: ChannelReading) -> float:
    """Energy consumed between prev and cur on one channel; never negative.

    The counter is cumulative, so the energy is the difference of the counters. When there
    is no earlier reading, or the counter went down (meter reflashed, replaced, or restored
    an older checkpoint after a power cut), we count only cur's own interval (its mean
    power x its interval) and follow the counter again from there.
    """
    own = min(cur.energy_wh, cur.interval_energy_wh)
    if prev is None:
        return own
    diff = cur.energy_wh - prev.energy_wh
    return diff if diff >= 0 else own


def reading_hour(ts_utc: float) -> int:
    """Start of the UTC hour a reading ending at ts_utc belongs to: the hour of its
    interval's last instant. A reading ending exactly at hh:00:00 measured the hour before,
    so it counts there; counting it in the hour it ends at would create a row (0 Wh, one
    reading) for an hour that holds no data, and the API would show 0 instead of a gap."""
    hour = int(ts_utc // HOUR_S) * HOUR_S
    return hour - HOUR_S if hour == ts_utc else hour


def spread_over_hours(t0: float, t1: float, energy_wh: float) -> Iterable[tuple[int, float]]:
    """Split energy consumed uniformly over ]t0, t1] into UTC hour buckets (start, Wh).

    Hours are end-exclusive, like reading_hour: a span that ends exactly at hh:00:00 puts
    nothing in hour hh, and one that starts there puts nothing in the hour before.
    """
    if t1 <= t0:
        yield reading_hour(t1), energy_wh
        return
    span = t1 - t0
    start = t0
    while start < t1:
        hour = int(start // HOUR_S) * HOUR_S
        end = min(t1, hour + HOUR_S)
        yield hour, energy_wh * (end - start) / span
        start = end


def delta_start(prev: ChannelReading | None, cur: ChannelReading) -> float:
    """Start of the time span that cur's energy delta covers."""
    if prev is None or cur.energy_wh < prev.energy_wh or prev.ts_utc >= cur.ts_utc:
        return cur.ts_utc - cur.interval_s
    return prev.ts_utc


@dataclass(frozen=True, slots=True)
class HourEnergy:
    hour_utc: int  # start of the UTC hour, seconds
    energy_wh: float
    # readings whose interval closed in this hour (one ending at hh:00:00 counts in the
    # hour before, see reading_hour); 0 with energy means spread over a gap
    readings: int


@dataclass(frozen=True, slots=True)
class WriteResult:
    stored: int
    duplicates: int  # the same reading again (a redelivery): nothing to do
    # Same (meter, channel, boot, seq) as a stored reading but other values: not a
    # redelivery (a meter reflashed from scratch counts boot and seq from 1 again). Not
    # stored; the caller keeps them as dead letters so that nothing is lost.
    conflicts: tuple[ChannelReading, ...] = ()


def same_reading(a: ChannelReading, b: ChannelReading) -> bool:
    """Whether b is a redelivery of a (same key): same counter, same meter timestamp."""
    if abs(a.energy_wh - b.energy_wh) > 0.0005:
        return False
    return not (a.ts_from_meter and b.ts_from_meter and abs(a.ts_utc - b.ts_utc) > 0.001)


@dataclass(frozen=True, slots=True)
class MeterSummary:
    meter_id: str
    channels: tuple[int, ...]
    first_ts_utc: float
    last_ts_utc: float
    last_received_utc: float
    readings: int
    status: dict | None


class ReadingStore(Protocol):
    """What a time-series backend offers the collector and the API."""

    def write(self, rows: Sequence[ChannelReading], received_s: float) -> WriteResult:
        """Store rows durably (idempotent on meter, channel, boot, seq) before returning."""

    def latest(self, meter_id: str) -> list[ChannelReading]:
        """The newest reading of each channel of the meter (empty if unknown)."""

    def hourly(self, meter_id: str, start_s: float, end_s: float,
               channel: int | None = None) -> list[HourEnergy]:
        """Energy per UTC hour with start_s <= hour < end_s, summed over channels unless one
        is named; hours without data are absent."""

    def meters(self) -> list[MeterSummary]:
        """Every meter that has stored readings, by meter id, with its status if any. Kept
        at write time by the stores: its cost grows with the meters, not the readings."""

    def delete(self, meter_id: str, start_s: float, end_s: float) -> int:
        """Erase a meter's readings with start_s <= ts_utc < end_s and its hourly energy for
        the hours starting in that span (a household's deletion request); return the
        readings (channel rows) erased."""

    def set_status(self, meter_id: str, status: dict, received_s: float) -> None:
        ...

    def reject(self, reason: str, topic: str, payload: bytes, detail: str,
               received_s: float) -> None:
        """Keep a rejected message in the dead-letter store."""

    def rejections(self) -> dict[str, int]:
        """Rejected messages counted by reason."""

    def close(self) -> None:
        ...
