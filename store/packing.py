"""Packed blocks of readings: the compact form of the embedded store's older tiers.

A block holds consecutive readings of one channel (in (boot, seq) order) column by column:
each number column is turned into integers at the finest decimal scale that gives every
value back exactly (energy counters in mWh, power in cW...; a column that no scale fits is
kept as 8-byte floats), then written as differences (of differences, for the columns that
grow steadily: seq, time, counter), as zig-zag varints, and the whole is deflated. Regular
10 s readings then take a few bytes each instead of the 80-odd of a row.

Pure functions, no I/O: sqlite.py stores the blocks, tests check encode/decode round trips.
The received time is the one value kept to the millisecond only (readers never see it).
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from .port import ChannelReading
from .rules import Link, export_view, link

# (name, kind, order): kind "int", "float" (exact at some decimal scale, else 8 bytes),
# "bool", "ms" (float seconds kept to the ms); order 1 writes differences, 2 differences of
# differences (steady series: seq, times, counters).
RAW_COLUMNS = (
    ("boot", "int", 1), ("seq", "int", 2), ("ts_utc", "float", 2), ("ts_from_meter", "bool", 0),
    ("received_utc", "ms", 2), ("interval_s", "float", 1), ("energy_wh", "float", 2),
    ("power_w", "float", 1), ("irms_a", "float", 1), ("apparent", "bool", 0),
    ("vrms_v", "float", 1), ("pf", "float", 1), ("export_wh", "float", 2),
)
AGGREGATE_COLUMNS = (*RAW_COLUMNS, ("readings", "int", 1))
SCALES = (1, 10, 100, 1000, 10_000)
FORMAT = 1  # first byte of every block: lets a later layout read the older one
_LINK = struct.Struct("<BIdd")  # (0 import, 1 export; index in the block; energy; start)


@dataclass(frozen=True, slots=True)
class StoredReading:
    """A reading as the store keeps it: the port's reading, when it was received, and the
    links (energy and span) it adds to its channel's chains: the import counter's, and the
    export counter's when it has one (solar)."""

    reading: ChannelReading
    received_utc: float
    link: Link
    export_link: Link | None = None


def _zigzag(n: int) -> int:
    return n * 2 if n >= 0 else -n * 2 - 1


def _unzigzag(z: int) -> int:
    return z >> 1 if not z & 1 else -((z + 1) >> 1)


def _put_varint(out: bytearray, n: int) -> None:
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def varint(self) -> int:
        n = shift = 0
        while True:
            b = self.data[self.pos]
            self.pos += 1
            n |= (b & 0x7F) << shift
            if b < 0x80:
                return n
            shift += 7

    def take(self, size: int) -> bytes:
        chunk = self.data[self.pos:self.pos + size]
        self.pos += size
        return chunk


def _diff(values: list[int], order: int) -> list[int]:
    for _ in range(order):
        values = values[:1] + [b - a for a, b in zip(values, values[1:], strict=False)]
    return values


def _undiff(values: list[int], order: int) -> list[int]:
    for _ in range(order):
        acc, out = 0, []
        for i, v in enumerate(values):
            acc = v if i == 0 else acc + v
            out.append(acc)
        values = out
    return values


def _scale_of(values: list[float]) -> int | None:
    """The smallest decimal scale at which every value is an exact integer, else None."""
    for s in SCALES:
        if all(abs(v) * s < 2 ** 52 and round(v * s) / s == v for v in values):
            return s
    return None


def _put_ints(out: bytearray, values: list[int], order: int) -> None:
    for d in _diff(values, order):
        _put_varint(out, _zigzag(d))


