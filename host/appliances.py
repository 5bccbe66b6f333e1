"""A realistic appliance library for judging the appliance breakdown: a household's 10 s
mean power series (and power factor where a voltage sensor is fitted) as its meter sends
it, with the ground truth of which appliance ran when.

Deterministic from a seed. Loads that look alike on purpose: kettle, hair dryer and the
heating pulses of the washing machine and dishwasher all draw about 2 kW at pf 1; fridge
and freezer cycle at 70-150 W beside a television and LED lights of the same size; oven
thermostat pulses and convector cycles repeat for an hour or more. Events overlap freely
(the kettle runs during the water heater's night run), every event's power varies a
little (mains voltage, element temperature), and the series carries measurement noise.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
INTERVAL_S = 10
# The appliances the breakdown is judged on; everything else is "other".
JUDGED = ("water_heater", "kettle", "oven", "cold", "washing_machine", "dishwasher", "heating")


@dataclass(frozen=True)
class Event:
    """One run of an appliance: a kettle boil, a fridge cycle, a whole washing programme,
    one on-period of a convector, one water-heater run (a thermostat restart is its own)."""

    appliance: str
    start_s: float
    end_s: float
    energy_wh: float


@dataclass
class SimulatedHome:
    seed: int
    start_s: float            # UTC, the first 10 s interval's start
    power_w: list[float]      # 10 s mean real power of the whole house
    pf: list[float] | None    # 10 s power factor, None without a voltage sensor
    events: list[Event]
    energy_wh: dict[str, float]       # ground-truth energy per appliance (and "other")
    water_heater_w: list[float] | None = None  # the sub-clamp's channel, when fitted
    traits: dict = field(default_factory=dict)

    @property
    def total_wh(self) -> float:
        return sum(self.power_w) * INTERVAL_S / 3600


class _Builder:
    def __init__(self, start_s: float, n: int):
        self.start_s = start_s
        self.p = [0.0] * n
        self.q = [0.0] * n
        self.wh: list[float] | None = None
        self.events: list[Event] = []
        self.energy: dict[str, float] = {}

    def add(self, t0: float, t1: float, p_w: float, q_var: float = 0.0, who: str = "other",
            sub: bool = False) -> float:
        """Add a constant load over [t0, t1) into the 10 s means; return its Wh."""
        n = len(self.p)
        a = (t0 - self.start_s) / INTERVAL_S
        b = (t1 - self.start_s) / INTERVAL_S
        a, b = max(a, 0.0), min(b, float(n))
        if b <= a:
            return 0.0
        i, j = int(a), int(b)
        p, q, w = self.p, self.q, self.wh
        if i == j:
            f = b - a
            p[i] += p_w * f
            q[i] += q_var * f
            if sub and w is not None:
                w[i] += p_w * f
        else:
            f = i + 1 - a
            p[i] += p_w * f
            q[i] += q_var * f
            if sub and w is not None:
                w[i] += p_w * f
            for k in range(i + 1, j):
                p[k] += p_w
                q[k] += q_var
                if sub and w is not None:
                    w[k] += p_w
            if j < n:
                f = b - j
                p[j] += p_w * f
                q[j] += q_var * f
                if sub and w is not None:
                    w[j] += p_w * f
        e = p_w * (b - a) * INTERVAL_S / 3600
        self.energy[who] = self.energy.get(who, 0.0) + e
        return e

    def event(self, who: str, t0: float, t1: float, energy_wh: float) -> None:
        if t1 > self.start_s and t0 < self.start_s + len(self.p) * INTERVAL_S:
            self.events.append(Event(who, t0, t1, energy_wh))


def _q(p_w: float, pf: float) -> float:
    return p_w * math.tan(math.acos(pf))


def _cycling(b: _Builder, r: random.Random, who: str, t_end: float, p_w: float, pf: float,
             on_min: tuple[float, float], off_min: tuple[float, float], spike: float) -> None:
    """A compressor cycling all month: each on-period an event, an inrush at each start."""
    t = b.start_s - r.uniform(0, 60) * 60
    while t < t_end:
        on = r.uniform(*on_min) * 60
        pw = p_w * r.uniform(0.95, 1.05)
        e = b.add(t, t + on, pw, _q(pw, pf), who)
        e += b.add(t, t + 1.0, spike * pw, _q(spike * pw, 0.5), who)  # locked-rotor start
        b.event(who, t, t + on, e)
        t += on + r.uniform(*off_min) * 60


def simulate(seed: int, days: int = 30, start: dt.date = dt.date(2026, 1, 5),
             sub_clamp: bool | None = None, voltage: bool | None = None) -> SimulatedHome:
    """One household over `days` local days from `start` (a winter month by default)."""
    r = random.Random(seed * 7919 + 17)
    t0 = dt.datetime.combine(start, dt.time(0), PARIS).timestamp()
    t1 = dt.datetime.combine(start + dt.timedelta(days=days), dt.time(0), PARIS).timestamp()
    n = int((t1 - t0) // INTERVAL_S)
    b = _Builder(t0, n)
    drawn_v, drawn_s = r.random() < 0.5, r.random() < 0.3  # drawn always: same home either way
    has_voltage = drawn_v if voltage is None else voltage
    has_sub = drawn_s if sub_clamp is None else sub_clamp
    if has_sub:
        b.wh = [0.0] * n
    traits = {
        "standby_w": r.uniform(40, 150),
        "fridge_w": r.uniform(70, 150),
        "freezer_w": r.uniform(70, 150) if r.random() < 0.6 else None,
        "kettle_w": r.uniform(1800, 2200) if r.random() < 0.85 else None,
        "water_heater_w": r.uniform(2000, 3000) if r.random() < 0.85 else None,
        "off_peak_h": r.choice((22.0, 22.5, 23.0, 1.0)),
        "midday_off_peak": r.random() < 0.3,
        "oven_w": r.uniform(2000, 2500),
        "washer_w": r.uniform(1800, 2200),
        "dishwasher_w": r.uniform(1800, 2200) if r.random() < 0.6 else None,
        "convectors_w": [r.uniform(1000, 2000) for _ in range(r.choice((1, 2, 3)))]
        if r.random() < 0.5 else [],
        "hair_dryer_w": r.uniform(1200, 2000) if r.random() < 0.4 else None,
        "microwave_w": r.uniform(1000, 1400) if r.random() < 0.7 else None,
        "voltage": has_voltage,
        "sub_clamp": has_sub,
    }
    _cycling(b, r, "cold", t1, traits["fridge_w"], r.uniform(0.72, 0.85), (15, 30), (25, 50), 5.0)
    if traits["freezer_w"]:
        _cycling(b, r, "cold", t1, traits["freezer_w"], r.uniform(0.72, 0.85), (20, 40), (30, 60), 5.0)
    for d in range(days):
        day = start + dt.timedelta(days=d)
        base = dt.datetime.combine(day, dt.time(0), PARIS).timestamp()
        _day(b, random.Random(seed * 1_000_003 + day.toordinal()), traits, base, day)
    # Standby and noise: the router, the boxes, a drift of a few watts, the meter's noise.
    rs = random.Random(seed * 31 + 5)
    drift = 0.0
    sb = traits["standby_w"]
    p, q = b.p, b.q
    added = 0.0
    for k in range(n):
        drift = 0.999 * drift + rs.gauss(0, 0.4)
        w = sb + drift + rs.gauss(0, 3.0)
        p[k] += w
        q[k] += 0.35 * sb
        added += w
    b.energy["other"] = b.energy.get("other", 0.0) + added * INTERVAL_S / 3600
    pf = None
    if has_voltage:
        pf = [min(1.0, pk / math.hypot(pk, qk)) if pk > 1 else 1.0 for pk, qk in zip(p, q, strict=True)]
    b.events.sort(key=lambda e: e.start_s)
    return SimulatedHome(seed, t0, p, pf, b.events, b.energy, b.wh, traits)


def _at(base: float, h: float) -> float:
    return base + h * 3600


def _day(b: _Builder, r: random.Random, tr: dict, base: float, day: dt.date) -> None:  # noqa: C901 - one schedule per appliance, read top to bottom
    weekend = day.weekday() >= 5
    # Water heater: one run at the start of the off-peak hours (1-3 h by yesterday's use),
    # then thermostat restarts in the night, and a midday run where the contract has one.
    wh = tr["water_heater_w"]
    if wh:
        runs = [(tr["off_peak_h"] + r.uniform(0, 0.1), r.uniform(1.0, 3.0))]
        t = runs[0][0] + runs[0][1]
        for _ in range(r.choice((0, 1, 1, 2))):
            t += r.uniform(0.7, 2.0)
            if (t - tr["off_peak_h"]) % 24 < 7.5:
                runs.append((t, r.uniform(0.12, 0.4)))
        if tr["midday_off_peak"] and r.random() < 0.7:
            runs.append((12.5 + r.uniform(0, 0.2), r.uniform(0.3, 1.0)))
        for h, length in runs:
            s = _at(base, h)
            pw = wh * r.uniform(0.98, 1.02)
            e = b.add(s, s + length * 3600, pw, 0.0, "water_heater", sub=True)
            b.event("water_heater", s, s + length * 3600, e)
    # Kettle: breakfast, afternoon, evening.
    if tr["kettle_w"]:
        for centre, p in ((7.2, 0.9), (10.5, 0.3), (16.5, 0.5), (20.5, 0.35), (22.0, 0.2)):
            if r.random() < p:
                s = _at(base, centre + r.gauss(0, 0.4))
                length = r.uniform(2.0, 4.0) * 60
                pw = tr["kettle_w"] * r.uniform(0.97, 1.03)
                b.event("kettle", s, s + length, b.add(s, s + length, pw, 0.0, "kettle"))
    # Oven: preheat, then thermostat pulses for half an hour to an hour and a half.
    if r.random() < (0.6 if weekend else 0.35):
        s = _at(base, (12.0 if weekend and r.random() < 0.5 else 19.0) + r.uniform(0, 1.0))
        end = s + r.uniform(30, 90) * 60
        pw = tr["oven_w"] * r.uniform(0.98, 1.02)
        t = s + r.uniform(8, 15) * 60
        e = b.add(s, t, pw, 0.0, "oven")
        while t < end:
            t += r.uniform(2, 5) * 60
            on = r.uniform(1, 3.5) * 60
            e += b.add(t, t + on, pw, 0.0, "oven")
            t += on
        b.event("oven", s, t, e)
    # Washing machine: heat the water, then the drum turns, then the spin.
    if r.random() < 0.4:
        s = _at(base, r.choice((9.0, 14.0, 19.5)) + r.uniform(0, 1.5))
        e = b.add(s, s + 120, 40, _q(40, 0.6), "washing_machine")  # filling, a pump
        t = s + r.uniform(2, 4) * 60
        heat = r.uniform(10, 20) * 60
        e += b.add(t, t + heat, tr["washer_w"] * r.uniform(0.98, 1.02), 0.0, "washing_machine")
        t += heat
        end = t + r.uniform(45, 75) * 60
        while t < end:
            on = r.uniform(0.5, 2.5) * 60
            pw = r.uniform(150, 500)
            e += b.add(t, t + on, pw, _q(pw, 0.6), "washing_machine")
            t += on + r.uniform(0.2, 1.0) * 60
        spin = r.uniform(5, 10) * 60
        e += b.add(t, t + spin, r.uniform(350, 500), _q(450, 0.65), "washing_machine")
        b.event("washing_machine", s, t + spin, e)
    # Dishwasher: prewash, first heating, wash, second heating (rinse), drying.
    if tr["dishwasher_w"] and r.random() < 0.6:
        s = _at(base, 20.5 + r.uniform(0, 1.5))
        t = s
        e = 0.0
        for phase, (lo, hi) in (("motor", (8, 12)), ("heat", (10, 20)), ("motor", (20, 30)),
                                ("heat", (8, 15)), ("dry", (10, 20))):
            length = r.uniform(lo, hi) * 60
            if phase == "heat":
                pw, qv = tr["dishwasher_w"] * r.uniform(0.98, 1.02), 0.0
            elif phase == "motor":
                pw = r.uniform(100, 200)
                qv = _q(pw, 0.7)
            else:
                pw, qv = 10.0, 0.0
            e += b.add(t, t + length, pw, qv, "dishwasher")
            t += length
        b.event("dishwasher", s, t, e)
    # Electric heating: each convector's thermostat cycles in the morning and evening.
    for cw in tr["convectors_w"]:
        for h0, h1 in ((6.0 + r.uniform(0, 0.5), 9.0), (17.0 + r.uniform(0, 1), 23.0)):
            t = _at(base, h0)
            end = _at(base, h1)
            while t < end:
                on = r.uniform(5, 20) * 60
                pw = cw * r.uniform(0.98, 1.02)
                b.event("heating", t, t + on, b.add(t, t + on, pw, 0.0, "heating"))
                t += on + r.uniform(5, 25) * 60
    # Look-alikes and small loads, counted as "other".
    if tr["hair_dryer_w"] and r.random() < 0.5:
        s = _at(base, 7.5 + r.uniform(0, 1))
        b.add(s, s + r.uniform(3, 10) * 60, tr["hair_dryer_w"], _q(tr["hair_dryer_w"], 0.99))
    if tr["microwave_w"]:
        for centre in (8.0, 12.5, 19.5):
            if r.random() < 0.5:
                s = _at(base, centre + r.gauss(0, 0.5))
                b.add(s, s + r.uniform(1, 6) * 60, tr["microwave_w"], _q(tr["microwave_w"], 0.9))
    # Lights (LED, 10-100 W each) and a television or computer with a varying draw.
    for h0, h1, k in ((6.5, 8.5, 2), (17.0, 23.5, 5)):
        for _ in range(r.randint(1, k)):
            s = _at(base, r.uniform(h0, h1 - 0.2))
            length = r.uniform(10, 180) * 60
            pw = r.uniform(10, 100)
            b.add(s, min(s + length, _at(base, 24.0)), pw, _q(pw, 0.9))
    if r.random() < 0.8:
        t = _at(base, 19.0 + r.uniform(0, 1.5))
        end = t + r.uniform(1.5, 4) * 3600
        level = r.uniform(60, 200)
        while t < end:
            step = r.uniform(1, 5) * 60
            pw = max(20.0, level + r.gauss(0, 15))
            b.add(t, t + step, pw, _q(pw, 0.95))
            t += step
