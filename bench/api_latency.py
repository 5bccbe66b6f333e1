"""API latency on the embedded store: 1,000 households, one year of 10 s readings for the
measured one (3.15 million readings), p50/p95 of
- a year of daily totals (GET /api/v1/households/{id}/energy?resolution=day, target p95 < 50 ms)
- the household page (GET /h/<link>, live power + today's chart, target p95 < 200 ms),
over real HTTP (uvicorn in this process, httpx keep-alive client), on the tiered store: the
embedded data set is folded with the default tiers first (--no-fold: as written). Each is
timed asked again (the API keeps answers until the store changes) and right after a write by
the collector to another meter (--cold requests: read and summed again).

    python bench/api_latency.py [--requests 200] [--keep DIR] [--store sqlite|influx]

The data set is built once per DIR (about a minute) and reused with --keep. With
--store influx the readings go through InfluxStore (local ledger, shipped to a real
influxd 1.6.7 started here, with the test-only /api/v2/write adapter) and the API reads
them back with InfluxQL; the relational data stay in SQLite.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import uvicorn

from citizenwatt.api import admin
from citizenwatt.api.app import create_app
from citizenwatt.api.db import make_engine
from citizenwatt.api.models import Household, HouseholdLink
from citizenwatt.config import DEFAULT_TIMEZONE, Settings
from citizenwatt.store.port import ChannelReading
from citizenwatt.store.sqlite import SqliteStore
from citizenwatt.store.tiers import Tiers

PARIS = ZoneInfo(DEFAULT_TIMEZONE)
HOUSEHOLDS = 1000
STEP_S = 10
YEAR_START = date(2025, 11, 1)


def build(data: Path, now: float, store=None) -> None:
    influx = store is not None
    store = store or SqliteStore(data / "readings.sqlite")
    t0 = datetime(YEAR_START.year, YEAR_START.month, YEAR_START.day, tzinfo=PARIS).timestamp()
    n = int((now - t0) // STEP_S)
    energy, batch, started = 0.0, [], time.perf_counter()
    for i in range(1, n + 1):
        t = t0 + i * STEP_S
        hour = (i * STEP_S // 3600 + 1) % 24  # a daily shape: evening peak
        p = 250.0 + (1500.0 if 18 <= hour < 21 else 0.0)
        energy += p * STEP_S / 3600
        batch.append(ChannelReading("bench-0000", 0, 1, i, t, True, STEP_S, energy, p, p / 230, True))
        if len(batch) == 20000:
            store.write(batch, t)
            batch = []
    if batch:
        store.write(batch, now)
    if influx:
        while not store.flush(60):
            print(f"  shipping to InfluxDB, {store.spool_depth} batches to go", file=sys.stderr)
    print(f"  {n} readings written in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    if not influx:
        store.close()
    engine = make_engine(f"sqlite:///{data / 'citizenwatt.sqlite'}")
    from citizenwatt.api.db import init_db
    with init_db(engine)() as db:
        dep = admin.create_deployment(db, "Bench")
        for k in range(HOUSEHOLDS):
            hh = Household(deployment_id=dep.id, name=f"Foyer {k:04d}", profile="p",
                           baseline_start=YEAR_START, baseline_end=date(2025, 11, 30))
            db.add(hh)
            meter = f"bench-{k:04d}"
            admin.register_meter(db, dep, meter)
            db.flush()
            admin.assign_meter(db, hh, meter, YEAR_START)
        db.commit()
    engine.dispose()


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--keep", type=Path, help="build the data set here once and reuse it")
    ap.add_argument("--store", choices=("sqlite", "influx"), default="sqlite")
    ap.add_argument("--cold", type=int, default=30,
                    help="requests timed each right after a write by the collector (nothing kept)")
    ap.add_argument("--no-fold", action="store_true",
                    help="measure the readings as written, not folded down the tiers")
    args = ap.parse_args()
    now = datetime(2026, 10, 31, 18, 30, tzinfo=PARIS).timestamp()  # a year after YEAR_START
    data = args.keep or Path(tempfile.mkdtemp(prefix="cw-bench-api-"))
    data.mkdir(parents=True, exist_ok=True)
    influx = None
    if args.store == "influx":
        if args.keep:
            sys.exit("--keep works with the embedded store only (influxd runs in a fresh directory)")
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from citizenwatt.store.influx import InfluxStore
        from tests.influx_v2_adapter import InfluxV2Adapter
        from tests.services import Influxd
        engine_ = Influxd(data / "influxd").start()
        adapter = InfluxV2Adapter(engine_.host, engine_.port).start()
        influx = (engine_, adapter)
        writer = InfluxStore(adapter.url, "bench:bench", spool_path=data / "spool.sqlite")
        print("building the data set in InfluxDB...", file=sys.stderr)
        build(data, now, writer)
        writer.close()
        store = InfluxStore(engine_.url, "bench:bench")
    else:
        if not (data / "citizenwatt.sqlite").exists():
            print("building the data set...", file=sys.stderr)
            build(data, now)
        store = SqliteStore(data / "readings.sqlite")
        if not args.no_fold:  # the tiered store as a deployment runs it (default settings)
            started = time.perf_counter()
            folded = store.fold(now, Tiers())
            print(f"  folded: {folded.packed} packed, {folded.aggregated} aggregated in "
                  f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
    engine = make_engine(f"sqlite:///{data / 'citizenwatt.sqlite'}")
    app = create_app(store, Settings(data_dir=data), clock=lambda: now, engine=engine)
    with app.state.sessionmaker() as db:
        hh = db.query(Household).filter_by(name="Foyer 0000").one()
        token = admin.issue_link(db, hh)
        db.commit()
        hid = hh.id
        links = db.query(HouseholdLink).count()

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    year = f"/api/v1/households/{hid}/energy?resolution=day&start=2025-11-01&end=2026-10-31"
    results = {}
    collector = SqliteStore(data / "readings.sqlite") if args.store == "sqlite" else store
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
        for name, url, check in (
                ("year_of_daily_totals", year, lambda r: len(r.json()["buckets"]) == 365),
                ("household_page", f"/h/{token}", lambda r: 'id="today-chart"' in r.text),
                ("live", f"/api/v1/households/{hid}/live", lambda r: r.json()["power_w"] is not None)):
            r = c.get(url)
            assert r.status_code == 200 and check(r), (name, r.status_code, r.text[:300])
            for _ in range(5):
                c.get(url)
            times = []
            for _ in range(args.requests):
                t = time.perf_counter()
                r = c.get(url)
                times.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200
            results[name] = (statistics.median(times), percentile(times, 0.95))
            # After a write by the collector (another household's meter, another connection):
            # nothing kept is valid any more, the answer is read and summed again.
            cold = []
            for _ in range(args.cold):
                last = collector.latest("bench-0999")  # continued from the last run's
                seq, t = (last[0].seq + 1, last[0].ts_utc + 0.001) if last else (1, now - 5)
                version = app.state.reads.version()
                collector.write([ChannelReading("bench-0999", 0, 1, seq, t, True, STEP_S, seq * 0.1,
                                                36.0, 0.16, True)], t)
                assert app.state.reads.version() != version, "the write did not reach the store"
                t = time.perf_counter()
                r = c.get(url)
                cold.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200
            results[name + "_after_write"] = (statistics.median(cold), percentile(cold, 0.95))
            print(f"  {name:22s} p50 {results[name][0]:7.1f} ms   p95 {results[name][1]:7.1f} ms   after a "
                  f"write: p50 {statistics.median(cold):7.1f} ms   p95 {percentile(cold, 0.95):7.1f} ms",
                  file=sys.stderr)
    server.should_exit = True
    thread.join(10)
    if collector is not store:
        collector.close()
    readings = sum(m.readings for m in store.meters()) if args.store == "sqlite" else None
    store.close()
    if influx is not None:
        influx[1].stop()
        influx[0].stop()
    if not args.keep:
        shutil.rmtree(data, ignore_errors=True)
    print(json.dumps({
        "name": f"api_year_daily_totals_p95_{args.store}",
        "value": round(results["year_of_daily_totals"][1], 1),
        "unit": "ms",
        "machine": f"{platform.node()} {os.cpu_count()} cores {platform.machine()}",
        "target_ms": 50,
        "year_daily_p50_ms": round(results["year_of_daily_totals"][0], 1),
        "household_page_p50_ms": round(results["household_page"][0], 1),
        "household_page_p95_ms": round(results["household_page"][1], 1),
        "household_page_target_ms": 200,
        "live_p95_ms": round(results["live"][1], 1),
        # the same, each right after a collector write (nothing kept: read and summed again)
        "after_write": {name: {"p50_ms": round(results[name + "_after_write"][0], 1),
                               "p95_ms": round(results[name + "_after_write"][1], 1)}
                        for name in ("year_of_daily_totals", "household_page", "live")},
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "households": HOUSEHOLDS, "household_links": links, "readings": readings,
        "store": args.store, "requests": args.requests,
        "tiered": args.store == "sqlite" and not args.no_fold,
    }))


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    main()