def _encode_column(out: bytearray, values: list, kind: str, order: int) -> None:
    present = [v is not None for v in values]
    if not any(present):
        out.append(1)  # all absent (vrms_v, pf without a voltage adapter)
        return
    if all(present):
        out.append(0)
    else:
        out.append(2)
        out.extend(bytes(present))
    vals = [v for v in values if v is not None]
    if kind == "bool":
        out.extend(bytes(int(bool(v)) for v in vals))
    elif kind == "int":
        _put_ints(out, [int(v) for v in vals], order)
    elif kind == "ms":
        _put_ints(out, [round(v * 1000) for v in vals], order)
    else:
        scale = _scale_of(vals)
        if scale is None:
            out.append(0)
            out.extend(struct.pack(f"<{len(vals)}d", *vals))
        else:
            out.append(SCALES.index(scale) + 1)
            _put_ints(out, [round(v * scale) for v in vals], order)


def _decode_column(r: _Reader, n: int, kind: str, order: int) -> list:
    tag = r.varint()
    if tag == 1:
        return [None] * n
    present = [True] * n if tag == 0 else [bool(b) for b in r.take(n)]
    m = sum(present)
    vals: list
    if kind == "bool":
        vals = [bool(b) for b in r.take(m)]
    elif kind in ("int", "ms"):
        vals = _undiff([_unzigzag(r.varint()) for _ in range(m)], order)
        if kind == "ms":
            vals = [v / 1000 for v in vals]
    else:
        how = r.varint()
        if how == 0:
            vals = list(struct.unpack(f"<{m}d", r.take(8 * m)))
        else:
            scale = SCALES[how - 1]
            vals = [v / scale for v in _undiff([_unzigzag(r.varint()) for _ in range(m)], order)]
    it = iter(vals)
    return [next(it) if p else None for p in present]


def _row(s: StoredReading) -> tuple:
    r = s.reading
    return (r.boot, r.seq, r.ts_utc, r.ts_from_meter, s.received_utc, r.interval_s, r.energy_wh,
            r.power_w, r.irms_a, r.apparent, r.vrms_v, r.pf, r.export_wh)


def encode(rows: Sequence[tuple], columns=RAW_COLUMNS) -> bytes:
    out = bytearray([FORMAT])
    _put_varint(out, len(rows))
    for i, (_name, kind, order) in enumerate(columns):
        _encode_column(out, [row[i] for row in rows], kind, order)
    return zlib.compress(bytes(out), 9)


def decode(blob: bytes, columns=RAW_COLUMNS) -> list[tuple]:
    r = _Reader(zlib.decompress(blob))
    if r.varint() != FORMAT:
        raise ValueError("unknown block format")
    n = r.varint()
    cols = [_decode_column(r, n, kind, order) for _name, kind, order in columns]
    return list(zip(*cols, strict=True)) if cols else []


def pack_block(readings: Sequence[StoredReading], max_gap_s: float) -> tuple[bytes, bytes]:
    """(readings, links) of a block of one channel's consecutive readings. Links are kept
    only where they differ from what the reading before gives (rules.link): the first
    reading's, one after a late arrival or a deletion, one counted under another max gap."""
    links = bytearray()
    prev = None
    for i, s in enumerate(readings):
        if prev is None or link(prev, s.reading, max_gap_s) != s.link:
            links += _LINK.pack(0, i, s.link.energy_wh, s.link.start_s)
        if s.export_link is not None and (prev is None or _export_link(prev, s.reading, max_gap_s)
                                          != s.export_link):
            links += _LINK.pack(1, i, s.export_link.energy_wh, s.export_link.start_s)
        prev = s.reading
    return encode([_row(s) for s in readings]), bytes(links)


def _export_link(prev: ChannelReading | None, cur: ChannelReading, max_gap_s: float) -> Link | None:
    """The export chain's link of cur, as rules.insert_export gives it."""
    xcur = export_view(cur)
    return None if xcur is None else link(export_view(prev), xcur, max_gap_s)


