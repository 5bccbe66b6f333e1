"""Hourly energy counted at read time from a channel's whole chain of readings, for
collectors across hosts (store.hours = "readings", docs/scale.md).

Collectors on separate hosts share one subscription: each receives a share of every
meter's readings and keeps its own ledger, so no ledger holds a channel's whole chain and
hour totals computed by one would be partial (two of them would overwrite each other's
energy_hour points). The readings themselves are idempotent points in the shared
InfluxDB, so the chain is whole there: the reader orders it by (boot, seq) and applies the
very rules of store/rules.py. Pure functions, no I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from .port import ChannelReading, HourEnergy
from .rules import MAX_GAP_S, export_view, hour_changes, link


def chain_reading(meter_id: str, channel: int, row: Mapping) -> ChannelReading:
    """A reading point (the fields the counting rules use) as a ChannelReading."""
    return ChannelReading(
        meter_id=meter_id, channel=channel, boot=row["boot"], seq=row["seq"],
        ts_utc=row["ts_utc"], ts_from_meter=row["ts_from_meter"], interval_s=row["interval_s"],
        energy_wh=row["energy_wh"], power_w=row["power_w"], irms_a=0.0, apparent=False,
        export_wh=row.get("export_wh"))


def chain_hours(chains: Mapping[int, Sequence[ChannelReading]], start_s: float, end_s: float,
                max_gap_s: float = MAX_GAP_S,
                deleted: Sequence[tuple[float, float]] = ()) -> list[HourEnergy]:
    """The hours starting in [start_s, end_s), summed over the channels, from each channel's
    readings (any order, a key more than once allowed: the store keeps one point per key).

    The chains must hold the readings of the range and, on each side, the reading next to
    it (within max_gap_s: a link reaches back at most that far, beyond it its reading counts
    its own interval). The reading before the range starts the first link; its own hours lie
    before start_s. The one after spreads its link back into the range's last hour.

    deleted: spans [start, end) a household had erased. A reading in one is ignored (a host
    that was away may ship it after the deletion), a link across one counts as a gap (its
    reading's own interval only: the counters around the span would otherwise put the
    erased energy back), and hours starting in one stay empty, as the ledger leaves them.
    """
    def in_span(t: float) -> bool:
        return any(a <= t < b for a, b in deleted)

    hours: dict[int, list] = defaultdict(lambda: [0.0, 0, 0.0])  # imported, readings, exported

    def add(changes, col: int) -> None:
        for hour, wh, n in changes:
            if start_s <= hour < end_s and not in_span(hour):
                h = hours[hour]
                h[col] += wh
                h[1] += n

    for rows in chains.values():
        by_key = {r.order_key: r for r in rows if not in_span(r.ts_utc)}
        prev: ChannelReading | None = None
        for key in sorted(by_key):
            cur = by_key[key]
            before = None if prev is not None and any(prev.ts_utc < b and a < cur.ts_utc
                                                      for a, b in deleted) else prev
            add(hour_changes(cur, link(before, cur, max_gap_s), 1), 0)
            xcur = export_view(cur)  # a solar channel's export counter: the same rules
            if xcur is not None:
                add(hour_changes(xcur, link(export_view(before), xcur, max_gap_s), 0), 2)
            prev = cur
    return [HourEnergy(h, e, n, x) for h, (e, n, x) in sorted(hours.items())]
