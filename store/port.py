"""The storage port: what the collector writes and the API reads, whatever the backend,
and the errors a store raises.

Backends (the embedded SQLite store in sqlite.py, InfluxDB in influx.py) implement
ReadingStore side by side; open_store (backends.py) picks the configured one. The counting
rules that turn cumulative meter counters into energy per hour are in rules.py, once for
every backend (see docs/protocol.md, "From counters to energy").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

# the store's errors are defined with every error in citizenwatt/errors.py
from citizenwatt.errors import (  # noqa: F401  (importable from the port)
    DeletionRefused,
    QueryFailed,
    SpoolFull,
    StoreUnavailable,
)

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
    # cumulative counter of the energy sent to the grid (wire contract version 2, a
    # bidirectional channel: solar export); None for a channel that counts consumption only
    export_wh: float | None = None

    @property
    def order_key(self) -> tuple[int, int]:
        return (self.boot, self.seq)

    @property
    def interval_energy_wh(self) -> float:
        """Energy of this reading's own interval, from its mean power."""
        return max(0.0, self.power_w) * self.interval_s / HOUR_S


def readings_from_payload(obj: dict, received_s: float) -> list[ChannelReading]:
    """Turn a decoded wire payload into stored rows (one per channel)."""
    ts = obj.get("ts")
    # the fields in ChannelReading's order, positionally: the collector builds one per
    # channel of every message, and keywords cost a third more. float(): a JSON integer
    # stays a Python int, which SQLite refuses beyond 64 bits
    meter, boot, seq = obj["meter"], obj["boot"], obj["seq"]
    ts_utc, from_meter = float(ts if ts is not None else received_s), ts is not None
    interval_s = float(obj["interval_s"])
    rows = []
    for c in obj["ch"]:
        vrms, pf, export = c.get("vrms_v"), c.get("pf"), c.get("export_wh")
        rows.append(ChannelReading(
            meter, c["id"], boot, seq, ts_utc, from_meter, interval_s, float(c["energy_wh"]),
            float(c["power_w"]), float(c["irms_a"]), c["apparent"],
            None if vrms is None else float(vrms), None if pf is None else float(pf),
            None if export is None else float(export)))
    return rows


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A rejected message, kept with its reason (the dead-letter table)."""

    reason: str
    topic: str
    payload: bytes
    detail: str
    received_s: float


@dataclass(frozen=True, slots=True)
class HourEnergy:
    hour_utc: int  # start of the UTC hour, seconds
    energy_wh: float
    # readings whose interval closed in this hour (one ending at hh:00:00 counts in the
    # hour before, see reading_hour); 0 with energy means spread over a gap
    readings: int
    # energy sent to the grid in the hour (solar export), counted by the same rules
    export_wh: float = 0.0


@dataclass(frozen=True, slots=True)
class DayEnergy:
    """One local day of a channel (or of several, merged), kept at write time."""

    day_utc: int  # local midnight starting the day, UTC seconds
    energy_wh: float
    # bit i: the hour day_utc + i h has a stored hour (what a bucket's coverage counts)
    hours_mask: int
    export_wh: float = 0.0  # sent back to the grid (solar)


@dataclass(frozen=True, slots=True)
class WriteResult:
    stored: int
    duplicates: int  # the same reading again (a redelivery): nothing to do
    # Same (meter, channel, boot, seq) as a stored reading but other values: not a
    # redelivery (a meter reflashed from scratch counts boot and seq from 1 again). Not
    # stored; the caller keeps them as dead letters so that nothing is lost.
    conflicts: tuple[ChannelReading, ...] = ()


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
    """What a time-series backend offers the collector and the API.

    tests/store/test_conformance.py runs the same tests on every backend against this
    contract. A backend that cannot be reached raises StoreUnavailable.
    """

    def write(self, rows: Sequence[ChannelReading], received_s: float, *,
              statuses: Sequence[tuple[str, dict, float]] = (),
              dead_letters: Sequence[DeadLetter] = ()) -> WriteResult:
        """Store rows durably (idempotent on meter, channel, boot, seq) before returning,
        and count their energy by the rules of rules.py, in (boot, seq) order whatever the
        order they arrive in. The statuses (meter, status, received_s) and the dead letters
        go in the same transaction: one commit per collector batch, junk included."""

    def latest(self, meter_id: str) -> list[ChannelReading]:
        """The newest reading of each channel of the meter (empty if unknown)."""

    def hourly(self, meter_id: str, start_s: float, end_s: float,
               channel: int | None = None) -> list[HourEnergy]:
        """Energy per UTC hour with start_s <= hour < end_s, summed over channels unless one
        is named; hours without data are absent. Each hour has the energy imported and the
        energy exported (0 for channels that count consumption only)."""

    def readings(self, meter_id: str, start_s: float, end_s: float,
                 limit: int | None = None) -> list[ChannelReading]:
        """The meter's stored readings (every channel) with start_s <= ts_utc < end_s, by
        time then channel; at most `limit` of them (None: all). A household's export."""

    def meters(self) -> list[MeterSummary]:
        """Every meter that has stored readings, by meter id, with its status if any. Kept
        at write time by the stores: its cost grows with the meters, not the readings."""

    def delete(self, meter_id: str, start_s: float, end_s: float) -> int:
        """Erase a meter's readings with start_s <= ts_utc < end_s and its hourly energy for
        the hours starting in that span (a household's deletion request); return the
        readings (channel rows) erased."""

    def set_status(self, meter_id: str, status: dict, received_s: float) -> None:
        """Keep the meter's last status message; meters() reports it."""

    def reject(self, reason: str, topic: str, payload: bytes, detail: str,
               received_s: float) -> None:
        """Keep a rejected message in the dead-letter store."""

    def rejections(self) -> dict[str, int]:
        """Rejected messages counted by reason."""

    def close(self) -> None:
        """Release connections and threads; what was written stays stored."""
