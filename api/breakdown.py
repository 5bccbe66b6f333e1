"""Where a household's kWh go: the big, recognisable appliances found in the whole-house
10 s power series (and power factor where a voltage sensor is fitted). Pure functions, no
I/O: the page feeds them stored readings, the bench feeds them simulated households.

The method, in numbered steps:
1. edges: step changes of the 10 s means, a mid-interval step's two partial samples and a
   compressor's start spike merged into one edge measured between steady levels;
2. pairs: each off edge closes the open on edge of the nearest size (and reactive power),
   so a kettle boiled during the water heater's run pairs with itself;
3. the household's own signatures, learnt from the month: the water heater's power and
   off-peak hours (its long night runs), the cold appliances' recurring cycle size;
4. labels from size, power factor, duration, time of day and the neighbours of a pulse
   (an oven's preheat then short thermostat pulses, a washing machine's drum after its
   heating, a dishwasher's two heatings, convectors' repeated cycles);
5. energy per appliance and a confidence from how many runs were found and how alike they
   are; the page hides an appliance below a bound.
A sub-clamp's channel (the water heater's own circuit) is ground truth: `check_with_sub`
compares the estimate with it, and the page shows the clamp's figure instead.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from dataclasses import dataclass
from statistics import median
from zoneinfo import ZoneInfo

APPLIANCES = ("water_heater", "kettle", "oven", "cold", "washing_machine", "dishwasher", "heating")
EDGE_W = 40.0            # smallest step taken as an appliance switching (noise is ~4 W)
MAX_ON_S = 5 * 3600      # longest run paired (a water heater's night run)


@dataclass(frozen=True, slots=True)
class Edge:
    i: int          # index of the first sample at the new level (roughly)
    dp_w: float
    dq_var: float


@dataclass(frozen=True, slots=True)
class Pair:
    on_s: float
    off_s: float
    power_w: float
    q_var: float

    @property
    def duration_s(self) -> float:
        return self.off_s - self.on_s

    @property
    def energy_wh(self) -> float:
        return self.power_w * self.duration_s / 3600


@dataclass(frozen=True, slots=True)
class Detected:
    appliance: str
    start_s: float
    end_s: float
    energy_wh: float
    power_w: float


@dataclass(frozen=True, slots=True)
class Share:
    appliance: str
    energy_wh: float
    runs: int
    confidence: float   # 0..1: below the page's bound the appliance is not shown
    measured: bool = False  # True: from a sub-clamp, not estimated


@dataclass(frozen=True, slots=True)
class Breakdown:
    total_wh: float
    shares: list[Share]
    events: list[Detected]


def reactive(power_w: list[float], pf: list[float] | None) -> list[float] | None:
    """Reactive power from the real power and the power factor (lagging loads)."""
    if pf is None:
        return None
    return [p * math.sqrt(max(0.0, 1.0 / (f * f) - 1.0)) if f > 0.05 else 0.0
            for p, f in zip(power_w, pf, strict=True)]


def edges(p: list[float], q: list[float] | None, thr_w: float = EDGE_W) -> list[Edge]:
    """Step 1: steps of at least thr_w between steady levels."""
    out: list[Edge] = []
    n = len(p)
    i = 1
    small = 0.25 * thr_w
    while i < n - 2:
        d = p[i] - p[i - 1]
        if abs(d) < thr_w:
            i += 1
            continue
        a = i - 1                 # last sample at the old level
        if a >= 1 and (p[a] - p[a - 1]) * d > 0 and abs(p[a] - p[a - 1]) >= small:
            a -= 1                # a first partial sample (the step fell late in it)
        j = i
        while j + 1 < n - 2 and (p[j + 1] - p[j]) * d > 0 and abs(p[j + 1] - p[j]) >= small:
            j += 1                # the step's second partial sample
        before = p[a] if a == 0 else (p[a] + p[a - 1]) / 2 if abs(p[a] - p[a - 1]) < thr_w else p[a]
        after = (p[j + 1] + p[j + 2]) / 2 if abs(p[j + 2] - p[j + 1]) < thr_w else p[j + 1]
        dp = after - before
        dq = 0.0
        if q is not None:
            dq = (q[j + 1] + q[j + 2]) / 2 - q[a]
        if abs(dp) >= thr_w:
            out.append(Edge(a + 1, dp, dq))
        i = j + 2   # the new level was measured on j + 1 (a start spike's decay is not an edge)
    return out


def pairs(es: list[Edge], start_s: float, interval_s: float, with_q: bool,
          multistate: bool = False) -> list[Pair]:
    """Step 2: each off edge closes the open on edge nearest in size (then the latest).
    With multistate, an off edge smaller than an open on edge by at most 700 W, with
    nothing nearer, closes it too and leaves the rest running (a washing machine's heating
    stops and its drum turns on within the same 10 s)."""
    open_: list[Edge] = []
    out: list[Pair] = []
    for e in es:
        t = start_s + e.i * interval_s
        if e.dp_w > 0:
            open_.append(e)
            continue
        m = -e.dp_w
        tol = max(25.0, 0.08 * m)
        best, best_d = None, tol
        step, step_d = None, 700.0
        for k in range(len(open_) - 1, -1, -1):
            o = open_[k]
            if t - (start_s + o.i * interval_s) > MAX_ON_S:
                break
            d = abs(o.dp_w - m)
            if with_q:
                d += 0.5 * abs(o.dq_var + e.dq_var)
            if d < best_d:
                best, best_d = k, d
            if multistate and o.dp_w > m >= 800 and o.dp_w - m < step_d:
                step, step_d = k, o.dp_w - m
        if best is not None:
            o = open_.pop(best)
            out.append(Pair(start_s + o.i * interval_s, t, (o.dp_w + m) / 2, (o.dq_var - e.dq_var) / 2))
        elif step is not None:
            o = open_.pop(step)
            out.append(Pair(start_s + o.i * interval_s, t, m, -e.dq_var))
            open_.append(Edge(e.i, o.dp_w - m, o.dq_var + e.dq_var))
        if len(open_) > 400:  # forget on edges older than any run
            open_ = [o for o in open_ if t - (start_s + o.i * interval_s) <= MAX_ON_S]
    out.sort(key=lambda x: x.on_s)
    return out


def _hour(t: float, tz: ZoneInfo) -> float:
    d = dt.datetime.fromtimestamp(t, tz)
    return d.hour + d.minute / 60


def _near(a: float, b: float, rel: float) -> bool:
    return abs(a - b) <= rel * b


def _in_windows(h: float, windows: list[tuple[float, float]]) -> bool:
    return any((h - s) % 24 <= length for s, length in windows)


def _water_heater(big: list[Pair], tz: ZoneInfo) -> tuple[float | None, list[tuple[float, float]]]:
    """Step 3: the water heater's power (its long runs) and its hours (when they start)."""
    long_ = [x for x in big if x.duration_s >= 40 * 60]
    # Its runs start at the same time every night (the off-peak signal): of the power
    # clusters of long runs, the one whose starts gather most.
    best, best_n = None, 2
    for x in long_:
        alike = [y for y in long_ if _near(y.power_w, x.power_w, 0.04)]
        hours = [_hour(y.on_s, tz) for y in alike]
        centre = median((h + 12) % 24 for h in hours) - 12
        n = sum(1 for h in hours if abs((h - centre + 12) % 24 - 12) <= 0.3)
        if n > best_n:
            best, best_n = x, n
    if best is None:
        return None, []
    runs = [y for y in long_ if _near(y.power_w, best.power_w, 0.04)]
    power = median(y.power_w for y in runs)
    hours = sorted(_hour(x.on_s, tz) for x in runs)
    windows = []
    night = [h for h in hours if h >= 20 or h < 6]
    if len(night) >= 3:
        windows.append((median(night) - 0.5, 8.5))
    midday = [h for h in hours if 10 <= h < 17]
    if len(midday) >= 3:
        windows.append((median(midday) - 0.5, 3.0))
    return power, windows


