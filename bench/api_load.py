"""API under load: throughput and p99 of each household endpoint at 32 concurrent clients,
beside a trivial endpoint (/healthz) measured in the same run, on one API process.

    python bench/api_load.py [--keep DIR] [--seconds 8] [--clients 32] [--runs 3]

Data: bench/api_latency.py's set (1,000 households, a year of 10 s readings for the measured
one), built once per DIR and folded down the default tiers as a deployment runs it (packed
blocks, 60 s aggregates; --no-fold: as written). The API runs as its own process (one
uvicorn worker, the clock pinned to the end of the data year); the load comes from wrk
(Debian package `wrk`), a C client, so that the client's own cost stays out of the
server's figures as far as two cores allow. Each run measures every endpoint in turn; the
ratios are taken inside a run.
Targets (issue 16): household page and live power >= 0.5 of /healthz's throughput, a year of
daily totals >= 0.25, no time-out.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

HERE = Path(__file__).resolve().parent
PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 10, 31, 18, 30, tzinfo=PARIS).timestamp()  # as bench/api_latency.py


def _latency_module():
    spec = importlib.util.spec_from_file_location("api_latency", HERE / "api_latency.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def serve(data: Path, port: int, write_every_s: float = 0.0) -> None:
    """The server process: the API on the data set, its clock pinned; with write_every_s, a
    thread stands for the collector, committing a reading of another household's meter that
    often (every figure the API keeps is then read again after each write)."""
    import threading

    import uvicorn

    from citizenwatt.api.app import create_app
    from citizenwatt.api.db import make_engine
    from citizenwatt.config import Settings
    from citizenwatt.store.sqlite import SqliteStore

    store = SqliteStore(data / "readings.sqlite")
    engine = make_engine(f"sqlite:///{data / 'citizenwatt.sqlite'}")
    app = create_app(store, Settings(data_dir=data), clock=lambda: NOW, engine=engine)
    if write_every_s > 0:
        threading.Thread(target=_collector, args=(data, write_every_s), daemon=True).start()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _collector(data: Path, every_s: float) -> None:
    from citizenwatt.store.port import ChannelReading
    from citizenwatt.store.sqlite import SqliteStore

    collector = SqliteStore(data / "readings.sqlite")
    while True:
        time.sleep(every_s)
        last = collector.latest("bench-0999")
        seq, t = (last[0].seq + 1, last[0].ts_utc + 0.001) if last else (1, NOW - 5)
        reading = ChannelReading("bench-0999", 0, 1, seq, t, True, 10, seq * 0.1, 36.0, 0.16, True)
        collector.write([reading], t)


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(url: str, seconds: int, clients: int, headers: dict[str, str]) -> dict:
    cmd = ["wrk", "-t2", f"-c{clients}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    timeouts = int(m.group(1)) if (m := re.search(r"timeout (\d+)", out)) else 0
    bad = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    return {"req_per_s": rate, "p50_ms": p50, "p99_ms": p99, "timeouts": timeouts, "non_2xx": bad}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", type=Path, help="build the data set here once and reuse it")
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-fold", action="store_true",
                    help="measure the readings as written, not folded down the tiers")
    ap.add_argument("--write-every", type=float, default=0.0, metavar="S",
                    help="a collector commits a reading (another household's) every S seconds meanwhile")
    ap.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.write_every)
        return
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    lat = _latency_module()
    data = args.keep or Path(tempfile.mkdtemp(prefix="cw-bench-load-"))
    data.mkdir(parents=True, exist_ok=True)
    if not (data / "citizenwatt.sqlite").exists():
        print("building the data set...", file=sys.stderr)
        lat.build(data, NOW)
    if not args.no_fold:  # the tiered store (default settings); a folded set folds in no time
        from citizenwatt.store.sqlite import SqliteStore
        from citizenwatt.store.tiers import Tiers

        store = SqliteStore(data / "readings.sqlite")
        started = time.perf_counter()
        folded = store.fold(NOW, Tiers())
        store.close()
        print(f"  folded: {folded.packed} packed, {folded.aggregated} aggregated in "
              f"{time.perf_counter() - started:.0f} s", file=sys.stderr)

    from citizenwatt.api import admin
    from citizenwatt.api.db import init_db, make_engine
    from citizenwatt.api.models import Household

    engine = make_engine(f"sqlite:///{data / 'citizenwatt.sqlite'}")
    with init_db(engine)() as db:
        hh = db.query(Household).filter_by(name="Foyer 0000").one()
        token = admin.issue_link(db, hh)
        db.commit()
        hid = hh.id
    engine.dispose()

    port = lat._free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(data), "--port", str(port),
                               "--write-every", str(args.write_every)])
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    sys.exit("the API did not start")
                time.sleep(0.2)
        auth = {"Authorization": f"Bearer {token}"}
        endpoints = {
            "healthz": "/healthz",
            "household_page": f"/h/{token}",
            "live": f"/api/v1/households/{hid}/live",
            "month_of_daily_totals": f"/api/v1/households/{hid}/energy?resolution=day&start=2026-10-01"
                                     "&end=2026-10-31",
            "year_of_daily_totals": f"/api/v1/households/{hid}/energy?resolution=day&start=2025-11-01"
                                    "&end=2026-10-31",
        }
        for name, path in endpoints.items():  # each answers, and warms up
            req = urllib.request.Request(base + path, headers=auth)
            with urllib.request.urlopen(req, timeout=30) as r:
                assert r.status == 200, name
        runs = []
        for k in range(args.runs):
            run = {name: wrk(base + path, args.seconds, args.clients, auth)
                   for name, path in endpoints.items()}
            for name, fig in run.items():
                fig["ratio"] = fig["req_per_s"] / run["healthz"]["req_per_s"]
                print(f"  run {k + 1} {name:22s} {fig['req_per_s']:8.1f} req/s  p99 {fig['p99_ms']:7.1f} ms"
                      f"  x{fig['ratio']:.2f}  time-outs {fig['timeouts']}", file=sys.stderr)
            runs.append(run)
    finally:
        server.terminate()
        server.wait(20)
        if not args.keep:
            shutil.rmtree(data, ignore_errors=True)

    def med(name, key):
        values = [r[name][key] for r in runs]
        return round(statistics.median(values), 3), [round(min(values), 3), round(max(values), 3)]

    figures = {}
    for name in endpoints:
        for key in ("req_per_s", "p99_ms", "ratio"):
            figures[f"{name}_{key}"], figures[f"{name}_{key}_range"] = med(name, key)
        figures[f"{name}_timeouts"] = sum(r[name]["timeouts"] for r in runs)
        figures[f"{name}_non_2xx"] = sum(r[name]["non_2xx"] for r in runs)
    print(json.dumps({
        "name": "api_load_household_page_ratio_to_healthz",
        "value": figures["household_page_ratio"],
        "unit": "ratio",
        "machine": f"{platform.node()} {os.cpu_count()} cores {platform.machine()}",
        "targets": {"household_page_ratio": 0.5, "live_ratio": 0.5, "year_of_daily_totals_ratio": 0.25},
        "clients": args.clients, "seconds": args.seconds, "runs": args.runs, "workers": 1,
        "tiered": not args.no_fold, "collector_write_every_s": args.write_every or None,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        **figures,
    }))


if __name__ == "__main__":
    main()
