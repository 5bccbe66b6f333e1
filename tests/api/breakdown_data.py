"""A simulated household's week of 10 s readings, stored as its meter would send them."""

from __future__ import annotations

import datetime as dt
import math

from citizenwatt.host.appliances import INTERVAL_S, SimulatedHome, simulate
from citizenwatt.store.port import ChannelReading


def home(seed: int, start: dt.date, days: int = 7) -> SimulatedHome:
    return simulate(seed, days, start, sub_clamp=False, voltage=True)


def store_home(store, meter_id: str, h: SimulatedHome) -> int:
    """Write the home's whole-house series as channel 0 readings; return how many."""
    rows, energy_wh = [], 0.0
    for k, p in enumerate(h.power_w):
        energy_wh += p * INTERVAL_S / 3600
        pf = h.pf[k] if h.pf else None
        rows.append(ChannelReading(
            meter_id=meter_id, channel=0, boot=1, seq=k + 1, ts_utc=h.start_s + (k + 1) * INTERVAL_S,
            ts_from_meter=True, interval_s=INTERVAL_S, energy_wh=energy_wh, power_w=p,
            irms_a=p / 230 / (pf or 1.0), apparent=pf is None, vrms_v=230.0 if pf else None, pf=pf))
        if len(rows) == 5000:
            store.write(rows, rows[-1].ts_utc)
            rows = []
    if rows:
        store.write(rows, rows[-1].ts_utc)
    return len(h.power_w)


def true_share_pct(h: SimulatedHome, appliance: str) -> float:
    return 100 * h.energy_wh.get(appliance, 0.0) / h.total_wh


def shown_range(text: str) -> tuple[float, float]:
    """(18, 24) from "... entre 18 et 24 % ..." or "between 18 and 24 %"."""
    words = text.replace("\u202f", "").replace(",", ".").split()
    nums = [float(w) for w in words if _num(w)]
    return nums[-2], nums[-1]


def _num(w: str) -> bool:
    try:
        return not math.isnan(float(w))
    except ValueError:
        return False
