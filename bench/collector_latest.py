"""Cost of a meter's newest reading (store.latest, the live power of the household page)
after a year of 10 s readings: InfluxDB with ORDER BY time DESC LIMIT 1 (before), LAST() over
the whole series, InfluxStore without a ledger (searching from the channel's last hour point),
and the ledger's primary-key probe (InfluxStore on the collector's host); also meters() from
the ledger's summary against the scan it replaced.

    python bench/collector_latest.py [--days 365] [--requests 50]

Starts a real influxd 1.6.7 in a temporary directory and writes the points straight to its
/write (what the shipper would have written), and the same readings straight into a ledger
file. Prints the details, then one JSON line.
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
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from citizenwatt.store.influx import (  # noqa: E402  after the sys.path line above
    InfluxStore,
    _lit,
    hour_line,
    reading_line,
)
from citizenwatt.store.sqlite import COLUMNS, SqliteStore  # noqa: E402  after the sys.path line above
from tests.services import Influxd  # noqa: E402  after the sys.path line above (tests.*)

METER = "bench-0000"
STEP_S = 10
END_S = 1_793_466_000  # 2026-10-31 17:40 UTC


def series(days: int) -> Iterator[tuple[int, float, float, float]]:
    """One channel's days of 10 s readings up to END_S, (seq, ts_utc, power_w, energy_wh):
    250 W, 1,750 W from 17:00 to 20:00 UTC. Shared with bench/multihost_hours.py."""
    energy = 0.0
    n = days * 86400 // STEP_S
    for i in range(1, n + 1):
        ts = END_S - (n - i) * STEP_S
        p = 250.0 + (1500.0 if 17 <= (ts // 3600) % 24 < 20 else 0.0)
        energy += p * STEP_S / 3600
        yield i, float(ts), p, energy


def rows(days: int):
    for i, ts, p, energy in series(days):
        # (columns of sqlite_store.COLUMNS)
        yield (METER, 0, 1, i, ts, 1, ts + 0.5, float(STEP_S), energy, p, p / 230,
               1, None, None, p * STEP_S / 3600, ts - STEP_S, None, None, None)


@contextmanager
def influxd(prefix: str) -> Iterator[tuple[Influxd, Path]]:
    """A real influxd 1.6.7 (tests/services.py) and a work folder, both gone afterwards."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    engine = Influxd(work / "influxd").start()
    try:
        yield engine, work
    finally:
        engine.stop()
        shutil.rmtree(work, ignore_errors=True)


def write_lines(engine: Influxd, lines: list[str]) -> None:
    """Line protocol straight to influxd's /write, as a shipper would have sent it."""
    url = f"{engine.url}/write?db={engine.database}&precision=n"
    for i in range(0, len(lines), 50_000):
        urllib.request.urlopen(urllib.request.Request(
            url, data="\n".join(lines[i:i + 50_000]).encode(), method="POST"), timeout=120).read()


def timed(fn, requests: int) -> tuple[float, float]:
    fn()
    times = []
    for _ in range(requests):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--requests", type=int, default=50)
    args = ap.parse_args()
    with influxd("cw-bench-latest-") as (engine, work):
        t = time.perf_counter()
        ledger = SqliteStore(work / "ledger.sqlite")
        db = ledger.connection()
        batch: list[tuple] = []
        hours: list[str] = []
        n = 0

        def flush():
            write_lines(engine, [reading_line(r) for r in batch] + hours)
            hours.clear()
            with db:
                db.executemany(f"INSERT INTO reading ({COLUMNS}) VALUES "
                               f"({','.join('?' * 19)})", batch)
            batch.clear()

        for r in rows(args.days):
            batch.append(r)
            if r[4] % 3600 == 0 or n == 0:  # the hour points the shipper would have sent
                hours.append(hour_line(METER, 0, int(r[4]) // 3600 * 3600 - 3600, 0.0, 360))
            n += 1
            if len(batch) == 50_000:
                flush()
        if batch:
            flush()
        with db:  # the summary the write path would have kept
            db.execute("INSERT INTO channel_summary SELECT meter_id, channel, MIN(ts_utc), "
                       "MAX(ts_utc), MAX(received_utc), COUNT(*) FROM reading GROUP BY 1, 2")
        print(f"  {n} readings written in {time.perf_counter() - t:.0f} s", file=sys.stderr)

        reader = InfluxStore(engine.url, "")
        with_ledger = InfluxStore(engine.url, "", spool_path=work / "ledger.sqlite", ship=False)

        def order_by_desc():
            return reader.influxql.series(
                f"SELECT * FROM reading WHERE meter={_lit(METER)} "
                "GROUP BY channel ORDER BY time DESC LIMIT 1")

        def last_whole_series():
            return reader.influxql.series(
                f"SELECT last(seq) FROM reading WHERE meter={_lit(METER)} GROUP BY channel")

        def scan_meters():
            return db.execute("SELECT meter_id, MIN(ts_utc), MAX(ts_utc), MAX(received_utc), "
                              "COUNT(*) FROM reading GROUP BY meter_id").fetchall()

        assert reader.latest(METER) == with_ledger.latest(METER)
        assert reader.latest(METER)[0].seq == n
        res = {}
        for name, fn in (("influx_order_by_time_desc", order_by_desc),
                         ("influx_last_whole_series", last_whole_series),
                         ("influx_reader", lambda: reader.latest(METER)),
                         ("ledger_probe", lambda: with_ledger.latest(METER)),
                         ("meters_scan", scan_meters),
                         ("meters_summary", with_ledger.meters)):
            requests = args.requests if name != "meters_scan" else max(5, args.requests // 10)
            res[name] = timed(fn, requests)
            print(f"  {name:28s} p50 {res[name][0]:9.2f} ms   p95 {res[name][1]:9.2f} ms",
                  file=sys.stderr)
        reader.close()
        with_ledger.close()
        ledger.close()
    print(json.dumps({
        "name": "influx_latest_p95_ms", "value": round(res["influx_reader"][1], 2), "unit": "ms",
        "machine": f"{platform.node()} {os.cpu_count()} cores {platform.machine()}",
        "readings": n, "days": args.days, "requests": args.requests,
        **{f"{k}_p50_ms": round(v[0], 2) for k, v in res.items()},
        **{f"{k}_p95_ms": round(v[1], 2) for k, v in res.items()},
    }))


if __name__ == "__main__":
    main()