def unpack_block(meter_id: str, channel: int, blob: bytes, links: bytes,
                 max_gap_s: float) -> list[StoredReading]:
    """The readings pack_block packed, links included, exactly."""
    kept = {(k, i): Link(e, t0) for k, i, e, t0 in _LINK.iter_unpack(links)}
    out: list[StoredReading] = []
    prev = None
    for i, row in enumerate(decode(blob)):
        (boot, seq, ts, from_meter, received, interval, energy, power, irms, apparent, vrms,
         pf, export) = row
        r = ChannelReading(meter_id, channel, boot, seq, ts, from_meter, interval, energy, power,
                           irms, apparent, vrms, pf, export)
        lnk = kept.get((0, i))
        if lnk is None:
            assert prev is not None, "a block's first link is always kept"
            lnk = link(prev, r, max_gap_s)
        xlnk = kept.get((1, i))
        if xlnk is None and prev is not None:
            xlnk = _export_link(prev, r, max_gap_s)
        out.append(StoredReading(r, received, lnk, xlnk))
        prev = r
    return out


# -- aggregates --------------------------------------------------------------------------------

def _mean(pairs: list[tuple[float, float]], digits: int) -> float | None:
    weight = sum(w for _v, w in pairs)
    if not pairs or weight <= 0:
        return None
    return round(sum(v * w for v, w in pairs) / weight, digits)


def aggregate(readings: Sequence[StoredReading], step_s: int) -> list[tuple]:
    """Readings of one channel folded into one row per step_s of their time: the last
    reading's key, time and counter, the summed interval, the interval-weighted means of
    power, current, voltage and power factor (to the wire's decimals), and how many
    readings it stands for. Rows in AGGREGATE_COLUMNS order, by time."""
    groups: dict[int, list[StoredReading]] = {}
    for s in readings:
        groups.setdefault(math.floor(s.reading.ts_utc / step_s), []).append(s)
    out = []
    for key in sorted(groups):
        g = sorted(groups[key], key=lambda s: s.reading.order_key)
        last = g[-1].reading
        w = [(s.reading, max(s.reading.interval_s, 1e-9)) for s in g]
        volts = [(r.vrms_v, x) for r, x in w if r.vrms_v is not None]
        pfs = [(r.pf, x) for r, x in w if r.pf is not None]
        out.append((
            last.boot, last.seq, last.ts_utc, all(r.ts_from_meter for r, _x in w),
            max(s.received_utc for s in g), round(sum(r.interval_s for r, _x in w), 3),
            last.energy_wh, _mean([(r.power_w, x) for r, x in w], 2),
            _mean([(r.irms_a, x) for r, x in w], 3), any(r.apparent for r, _x in w),
            _mean(volts, 2), _mean(pfs, 4), last.export_wh, len(g)))
    return out


def merge_aggregates(rows: Sequence[tuple], step_s: int) -> list[tuple]:
    """Aggregate rows of one channel with the rows of the same step combined into one (a
    step whose readings were packed in two blocks), as aggregate() would have made it."""
    groups: dict[int, list[tuple]] = {}
    for row in rows:
        groups.setdefault(math.floor(row[2] / step_s), []).append(row)
    out = []
    for key in sorted(groups):
        g = sorted(groups[key], key=lambda r: (r[0], r[1]))
        if len(g) == 1:
            out.append(g[0])
            continue
        last = g[-1]
        w = [(r, max(r[5], 1e-9)) for r in g]
        out.append((
            last[0], last[1], last[2], all(r[3] for r in g), max(r[4] for r in g),
            round(sum(r[5] for r in g), 3), last[6], _mean([(r[7], x) for r, x in w], 2),
            _mean([(r[8], x) for r, x in w], 3), any(r[9] for r in g),
            _mean([(r[10], x) for r, x in w if r[10] is not None], 2),
            _mean([(r[11], x) for r, x in w if r[11] is not None], 4), last[12],
            sum(r[13] for r in g)))
    return out


def aggregate_readings(meter_id: str, channel: int, rows: Sequence[tuple]) -> list[ChannelReading]:
    """An aggregate tier's rows as the port's readings (one per step, as a meter reading
    over the step would have been)."""
    return [ChannelReading(meter_id, channel, boot, seq, ts, from_meter, interval, energy,
                           power, irms, apparent, vrms, pf, export)
            for (boot, seq, ts, from_meter, _received, interval, energy, power, irms, apparent,
                 vrms, pf, export, _n) in rows]
