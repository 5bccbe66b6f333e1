"""The counting rules: cumulative meter counters -> energy per UTC hour, the same for every
backend. Pure functions, no I/O (docs/protocol.md, "From counters to energy").

A channel's readings form a chain ordered by (boot, seq). Each reading adds a link: the
energy since the reading before it (energy_delta_wh) over the span since then
(delta_start), spread over the UTC hours that span crosses (spread_over_hours). A reading
that arrives late is inserted in its place and re-chains the one after it (insert_reading).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from .port import HOUR_S, ChannelReading

# A reading further than this after the one before it (meter timestamps) does not spread
# its energy over the hours between them: the work per reading stays bounded (a counter
# jumping from 2020 to now would otherwise write one row per hour since 2020). Stores take
# their own bound (settings: store.max_gap_h); this is the default.
MAX_GAP_S = 48 * HOUR_S


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


def same_reading(a: ChannelReading, b: ChannelReading) -> bool:
    """Whether b is a redelivery of a (same key): same counters, same meter timestamp."""
    if abs(a.energy_wh - b.energy_wh) > 0.0005:
        return False
    if (a.export_wh is None) != (b.export_wh is None) or (
            a.export_wh is not None and b.export_wh is not None
            and abs(a.export_wh - b.export_wh) > 0.0005):
        return False
    return not (a.ts_from_meter and b.ts_from_meter and abs(a.ts_utc - b.ts_utc) > 0.001)


@dataclass(frozen=True, slots=True)
class Link:
    """What a reading adds to its channel's chain: energy_wh consumed over ]start_s, its ts]."""

    energy_wh: float
    start_s: float


def link(prev: ChannelReading | None, cur: ChannelReading,
         max_gap_s: float = MAX_GAP_S) -> Link:
    """cur's link when prev is the reading before it in (boot, seq) order (None: first).

    A gap longer than max_gap_s is recorded as a gap: cur counts only its own interval,
    like a first reading, and the hours in between stay empty. The energy the counter
    gained over the gap is not allocated to any hour (the stored counters keep it), so a
    reading costs at most its own interval's hours (interval_s <= 24 h) whatever its time.
    """
    if prev is not None and cur.ts_utc - prev.ts_utc > max_gap_s:
        return Link(energy_delta_wh(None, cur), delta_start(None, cur))
    return Link(energy_delta_wh(prev, cur), delta_start(prev, cur))


# (hour start, Wh, readings) added to one channel's hourly totals
HourChange = tuple[int, float, int]


def hour_changes(r: ChannelReading, lnk: Link, readings: int = 1) -> list[HourChange]:
    """What lnk adds to r's channel's hours: its energy spread over its span, and `readings`
    (1 when r is stored, -1 when it is taken out, 0 when only its link changes) in the hour
    r belongs to (reading_hour)."""
    out = [(hour, wh, 0) for hour, wh in spread_over_hours(lnk.start_s, r.ts_utc,
                                                            lnk.energy_wh)]
    if readings:
        out.append((reading_hour(r.ts_utc), 0.0, readings))
    return out


def unlink(r: ChannelReading, lnk: Link) -> list[HourChange]:
    """The opposite of hour_changes(r, lnk, 0): take lnk's energy back out of the hours."""
    return [(hour, -wh, 0) for hour, wh, _ in hour_changes(r, lnk, 0)]


@dataclass(frozen=True, slots=True)
class Insertion:
    """A reading put in its place in the chain: its link, the new link of the reading after
    it (when it arrived late), and what both change in the hourly totals."""

    link: Link
    next_link: Link | None
    hours: list[HourChange]


