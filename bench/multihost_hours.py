"""Cost of counting hours at read time (store.hours = "readings", collectors across hosts,
docs/scale.md) against reading the ledger's hour points (store.hours = "ledger"): the hours
of one channel of 10 s readings over a day, a week and a month, as the API asks for them.

    python bench/multihost_hours.py [--days 31] [--requests 20]

Starts a real influxd 1.6.7 in a temporary directory, writes the reading points straight to
its /write (what the shippers would have written) and the hour points one ledger would have
shipped, checks both modes give the same hours, then times them. Prints the details, then
one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.collector_latest import (  # noqa: E402  after the sys.path line above
    END_S,
    METER,
    STEP_S,
    influxd,
    rows,
    series,
    timed,
    write_lines,
)
from citizenwatt.store.influx import InfluxStore, hour_line, reading_line  # noqa: E402  after sys.path
from citizenwatt.store.port import ChannelReading  # noqa: E402  after the sys.path line above
from citizenwatt.store.whole_chain import chain_hours  # noqa: E402  after the sys.path line above

DAY_S = 86400


def readings(days: int) -> list[ChannelReading]:
    """The readings of bench/collector_latest.py's series, as the store's readings."""
    return [ChannelReading(METER, 0, 1, i, ts, True, float(STEP_S), energy, p, p / 230, True)
            for i, ts, p, energy in series(days)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=31)
    ap.add_argument("--requests", type=int, default=20)
    args = ap.parse_args()
    with influxd("cw-bench-hours-") as (engine, _work):
        t = time.perf_counter()
        channel = readings(args.days)
        hours = chain_hours({0: channel}, 0, 4e9)
        # the ledger rows a shipper would have sent (their 19 columns, as in sqlite.COLUMNS)
        lines = [reading_line(r) for r in rows(args.days)]
        lines += [hour_line(METER, 0, h.hour_utc, h.energy_wh, h.readings) for h in hours]
        write_lines(engine, lines)
        print(f"  {len(channel)} readings written in {time.perf_counter() - t:.0f} s",
              file=sys.stderr)
        by_hours = InfluxStore(engine.url, "", hours="ledger")
        by_readings = InfluxStore(engine.url, "", hours="readings")
        res = {}
        for span, days in (("day", 1), ("week", 7), ("month", min(30, args.days - 2))):
            start = float((END_S - (days + 1) * DAY_S) // 3600 * 3600)
            end = start + days * DAY_S
            a = by_hours.hourly(METER, start, end)
            b = by_readings.hourly(METER, start, end)
            assert [(h.hour_utc, h.readings) for h in a] == [(h.hour_utc, h.readings) for h in b]
            assert abs(sum(h.energy_wh for h in a) - sum(h.energy_wh for h in b)) < 1e-6
            for mode, store in (("ledger", by_hours), ("readings", by_readings)):
                name = f"{span}_{mode}"
                res[name] = timed(lambda s=store, a=start, e=end: s.hourly(METER, a, e),
                                  args.requests)
                print(f"  {name:16s} p50 {res[name][0]:9.2f} ms   p95 {res[name][1]:9.2f} ms",
                      file=sys.stderr)
        by_hours.close()
        by_readings.close()
    print(json.dumps({
        "name": "multihost_hours", "value": round(res["day_readings"][1], 1), "unit": "ms p95",
        "days_of_readings": args.days, "step_s": STEP_S,
        **{f"{k}_p50_ms": round(v[0], 1) for k, v in res.items()},
        **{f"{k}_p95_ms": round(v[1], 1) for k, v in res.items()},
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"}))


if __name__ == "__main__":
    main()