def _oven_sessions(big: list[Pair]) -> list[list[Pair]]:
    """An oven: a preheat of at least 5 minutes, then short pulses of the same power."""
    sessions: list[list[Pair]] = []
    k = 0
    while k < len(big):
        first = big[k]
        s = [first]
        for x in big[k + 1:]:
            if x.on_s - s[-1].off_s > 7 * 60:
                break
            if _near(x.power_w, first.power_w, 0.05):
                s.append(x)     # a kettle boiled meanwhile is skipped, not a break
        later = [x.duration_s for x in s[1:]]
        if (len(s) >= 3 and first.duration_s >= 5 * 60 and first.power_w >= 1800
                and median(later) <= 4.5 * 60):
            sessions.append(s)
            taken = {id(x) for x in s}
            big = [x for x in big if id(x) not in taken]
        else:
            k += 1
    return sessions


def _alike(sorted_w: list[float], w: float, rel: float) -> int:
    """How many of sorted_w lie within rel of w."""
    return bisect.bisect_right(sorted_w, w * (1 + rel)) - bisect.bisect_left(sorted_w, w * (1 - rel))


def _cycle_sizes(sorted_w: list[float], at_least: float) -> list[float]:
    """The one or two recurring cycle sizes (a fridge, a freezer) among sorted_w."""
    sizes: list[float] = []
    left = list(sorted_w)
    while left and len(sizes) < 2:
        w = max(left, key=lambda v: _alike(left, v, max(0.08, 12 / v)))
        if _alike(left, w, max(0.08, 12 / w)) < at_least:
            break
        sizes.append(w)
        left = [v for v in left if abs(v - w) > max(0.1 * w, 12)]
    return sizes


