"""A household's appliance breakdown over its last days, for its page: the stored 10 s
readings of its whole-home channels fed to the breakdown (breakdown.py), a sub-clamp's
channel taking the place of its appliance's estimate, computed once per household and
local day (the page stays fast, the figures change at midnight)."""

from __future__ import annotations

import math
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, timedelta

from citizenwatt.i18n import N_, _, format_number, format_quantity
from citizenwatt.store.port import ReadingStore

from .breakdown import Breakdown, analyse, with_sub
from .energy import local_midnight_utc
from .household_data import household_zone, sources
from .models import Household

DAYS = 7                 # the breakdown covers the last full local days
MIN_CONFIDENCE = 0.5     # below it an appliance is not shown
NAMES = {
    "water_heater": N_("Water heater"), "kettle": N_("Kettle"), "oven": N_("Oven"),
    "cold": N_("Fridge and freezer"), "washing_machine": N_("Washing machine"),
    "dishwasher": N_("Dishwasher"), "heating": N_("Electric heating"),
}
# The half-width of the range shown, relative, at full confidence: from bench/nilm.py's
# energy errors (convectors and the machines' drums overlap other loads, often missed).
SPREAD = {"heating": 0.35, "washing_machine": 0.35, "dishwasher": 0.35}
# Words in a sub-clamp's label that name the appliance it measures.
SUB_WORDS = {"water_heater": ("chauffe-eau", "cumulus", "ballon", "water heater")}

# Per store (an app's), then per household and local day.
_cache: weakref.WeakKeyDictionary[ReadingStore, OrderedDict[tuple[int, date], Breakdown | None]] = \
    weakref.WeakKeyDictionary()
_lock = threading.Lock()
_CACHE_SIZE = 512


def _series(store: ReadingStore, srcs) -> tuple[float, float, list[float], list[float] | None] | None:
    """The whole-home channels' 10 s means added up: (start_s, interval_s, power, pf)."""
    rows = []
    for s in srcs:
        rows += [r for r in store.readings(s.meter_id, s.start_s, s.end_s)
                 if s.channel is None or r.channel == s.channel]
    if len(rows) < 100:
        return None
    interval = sorted(r.interval_s for r in rows)[len(rows) // 2] or 10.0
    start = min(r.ts_utc for r in rows)
    n = int((max(r.ts_utc for r in rows) - start) // interval) + 1
    p = [math.nan] * n
    q = [0.0] * n
    with_pf = all(r.pf is not None for r in rows)
    for r in rows:
        k = int((r.ts_utc - start) // interval)
        p[k] = r.power_w if math.isnan(p[k]) else p[k] + r.power_w
        if with_pf and r.pf:
            q[k] += r.power_w * math.sqrt(max(0.0, 1 / (r.pf * r.pf) - 1))
    last = 0.0
    for k in range(n):  # a missing reading holds the last level: a gap is not a switch
        if math.isnan(p[k]):
            p[k] = last
        last = p[k]
    pf = None
    if with_pf:
        pf = [pk / math.hypot(pk, qk) if pk > 1 else 1.0 for pk, qk in zip(p, q, strict=True)]
    return start, interval, p, pf


def household_appliances(store: ReadingStore, hh: Household, today: date) -> Breakdown | None:
    """The breakdown of the DAYS local days before `today`, once per household and day."""
    key = (hh.id, today)
    with _lock:
        cache = _cache.setdefault(store, OrderedDict())
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
    tz = household_zone(hh)
    start_s = local_midnight_utc(today - timedelta(days=DAYS), tz)
    end_s = local_midnight_utc(today, tz)
    series = _series(store, sources(hh, tz, start_s, end_s))
    bd = None
    if series is not None:
        bd = analyse(*series, tz)
        for appliance, words in SUB_WORDS.items():
            for a in hh.assignments:
                for c in a.meter.channels:
                    if c.role == "sub" and any(w in (c.label or "").lower() for w in words):
                        sub = _series(store, sources(hh, tz, start_s, end_s, channel=c.channel))
                        if sub is not None:
                            bd = with_sub(bd, appliance, sub[2], sub[1])
    with _lock:
        cache[key] = bd
        while len(cache) > _CACHE_SIZE:
            cache.popitem(last=False)
    return bd


def _kwh(energy_wh: float, lang: str) -> str:
    """Whole kWh from 10 kWh (an estimate's decimals would claim too much), else one."""
    return format_quantity(energy_wh / 1000, "kWh", 0 if energy_wh >= 10_000 else 1, lang=lang)


@dataclass(frozen=True)
class ApplianceRow:
    appliance: str
    name: str
    energy: str
    share: str


def appliance_rows(bd: Breakdown | None, lang: str) -> list[ApplianceRow]:
    """What the page says, biggest first: a measured appliance exactly, an estimated one
    as "about" and a range of shares; nothing for one below MIN_CONFIDENCE."""
    if bd is None or bd.total_wh <= 0:
        return []
    out = []
    for s in sorted(bd.shares, key=lambda s: -s.energy_wh):
        if s.confidence < MIN_CONFIDENCE or s.energy_wh <= 0:
            continue
        pct = 100 * s.energy_wh / bd.total_wh
        if s.measured:
            energy = _("{energy}, measured by its own clamp", lang=lang, energy=_kwh(s.energy_wh, lang))
            share = _("{pct} % of your use", lang=lang, pct=format_number(pct, 0, lang=lang))
        else:
            u = SPREAD.get(s.appliance, 0.15) + 0.35 * (1 - s.confidence)  # the wider, the less sure
            energy = _("about {energy}", lang=lang, energy=_kwh(s.energy_wh, lang))
            share = _("between {low} and {high} % of your use", lang=lang,
                      low=format_number(max(0.0, math.floor(pct * (1 - u))), 0, lang=lang),
                      high=format_number(min(100.0, math.ceil(pct * (1 + u))), 0, lang=lang))
        out.append(ApplianceRow(s.appliance, _(NAMES[s.appliance], lang=lang), energy, share))
    return out
