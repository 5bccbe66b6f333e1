"""Monthly paper summaries for a whole deployment: 1,000 households (five profiles of 200,
so every comparison is computed), each with a baseline fortnight in September and the
whole of October 2026 in the embedded store, one reading an hour (what the summaries read
is the store's hourly energy: 10 s readings would give the same hours). Times what
`citizenwatt admin summaries --month 2026-10` does: the figures of every household, then
one PDF of 1,000 pages. Target: under 2 minutes on the project's 2-core machine. The JSON line gives the wall
time (value), the CPU seconds of this process and the load average, because the machine
is shared: a busy one stretches the wall time, not the CPU time.

    python bench/monthly_summaries.py [--households 1000] [--keep DIR]

The data set is built once per DIR (a minute or two) and reused with --keep.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pypdfium2 as pdfium
from sqlalchemy import select

from citizenwatt.api import admin
from citizenwatt.api.db import init_db, make_engine
from citizenwatt.api.models import Deployment
from citizenwatt.api.paper import deployment_summaries, printed_on, summaries_pdf
from citizenwatt.config import DEFAULT_TIMEZONE, Settings
from citizenwatt.store.port import ChannelReading
from citizenwatt.store.sqlite import SqliteStore

PARIS = ZoneInfo(DEFAULT_TIMEZONE)
MONTH = "2026-10"
DATA_START = date(2026, 9, 15)
BASELINE = (date(2026, 9, 15), date(2026, 9, 30))
DATA_END = date(2026, 11, 1)
TARGET_S = 120.0


def build(data: Path, households: int) -> None:
    store = SqliteStore(data / "readings.sqlite")
    t0 = datetime(DATA_START.year, DATA_START.month, DATA_START.day, tzinfo=PARIS).timestamp()
    t1 = datetime(DATA_END.year, DATA_END.month, DATA_END.day, tzinfo=PARIS).timestamp()
    hours = int((t1 - t0) // 3600)
    maker = init_db(make_engine(f"sqlite:///{data / 'citizenwatt.sqlite'}"))
    started = time.perf_counter()
    with maker() as db:
        dep = admin.create_deployment(db, "Banc d'essai")
        for i in range(households):
            meter = f"bench-{i:04d}"
            hh, _token = admin.create_household(db, dep, f"Foyer {i + 1:04d}", profile=f"profil-{i % 5}",
                                                baseline_start=BASELINE[0], baseline_end=BASELINE[1])
            admin.register_meter(db, dep, meter)
            admin.assign_meter(db, hh, meter, DATA_START)
            rnd = random.Random(i)
            base_w, evening_w = rnd.uniform(80, 400), rnd.uniform(500, 2500)
            energy, rows = 0.0, []
            for k in range(1, hours + 1):
                t = t0 + k * 3600
                hour = datetime.fromtimestamp(t - 1800, PARIS).hour
                w = base_w + (evening_w if 18 <= hour < 22 else 0.0)
                w *= 1.15 if t < t0 + 16 * 86400 else 1.0  # the baseline fortnight used more
                energy += w
                rows.append(ChannelReading(meter, 0, 1, k, t, True, 3600.0, energy, w, w / 230, True))
            store.write(rows, t1)
            if (i + 1) % 100 == 0:
                print(f"  {i + 1} households built ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
        db.commit()
    store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--households", type=int, default=1000)
    ap.add_argument("--keep", type=Path, help="Build the data set here once and reuse it.")
    args = ap.parse_args()
    data = args.keep or Path(tempfile.mkdtemp(prefix="cw-bench-summaries-"))
    data.mkdir(parents=True, exist_ok=True)
    if not (data / "readings.sqlite").exists():
        print(f"Building {args.households} households in {data}...", file=sys.stderr)
        build(data, args.households)
    settings = Settings(data_dir=data)
    store = SqliteStore(data / "readings.sqlite")
    maker = init_db(make_engine(settings.database_url))
    with maker() as db:
        dep = db.scalar(select(Deployment))
        t, c = time.perf_counter(), time.process_time()
        pages = deployment_summaries(db, store, dep, MONTH, settings.api)
        figures_s, figures_cpu_s = time.perf_counter() - t, time.process_time() - c
        t2, c2 = time.perf_counter(), time.process_time()
        pdf = summaries_pdf(pages, settings.api, "fr", printed_on(date(2026, 11, 2), "fr"))
        pdf_s, pdf_cpu_s = time.perf_counter() - t2, time.process_time() - c2
    load = os.getloadavg()[0]
    store.close()
    doc = pdfium.PdfDocument(pdf)
    page_count = len(doc)
    doc.close()
    assert page_count == len(pages), (page_count, len(pages))
    compared = sum(1 for p in pages if p.comparison.status == "ok")
    print(f"  figures {figures_s:.1f} s, PDF {pdf_s:.1f} s, {page_count} pages, "
          f"{len(pdf) / 1e6:.1f} MB, {compared} compared with similar homes", file=sys.stderr)
    if not args.keep:
        shutil.rmtree(data, ignore_errors=True)
    print(json.dumps({
        "name": "monthly_summaries_deployment",
        "value": round(figures_s + pdf_s, 1),
        "unit": "s",
        "machine": f"{platform.node()} {os.cpu_count()} cores {platform.machine()}",
        "target_s": TARGET_S,
        "households": len(pages),
        "pages": page_count,
        "figures_s": round(figures_s, 1),
        "pdf_s": round(pdf_s, 1),
        # CPU seconds of this process: what the run costs whatever else shares the machine
        "cpu_s": round(figures_cpu_s + pdf_cpu_s, 1),
        "load_avg_1min_at_end": round(load, 1),
        "pdf_mb": round(len(pdf) / 1e6, 2),
        "compared": compared,
    }))


if __name__ == "__main__":
    main()