def _cycles(es: list[Edge], start_s: float, interval_s: float, size_w: float) -> list[Pair]:
    """A compressor's cycles: each on edge of its size closed by the first off edge of its
    size 8 to 60 minutes later (a lamp switched off meanwhile is not the compressor)."""
    tol = max(15.0, 0.12 * size_w)
    offs = [(start_s + e.i * interval_s, e) for e in es if abs(-e.dp_w - size_w) <= tol]
    times = [t for t, _ in offs]
    taken: set[int] = set()
    out = []
    for e in es:
        if abs(e.dp_w - size_w) > tol:
            continue
        t = start_s + e.i * interval_s
        k = bisect.bisect_left(times, t + 5 * 60)
        while k < len(offs) and offs[k][0] <= t + 70 * 60 and k in taken:
            k += 1
        if k < len(offs) and offs[k][0] <= t + 70 * 60:
            taken.add(k)
            out.append(Pair(t, offs[k][0], (e.dp_w - offs[k][1].dp_w) / 2, 0.0))
    return out


def _count_edges(times: list[float], lo: float, hi: float) -> int:
    return bisect.bisect_left(times, hi) - bisect.bisect_left(times, lo)


def analyse(  # noqa: C901 - the numbered steps of one method, kept together to be read as one
        start_s: float, interval_s: float, power_w: list[float], pf: list[float] | None,
        tz: ZoneInfo) -> Breakdown:
    """The breakdown of one household's series (10 s means from start_s)."""
    q = reactive(power_w, pf)
    es = edges(power_w, q)
    ps = pairs(es, start_s, interval_s, q is not None, multistate=True)
    days = max(1.0, len(power_w) * interval_s / 86400)
    with_q = q is not None
    motor_times = sorted(start_s + e.i * interval_s for e in es if 80 <= abs(e.dp_w) <= 700)

    def resistive(x: Pair) -> bool:
        return not with_q or x.q_var <= 0.12 * x.power_w

    big = [x for x in ps if x.power_w >= 800 and resistive(x)]
    small = [x for x in ps if x.power_w < 800]
    found: list[Detected] = []
    used: set[int] = set()

    def take(name: str, group: list[Pair], start: float | None = None, end: float | None = None,
             extra_wh: float = 0.0) -> None:
        for x in group:
            used.add(id(x))
        found.append(Detected(name, group[0].on_s if start is None else start,
                              group[-1].off_s if end is None else end,
                              sum(x.energy_wh for x in group) + extra_wh,
                              median(x.power_w for x in group)))

    # Step 3-4: water heater.
    wh_w, wh_hours = _water_heater(big, tz)
    if wh_w is not None:
        for x in big:
            if (_near(x.power_w, wh_w, 0.04) and x.duration_s >= 6 * 60
                    and _in_windows(_hour(x.on_s, tz), wh_hours)):
                take("water_heater", [x])
    free = [x for x in big if id(x) not in used]
    # Oven sessions.
    for s in _oven_sessions(free):
        take("oven", s)
    free = [x for x in free if id(x) not in used]
    # Convectors: the same 1-2 kW pulse of 4-25 minutes, many times a day.
    pulses = [x for x in free if 900 <= x.power_w <= 2150 and 4 * 60 <= x.duration_s <= 26 * 60]
    pw = sorted(x.power_w for x in pulses)
    for x in pulses:
        if _alike(pw, x.power_w, 0.04) >= 4 * days:
            take("heating", [x])
    free = [x for x in free if id(x) not in used]
    # Washing machine and dishwasher: a 10-25 min heating with a motor around it.
    for k, x in enumerate(free):
        if id(x) in used or not (1600 <= x.power_w <= 2400 and 8 * 60 <= x.duration_s <= 25 * 60):
            continue
        after = _count_edges(motor_times, x.off_s + 30, x.off_s + 30 * 60)
        second = [y for y in free[k + 1:] if id(y) not in used and 12 * 60 <= y.on_s - x.off_s <= 45 * 60
                  and _near(y.power_w, x.power_w, 0.06) and 6 * 60 <= y.duration_s <= 20 * 60]
        if after >= 8:
            motor = [y for y in small if x.off_s <= y.on_s <= x.off_s + 90 * 60 and 120 <= y.power_w <= 600]
            end = max([x.off_s] + [y.off_s for y in motor])
            take("washing_machine", [x], x.on_s - 4 * 60, end, sum(y.energy_wh for y in motor))
        elif second:
            y = second[0]
            motor = [z for z in small if x.on_s - 15 * 60 <= z.on_s <= y.on_s and 80 <= z.power_w <= 250]
            take("dishwasher", [x, y], x.on_s - 10 * 60, y.off_s + 10 * 60, sum(z.energy_wh for z in motor))
    free = [x for x in free if id(x) not in used]
    # Kettle: a short boil at about 2 kW, always the same power (a hair dryer has its own).
    boils = [x for x in free if 1650 <= x.power_w <= 2350 and 80 <= x.duration_s <= 280]
    if boils:
        bw = sorted(x.power_w for x in boils)
        mode = max(bw, key=lambda w: _alike(bw, w, 0.03))
        for x in boils:
            if _near(x.power_w, mode, 0.045):
                take("kettle", [x])
    # Cold appliances: a recurring 55-175 W cycle of 10-45 minutes (inductive with voltage).
    cyc = [x for x in small if 55 <= x.power_w <= 175 and 8 * 60 <= x.duration_s <= 60 * 60
           and (not with_q or 0.5 <= x.q_var / x.power_w <= 1.05)]
    cyc_w = sorted(x.power_w for x in cyc)
    sizes = _cycle_sizes(cyc_w, 6 * days)
    starts = set()
    for size in sizes:
        for x in _cycles(es, start_s, interval_s, size):
            if x.on_s in starts:
                continue  # a fridge's and a freezer's sizes overlap: one cycle, once
            take("cold", [x])
            starts.add(x.on_s)
    for x in cyc:  # a cycle whose off edge the constrained search missed, from step 2
        if x.on_s not in starts and any(abs(x.power_w - w) <= max(15.0, 0.12 * w) for w in sizes):
            take("cold", [x])
    found.sort(key=lambda d: d.start_s)
    total_wh = sum(power_w) * interval_s / 3600
    return Breakdown(total_wh, _shares(found, days), found)


