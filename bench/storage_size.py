"""Bytes on disk per channel reading in each storage tier, and what a year of a workshop
deployment (50 households x 2 clamps, a reading every 10 s) takes, in the embedded store
and in InfluxDB 1.6.7.

    python bench/storage_size.py [--days 7] [--channels 4] [--no-influx]

A sample of `channels` channels over `days` days of household-like 10 s readings (wire
precision: energy in mWh, power in cW, current in mA) is written, then folded with tiers
scaled to the sample (one day hot, raw readings up to the fourth day, aggregates of 60 s
beyond), and each tier's bytes (SQLite's dbstat: its tables' and indexes' pages) are
divided by the readings it holds. The year is those per-reading sizes times the readings a
year puts in each tier with the default settings (raw 90 days, aggregates 2 years, hours
for ever). Sizes are deterministic (same seed, same bytes); only the timings vary.
InfluxDB: the same sample shipped by InfluxStore with its tiers on, its cache written to
TSM files and compacted, bytes per retention policy from its data folders.
Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

from citizenwatt.store.port import ChannelReading
from citizenwatt.store.sqlite import SqliteStore
from citizenwatt.store.tiers import DAY_S, Tiers, table_bytes

STEP_S = 10
YEAR_READINGS = 365 * DAY_S // STEP_S
DEPLOYMENT_CHANNELS = 50 * 2


def household_power_w(t: float, rnd: random.Random, state: dict) -> float:
    """A base load, a fridge cycling, the evening peak and appliances switched on at random."""
    hour = (t % DAY_S) / 3600
    p = 140.0 + (95.0 if (t // 60) % 50 < 18 else 0.0)
    if 18 <= hour < 22:
        p += 900.0
    if state["until"] > t:
        p += state["load"]
    elif rnd.random() < 0.002:
        state["until"], state["load"] = t + rnd.uniform(60, 3600), rnd.choice((1200.0, 2000.0, 2400.0))
    return p * (1 + rnd.uniform(-0.01, 0.01))


def sample(channels: int, days: float, end_s: float) -> list[ChannelReading]:
    rows = []
    n = int(days * DAY_S // STEP_S)
    t0 = end_s - n * STEP_S
    for c in range(channels):
        rnd, state = random.Random(c), {"until": 0.0, "load": 0.0}
        energy_mwh = rnd.randrange(10**6, 10**8)
        meter, channel = f"bench-{c // 2:03d}", c % 2
        for i in range(1, n + 1):
            t = t0 + i * STEP_S
            p = round(household_power_w(t, rnd, state) * (0.4 if channel else 1.0), 2)
            energy_mwh += round(p * STEP_S / 3.6)
            rows.append(ChannelReading(meter, channel, 1, i, t, True, float(STEP_S),
                                       energy_mwh / 1000, p, round(p / 231, 3), True))
    rows.sort(key=lambda r: (r.ts_utc, r.meter_id, r.channel))
    return rows


def embedded(rows: list[ChannelReading], folder: Path, end_s: float) -> dict:
    store = SqliteStore(folder / "readings.sqlite")
    t = time.perf_counter()
    for i in range(0, len(rows), 20_000):
        store.write(rows[i:i + 20_000], end_s)
    write_s = time.perf_counter() - t
    db = store.connection()
    unfolded = table_bytes(db)["hot"] / len(rows)
    tiers = Tiers(raw_s=4 * DAY_S, aggregate_s=60, aggregate_keep_s=730 * DAY_S, hot_s=DAY_S)
    t = time.perf_counter()
    report = store.fold(end_s, tiers)
    fold_s = time.perf_counter() - t
    usage = {u.tier: u for u in store.storage_report(tiers, end_s).tiers}
    store.close()
    per = {k: usage[k].bytes / usage[k].readings for k in ("hot", "raw", "aggregate", "hour")}
    return {"unfolded_bytes_per_reading": unfolded, "bytes_per_reading": per,
            "write_s": write_s, "fold_s": fold_s, "folded_readings": report.packed}


def year_bytes(per: dict, hot_days: float = 1, raw_days: float = 90) -> dict:
    """A year of the deployment with the default tiers: hot rows for a day, raw to 90 days,
    aggregates for the rest of the year, an hour row per channel and hour."""
    per_day = DEPLOYMENT_CHANNELS * DAY_S / STEP_S
    out = {"hot": per_day * hot_days * per["hot"], "raw": per_day * (raw_days - hot_days) * per["raw"],
           "aggregate": per_day * (365 - raw_days) * per["aggregate"],
           "hour": DEPLOYMENT_CHANNELS * 8760 * per["hour"]}
    out["total"] = sum(out.values())
    return out


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def influx(rows: list[ChannelReading], folder: Path) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from citizenwatt.store.influx import AGG_RP, RAW_RP, InfluxStore
    from tests.influx_v2_adapter import InfluxV2Adapter
    from tests.services import Influxd

    class CompactingInfluxd(Influxd):
        """Writes its cache to TSM files and compacts them within seconds of the last write,
        so the folders show the compressed size (production does it after 10 min and 4 h)."""

        def write_conf(self) -> Path:
            conf = super().write_conf()
            conf.write_text(conf.read_text().replace(
                "  query-log-enabled = false\n",
                "  query-log-enabled = false\n  cache-snapshot-write-cold-duration = \"2s\"\n"
                "  compact-full-write-cold-duration = \"3s\"\n"))
            return conf

    engine = CompactingInfluxd(folder / "influxd").start()
    adapter = InfluxV2Adapter(engine.host, engine.port).start()
    tiers = Tiers(raw_s=30 * DAY_S, aggregate_s=60, aggregate_keep_s=730 * DAY_S, hot_s=DAY_S)
    try:
        store = InfluxStore(adapter.url, "bench:bench", spool_path=folder / "spool.sqlite",
                            tiers=tiers, chunk_points=20_000)
        store.check()
        for i in range(0, len(rows), 20_000):
            store.write(rows[i:i + 20_000], rows[-1].ts_utc)
        if not store.flush(600):
            raise SystemExit("InfluxDB did not take the sample in 10 minutes")
        store.fold(rows[-1].ts_utc + STEP_S, tiers)
        hours = len({(r.meter_id, r.channel, int(r.ts_utc // 3600)) for r in rows})
        store.close()
        data = folder / "influxd" / "data" / "citizenwatt"
        wal = folder / "influxd" / "wal" / "citizenwatt"
        deadline = time.monotonic() + 120
        while dir_bytes(wal) > 1024 * 64 and time.monotonic() < deadline:
            time.sleep(1)
        time.sleep(6)  # the full compaction after the last snapshot
        raw = dir_bytes(data / RAW_RP)
        agg = dir_bytes(data / AGG_RP)
        hour = dir_bytes(data / "autogen")
    finally:
        adapter.stop()
        engine.stop()
    return {"bytes_per_reading": {"raw": raw / len(rows), "aggregate": agg / len(rows),
                                  "hour": hour / hours},
            "wal_bytes_left": dir_bytes(wal)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--channels", type=int, default=4)
    ap.add_argument("--no-influx", action="store_true")
    args = ap.parse_args()
    end_s = math.floor(time.time() / 3600) * 3600  # InfluxDB keeps points by its own clock
    rows = sample(args.channels, args.days, end_s)
    result: dict = {"name": "storage_size", "unit": "bytes", "readings": len(rows),
                    "deterministic": "sizes (same seed, same bytes); timings vary"}
    with tempfile.TemporaryDirectory() as tmp:
        e = embedded(rows, Path(tmp), end_s)
        year = year_bytes(e["bytes_per_reading"])
        result["sqlite"] = {**e, "year_bytes": year,
                            "unfolded_year_bytes": e["unfolded_bytes_per_reading"] * YEAR_READINGS
                            * DEPLOYMENT_CHANNELS}
        print(f"embedded: {json.dumps(result['sqlite'], default=round)}", file=sys.stderr)
        if not args.no_influx:
            i = influx(rows, Path(tmp))
            per = i["bytes_per_reading"]
            result["influxdb"] = {**i, "year_bytes": {
                "raw": DEPLOYMENT_CHANNELS * DAY_S / STEP_S * 90 * per["raw"],
                "aggregate": DEPLOYMENT_CHANNELS * DAY_S / STEP_S * 275 * per["aggregate"],
                "hour": DEPLOYMENT_CHANNELS * 8760 * per["hour"]}}
            result["influxdb"]["year_bytes"]["total"] = sum(result["influxdb"]["year_bytes"].values())
    result["value"] = result["sqlite"]["year_bytes"]["total"]
    result["targets"] = {"year_total_bytes": 2e9, "raw_bytes_per_reading": 16}
    result["machine"] = f"{platform.machine()} {platform.python_implementation()} {platform.python_version()}"
    print(json.dumps(result))


if __name__ == "__main__":
    main()
