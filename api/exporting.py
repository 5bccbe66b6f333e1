"""What a household can download: everything stored about it in one JSON document, its
energy buckets and its raw readings as CSV.

The CSV files are written for the spreadsheet the household opens them with: by default
the French dialect (semicolon, decimal comma, French headers with their units, kWh, local
time, UTF-8 with a byte-order mark so that Excel reads the accents), with `lang=en` the
English/ISO one (comma, decimal point, ISO 8601 local times with their offset). A gap is
an empty cell, never 0."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from citizenwatt.firmware import wire
from citizenwatt.i18n import N_, _
from citizenwatt.store.port import ReadingStore

from .energy import Bucket, local_midnight_utc
from .errors import ApiError
from .household_data import assignment_span, household_zone
from .models import Household

# Raw readings are many (8,640 a day per clamp at one every 10 s): one export covers at
# most this many local days.
MAX_READING_DAYS = 31


def export_household(store: ReadingStore, hh: Household, now_s: float) -> str:
    tz = household_zone(hh)
    periods = []
    for a in hh.assignments:
        s, e = assignment_span(a, tz)
        e = min(e, now_s + 3600) if math.isinf(e) else e
        hours = []
        for ch in range(wire.MAX_CHANNELS):
            for h in store.hourly(a.meter_id, s, e, ch):
                hour = {"hour_utc": h.hour_utc, "channel": ch,
                        "energy_wh": round(h.energy_wh, 3), "readings": h.readings}
                if h.export_wh:  # sent back to the grid (solar): only where there was some
                    hour["export_wh"] = round(h.export_wh, 3)
                hours.append(hour)
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


@dataclass(frozen=True)
class CsvDialect:
    """How one language's spreadsheets read a CSV file."""

    lang: str
    delimiter: str
    decimal: str
    bom: bool

    def number(self, value: float | None, decimals: int) -> str:
        """No thousands separator (a spreadsheet would take it for text), the decimal mark
        of the language; None is an empty cell."""
        if value is None:
            return ""
        text = f"{value:.{decimals}f}"
        return text.replace(".", self.decimal) if self.decimal != "." else text

    def local_time(self, ts_utc: float, tz: ZoneInfo) -> str:
        t = datetime.fromtimestamp(ts_utc, tz)
        # French spreadsheets recognise "31/03/2026 14:00" as a date and time; ISO 8601
        # with the offset elsewhere (unambiguous on the night the clocks go back).
        return t.strftime("%d/%m/%Y %H:%M:%S") if self.lang == "fr" else t.isoformat()

    def yes_no(self, value: bool) -> str:
        return _("yes", lang=self.lang) if value else _("no", lang=self.lang)

    def writer(self, buf: io.StringIO):
        return csv.writer(buf, delimiter=self.delimiter, lineterminator="\r\n")


def csv_dialect(lang: str) -> CsvDialect:
    if lang == "en":
        return CsvDialect("en", ",", ".", bom=False)
    return CsvDialect("fr", ";", ",", bom=True)


def utc_iso(ts_utc: float) -> str:
    return datetime.fromtimestamp(ts_utc, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


ENERGY_HEADERS = (N_("Start (local time)"), N_("End (local time)"), N_("Energy (kWh)"),
                  N_("Hours measured (h)"), N_("Complete"), N_("Start (UTC)"))


EXPORT_HEADER = N_("Sent back to the grid (kWh)")


def energy_csv_text(buckets: list[Bucket], tz: ZoneInfo, lang: str = "fr") -> str:
    """The buckets as CSV, one row each, in the dialect of `lang`; a gap is an empty
    energy cell, never 0. A household that sent energy back to the grid in the range
    (solar) gets one more column for it, last; the others get the same file as ever."""
    d = csv_dialect(lang)
    buf = io.StringIO()
    if d.bom:
        buf.write("\ufeff")
    w = d.writer(buf)
    exports = any(b.export_wh > 0 for b in buckets)
    w.writerow([_(h, lang=d.lang) for h in ENERGY_HEADERS + ((EXPORT_HEADER,) if exports else ())])
    for b in buckets:
        row = [d.local_time(b.start_utc, tz), d.local_time(b.end_utc, tz),
               d.number(None if b.energy_wh is None else b.energy_wh / 1000, 3),
               d.number(b.covered_h, 2), d.yes_no(b.complete), utc_iso(b.start_utc)]
        if exports:
            row.append(d.number(None if b.energy_wh is None else b.export_wh / 1000, 3))
        w.writerow(row)
    return buf.getvalue()


READING_HEADERS = (N_("Time (local time)"), N_("Circuit"), N_("Power (W)"), N_("Meter index (kWh)"),
                   N_("Current (A)"), N_("Voltage (V)"), N_("Power factor"),
                   N_("Interval (s)"), N_("Time (UTC)"))
EXPORT_INDEX_HEADER = N_("Export index (kWh)")


def check_reading_days(start: date, end: date) -> None:
    if (end - start).days + 1 > MAX_READING_DAYS:
        raise ApiError(
            422, "readings_range_too_long",
            N_("The readings of {days} days are too many for one file: at most {max_days} days. "
               "Download them month by month, or take the energy per hour."),
            days=(end - start).days + 1, max_days=MAX_READING_DAYS)


def readings_csv_chunks(store: ReadingStore, hh: Household, start: date, end: date,
                        lang: str = "fr") -> Iterator[str]:
    """The household's raw readings from local day `start` to `end` (included), every
    channel of every meter it had then, one row per channel reading, by time; a day at a
    time so that a month of readings never sits in memory whole."""
    check_reading_days(start, end)
    tz = household_zone(hh)
    d = csv_dialect(lang)
    buf = io.StringIO()
    if d.bom:
        buf.write("\ufeff")
    w = d.writer(buf)
    # A meter that counts export (solar) says so in its newest readings: then one more
    # column, the export counter, last; other households get the same file as ever.
    exports = any(r.export_wh is not None for a in hh.assignments for r in store.latest(a.meter_id))
    w.writerow([_(h, lang=d.lang) for h in READING_HEADERS + ((EXPORT_INDEX_HEADER,) if exports else ())])
    day = start
    while day <= end:
        s0, s1 = local_midnight_utc(day, tz), local_midnight_utc(day + timedelta(days=1), tz)
        rows = []
        for a in hh.assignments:
            a0, a1 = assignment_span(a, tz)
            lo, hi = max(s0, a0), min(s1, a1)
            if lo >= hi:
                continue
            labels = {c.channel: c.label for c in a.meter.channels}
            for r in store.readings(a.meter_id, lo, hi):
                label = labels.get(r.channel) or _("Circuit {n}", lang=d.lang, n=r.channel + 1)
                rows.append((r.ts_utc, r.channel, label, r))
        rows.sort(key=lambda x: (x[0], x[1]))
        for ts, _ch, label, r in rows:
            row = [d.local_time(ts, tz), label, d.number(r.power_w, 1),
                   d.number(r.energy_wh / 1000, 4), d.number(r.irms_a, 3),
                   d.number(r.vrms_v, 1), d.number(r.pf, 3), d.number(r.interval_s, 1),
                   utc_iso(ts)]
            if exports:
                row.append(d.number(None if r.export_wh is None else r.export_wh / 1000, 4))
            w.writerow(row)
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
        day += timedelta(days=1)