def _shares(found: list[Detected], days: float) -> list[Share]:
    """Step 5: energy per appliance and the confidence in it."""
    expected = {  # runs in a month that make an appliance's pattern convincing
        "water_heater": 0.8, "kettle": 1.0, "oven": 0.2, "cold": 15.0,
        "washing_machine": 0.2, "dishwasher": 0.2, "heating": 5.0,
    }
    out = []
    for name in APPLIANCES:
        ev = [d for d in found if d.appliance == name]
        if not ev:
            continue
        powers = sorted(d.power_w for d in ev)
        # Alike: the share of runs at one of the appliance's one or two usual powers (a
        # fridge and a freezer, two convectors), 50 % or less counting for nothing.
        sizes = _cycle_sizes(powers, 1)
        usual = sum(1 for w in powers if any(abs(w - s) <= max(0.06 * s, 12) for s in sizes))
        alike = max(0.0, 2 * usual / len(powers) - 1) if len(powers) > 1 else 0.0
        volume = min(1.0, len(ev) / (expected[name] * days))
        out.append(Share(name, sum(d.energy_wh for d in ev), len(ev), round(volume * alike, 3)))
    return out


def with_sub(bd: Breakdown, appliance: str, sub_power_w: list[float], interval_s: float) -> Breakdown:
    """A sub-clamp measures `appliance` on its own circuit: its energy replaces the
    estimate, with full confidence."""
    measured = sum(sub_power_w) * interval_s / 3600
    shares = [s for s in bd.shares if s.appliance != appliance]
    runs = sum(1 for d in bd.events if d.appliance == appliance)
    shares.append(Share(appliance, measured, runs, 1.0, True))
    shares.sort(key=lambda s: APPLIANCES.index(s.appliance))
    return Breakdown(bd.total_wh, shares, bd.events)


def check_with_sub(bd: Breakdown, appliance: str, sub_power_w: list[float],
                   interval_s: float) -> float | None:
    """The estimate's relative error on `appliance`'s energy against its sub-clamp."""
    measured = sum(sub_power_w) * interval_s / 3600
    if measured <= 0:
        return None
    est = sum(s.energy_wh for s in bd.shares if s.appliance == appliance)
    return (est - measured) / measured
