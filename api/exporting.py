"""What a household can download: everything stored about it in one JSON document, and
its energy buckets as CSV."""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import datetime

from citizenwatt.firmware import wire
from citizenwatt.store.port import ReadingStore

from .energy import Bucket
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


def energy_csv_text(buckets: list[Bucket], tz) -> str:
    """The buckets as CSV, one row each; a gap is an empty energy_wh cell, never 0."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["start_local", "end_local", "start_utc", "hours", "energy_wh", "covered_h", "complete"])
    for b in buckets:
        w.writerow([b.start_local.isoformat(), datetime.fromtimestamp(b.end_utc, tz).isoformat(),
                    b.start_utc, f"{b.hours:g}",
                    "" if b.energy_wh is None else f"{b.energy_wh:.3f}", f"{b.covered_h:.3f}",
                    "1" if b.complete else "0"])
    return buf.getvalue()
