"""A simulated household's currents, by local time of day, deterministic from a seed.

Loads: a base load (router, standby, electronics with harmonics), a fridge cycling on and
off, lighting and cooking in the evening peak, a kettle a few times a day and a water
heater at night (off-peak). Each day's schedule is drawn from the seed and the day's date,
so any instant gives the same currents whenever the simulation started. Channels: 0 =
the whole household (mains), 1 = the water heater circuit, 2 = the kitchen (kettle, oven).

With solar_kw > 0 the household has solar panels behind the mains clamp: by day they
produce up to solar_kw (a bell from sunrise to sunset, each day's clouds drawn from the
seed), the house uses what it needs and the rest goes back to the grid, so the mains
channel's real power goes negative around noon.
"""

from __future__ import annotations

import cmath
import datetime as dt
import math
import random
from zoneinfo import ZoneInfo

from citizenwatt.config import DEFAULT_TIMEZONE

PARIS = ZoneInfo(DEFAULT_TIMEZONE)
MAINS_V = 231.0
# (name, power_w, pf (lagging), 3rd and 5th harmonic as a fraction of the fundamental)
BASE = ("base", 1.0, 0.92, 0.25, 0.12)          # power drawn per day from the seed
FRIDGE = ("fridge", 110.0, 0.78, 0.04, 0.02)
LIGHTS = ("lights", 1.0, 0.95, 0.30, 0.15)
OVEN = ("oven", 2000.0, 1.0, 0.0, 0.0)
KETTLE = ("kettle", 2000.0, 1.0, 0.0, 0.0)
HEATER = ("heater", 2400.0, 1.0, 0.0, 0.0)
# Solar inverter: current in phase with the voltage, flowing out (negative power).
SOLAR = ("solar", 1.0, 1.0, 0.0, 0.0)
# Local hours of sunrise and sunset of the simulated panels (a spring day in Paris).
SUNRISE_H, SUNSET_H = 7.0, 20.0
# Channel of each load besides channel 0 (which carries them all).
SUBCIRCUIT = {"heater": 1, "kettle": 2, "oven": 2}
# What each channel measures, as a workshop writes it in the meter's config (the meter
# publishes these labels in its status; the server tells main from sub-circuits by them).
CHANNEL_LABELS = ("Toute la maison", "Chauffe-eau", "Cuisine")


class Household:
    def __init__(self, seed: int = 1, channels: int = 2, solar_kw: float = 0.0):
        self.seed = seed
        self.channels = channels
        self.solar_kw = solar_kw
        self._days: dict[dt.date, dict] = {}
        self._cache_key: int | None = None
        self._cache: list = []

    def _day(self, day: dt.date) -> dict:
        plan = self._days.get(day)
        if plan is None:
            r = random.Random(self.seed * 1_000_003 + day.toordinal())
            kettles = []
            for centre_h, p in ((7.25, 0.9), (13.0, 0.4), (16.5, 0.5), (21.5, 0.3)):
                if r.random() < p:
                    kettles.append((centre_h + r.gauss(0, 0.3), r.uniform(2.5, 4.0) / 60))
            plan = {
                "base_w": r.uniform(70, 140),
                "fridge_period_h": r.uniform(0.6, 0.9),
                "fridge_duty": r.uniform(0.3, 0.45),
                "fridge_phase": r.random(),
                "lights_w": r.uniform(150, 400),
                "oven": (19.0 + r.uniform(0, 1.0), r.uniform(0.3, 0.8)) if r.random() < 0.6 else None,
                "kettles": kettles,
                "heater": (22.5 + r.uniform(0, 0.6), r.uniform(1.2, 3.0)),
                "sun": r.uniform(0.55, 1.0),  # the day's clouds
            }
            if len(self._days) > 64:
                self._days.clear()
            self._days[day] = plan
        return plan

    def loads(self, t_utc: float) -> list[tuple[str, float]]:
        """The loads running at t_utc: [(name, power_w)]."""
        local = dt.datetime.fromtimestamp(t_utc, PARIS)
        h = local.hour + local.minute / 60 + local.second / 3600
        plan = self._day(local.date())
        out = [("base", plan["base_w"])]
        cyc = (t_utc / 3600 / plan["fridge_period_h"] + plan["fridge_phase"]) % 1.0
        if cyc < plan["fridge_duty"]:
            out.append(("fridge", FRIDGE[1]))
        # Evening lighting ramps up from 18:00, full 19:30-22:30, off by midnight.
        if 18 <= h < 24:
            f = min(1.0, (h - 18) / 1.5, (24 - h) / 1.5)
            out.append(("lights", plan["lights_w"] * f))
        elif 6.5 <= h < 8:
            out.append(("lights", plan["lights_w"] * 0.4))
        if plan["oven"] and plan["oven"][0] <= h < plan["oven"][0] + plan["oven"][1]:
            out.append(("oven", OVEN[1]))
        for start, length in plan["kettles"]:
            if start <= h < start + length:
                out.append(("kettle", KETTLE[1]))
        # Water heater: starts in the evening's off-peak hours; yesterday's run may spill
        # past midnight.
        prev = self._day(local.date() - dt.timedelta(days=1))["heater"]
        start, length = plan["heater"]
        if start <= h < start + length or h < prev[0] + prev[1] - 24:
            out.append(("heater", HEATER[1]))
        if self.solar_kw > 0 and SUNRISE_H < h < SUNSET_H:
            bell = math.sin(math.pi * (h - SUNRISE_H) / (SUNSET_H - SUNRISE_H)) ** 2
            out.append(("solar", -1000.0 * self.solar_kw * plan["sun"] * bell))
        return out

    def phasors(self, t_utc: float) -> list[tuple[complex, complex, complex]]:
        """Per channel, the RMS current phasors of the fundamental, 3rd and 5th harmonics
        (angles relative to the voltage). Cached per simulated second."""
        key = int(t_utc)
        if key == self._cache_key:
            return self._cache
        kinds = {k[0]: k for k in (BASE, FRIDGE, LIGHTS, OVEN, KETTLE, HEATER, SOLAR)}
        chans = [[0j, 0j, 0j] for _ in range(self.channels)]
        for name, power_w in self.loads(t_utc):
            _, _, pf, h3, h5 = kinds[name]
            i1 = power_w / (MAINS_V * pf)
            phi = -math.acos(pf)
            ph = (cmath.rect(i1, phi), cmath.rect(i1 * h3, 3 * phi + math.pi),
                  cmath.rect(i1 * h5, 5 * phi))
            targets = [0]
            if name in SUBCIRCUIT and SUBCIRCUIT[name] < self.channels:
                targets.append(SUBCIRCUIT[name])
            for c in targets:
                for k in range(3):
                    chans[c][k] += ph[k]
        self._cache_key = key
        self._cache = [tuple(c) for c in chans]
        return self._cache

    def power_w(self, t_utc: float) -> list[float]:
        """True real power per channel at t_utc (harmonics carry no real power here, the
        voltage being nearly sinusoidal)."""
        return [MAINS_V * p[0].real for p in self.phasors(t_utc)]