def insert_reading(prev: ChannelReading | None, cur: ChannelReading,
                   nxt: ChannelReading | None = None,
                   nxt_link: Link | None = None, max_gap_s: float = MAX_GAP_S,
                   readings: int = 1) -> Insertion:
    """Insert cur between prev and nxt (the stored readings just before and after it in
    (boot, seq) order; nxt is None when cur is the newest). A late reading re-chains nxt:
    nxt's energy now runs from cur, not from prev, so nxt's old link (nxt_link) leaves the
    hours and its new one enters them. The channel's total therefore always equals what
    the readings in order would give, whatever the order they arrived in."""
    own = link(prev, cur, max_gap_s)
    if nxt is None:
        t0, t1 = own.start_s, cur.ts_utc
        hour = int(t0 // HOUR_S) * HOUR_S
        if t0 < t1 <= hour + HOUR_S:
            # the common case, a span within one hour: hour_changes' result without its
            # generator, the same figures (spread_over_hours' very expression)
            hours = [(hour, own.energy_wh * (t1 - t0) / (t1 - t0), 0)]
            if readings:
                hours.append((reading_hour(t1), 0.0, readings))
            return Insertion(own, None, hours)
        return Insertion(own, None, hour_changes(cur, own, readings))
    hours = hour_changes(cur, own, readings)
    if nxt_link is None:
        raise ValueError("the stored link of the reading after a late one is needed")
    new_next = link(cur, nxt, max_gap_s)
    hours += unlink(nxt, nxt_link) + hour_changes(nxt, new_next, 0)
    return Insertion(own, new_next, hours)


# -- exported energy (solar) -----------------------------------------------------------------

def export_view(r: ChannelReading | None) -> ChannelReading | None:
    """r as the chain of its export counter sees it: the export counter in place of the
    import one and the power turned round (a mean power of -800 W exported 800 W), so that
    exported energy is counted by the very rules above, gaps and resets included. None
    when r carries no export counter (a consumption-only channel, wire version 1)."""
    if r is None or r.export_wh is None:
        return None
    return replace(r, energy_wh=r.export_wh, power_w=-r.power_w, export_wh=None)


def insert_export(prev: ChannelReading | None, cur: ChannelReading,
                  nxt: ChannelReading | None = None, nxt_link: Link | None = None,
                  max_gap_s: float = MAX_GAP_S) -> Insertion | None:
    """insert_reading for the export counters of the same neighbours (their links and
    hours of exported energy; the readings are counted once, by the import chain). None
    when cur carries no export counter; a neighbour without one counts as no neighbour."""
    xcur = export_view(cur)
    if xcur is None:
        return None
    xnxt = export_view(nxt)
    return insert_reading(export_view(prev), xcur, xnxt, nxt_link if xnxt is not None else None,
                          max_gap_s, readings=0)


# -- plausibility of a reading's key ---------------------------------------------------------

# How far a meter's (boot, seq) may run ahead of the newest key known for it
# (docs/protocol.md, "Suspect keys"). A meter makes at most one reading per second
# (interval_s >= 1) and a boot takes seconds, so beyond the slack the allowance grows with
# the time since that key was received.
SEQ_SLACK = 1000
MIN_INTERVAL_S = 1.0
BOOT_SLACK = 10
MIN_BOOT_S = 5.0


def key_is_plausible(known: tuple[int, int] | None, key: tuple[int, int],
                     elapsed_s: float) -> bool:
    """Whether key (boot, seq) may follow known, the newest trusted key of its meter,
    received elapsed_s ago. No known key, or a key at or before it (a late reading): yes.
    Otherwise the jump must be one the meter could have made in elapsed_s: a seq at most
    SEQ_SLACK + elapsed_s / MIN_INTERVAL_S ahead (counted from 0 in a new boot), and a boot
    at most BOOT_SLACK + elapsed_s / MIN_BOOT_S ahead. A forged boot of 2^53 - 1 fails."""
    if known is None or key <= known:
        return True
    elapsed_s = max(0.0, elapsed_s)
    boot, seq = key
    seq_allowed = SEQ_SLACK + elapsed_s / MIN_INTERVAL_S
    if boot == known[0]:
        return seq - known[1] <= seq_allowed
    return boot - known[0] <= BOOT_SLACK + elapsed_s / MIN_BOOT_S and seq <= seq_allowed
