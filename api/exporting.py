"""Everything stored about a household, in one JSON document it can download."""

from __future__ import annotations

import json
import math

from citizenwatt.store.port import ReadingStore
from citizenwatt.firmware import wire

from .household_data import assignment_span, household_zone
from .models import Household


def export_household(store: ReadingStore, hh: Household, now_s: float) -> str:
    tz = household_zone(hh)
    periods = []
    for a in hh.assignments:
        s, e = assignment_span(a, tz)
        e = min(e, now_s + 3600) if math.isinf(e) else e
        hours = []
        for ch in range(wire.MAX_CHANNELS):
            for h in store.hourly(a.meter_id, s, e, ch):
                hours.append({"hour_utc": h.hour_utc, "channel": ch,
                              "energy_wh": round(h.energy_wh, 3), "readings": h.readings})
        hours.sort(key=lambda x: (x["hour_utc"], x["channel"]))
        periods.append({
            "meter_id": a.meter_id, "valid_from": a.valid_from.isoformat(),
            "valid_to": a.valid_to.isoformat() if a.valid_to else None,
            "channels": [{"channel": c.channel, "label": c.label, "role": c.role}
                         for c in a.meter.channels],
            "energy_per_utc_hour": hours,
        })
    doc = {
        "format": "citizenwatt-household-export/1",
        "exported_utc": now_s,
        "household": {
            "id": hh.id, "name": hh.name, "profile": hh.profile,
            "deployment": hh.deployment.name, "timezone": hh.deployment.timezone,
            "tariff_option": hh.tariff_option,
            "offpeak_hours": [hh.offpeak_start_h, hh.offpeak_end_h],
            "baseline": [hh.baseline_start.isoformat() if hh.baseline_start else None,
                         hh.baseline_end.isoformat() if hh.baseline_end else None],
            "created_utc": hh.created_utc,
        },
        "meters": periods,
    }
    return json.dumps(doc, ensure_ascii=False, indent=1)
