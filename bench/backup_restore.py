"""Backup and restore of a deployment on the embedded stores, and the schema migration at
start: 1,000 households (links, meters, assignments) and a year of one-minute readings of
one meter (525,600 readings), then
- the migration of a previous-release database of that size (stamp, upgrade to head), and
  of a fresh one (what every API start on an empty database costs);
- `backup` (SQLite online backup API, manifest with SHA-256) and `restore` into a wiped
  data folder, in seconds and MB/s.

    python bench/backup_restore.py [--households 1000] [--days 365]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from citizenwatt.api.backup import backup, restore
from citizenwatt.api.db import make_engine, upgrade
from citizenwatt.config import Settings
from citizenwatt.store.port import ChannelReading
from citizenwatt.store.sqlite import SqliteStore

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.api import models_0_1_0 as previous  # noqa: E402 - the schema before migrations


def fill(settings: Settings, households: int, days: int, now: float) -> int:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url)
    previous.Base.metadata.create_all(engine)  # as release 0.1.0 left it
    t = previous.Base.metadata.tables
    with engine.begin() as conn:
        conn.execute(t["deployment"].insert(), [{"id": 1, "name": "Bench", "timezone": "Europe/Paris",
                                                 "co2_g_per_kwh": 52.0, "co2_source": "RTE",
                                                 "hdd_base_c": 18.0, "created_utc": now}])
        conn.execute(t["household"].insert(), [
            {"id": k + 1, "deployment_id": 1, "name": f"Foyer {k:04d}", "profile": "p",
             "tariff_option": "base", "offpeak_start_h": 22, "offpeak_end_h": 6,
             "baseline_start": None, "baseline_end": None, "created_utc": now} for k in range(households)])
        conn.execute(t["household_link"].insert(), [
            {"household_id": k + 1, "token_sha256": f"{k:064x}", "created_utc": now, "revoked_utc": None}
            for k in range(households)])
        conn.execute(t["meter"].insert(), [{"id": f"bench-{k:04d}", "deployment_id": 1, "note": ""}
                                           for k in range(households)])
        conn.execute(t["meter_assignment"].insert(), [
            {"meter_id": f"bench-{k:04d}", "household_id": k + 1, "valid_from": date(2025, 1, 1),
             "valid_to": None} for k in range(households)])
    engine.dispose()
    store = SqliteStore(settings.readings_db)
    start, n, batch = now - days * 86400, 0, []
    for i in range(1, days * 1440 + 1):
        batch.append(ChannelReading(meter_id="bench-0000", channel=0, boot=1, seq=i, ts_utc=start + 60 * i,
                                    ts_from_meter=True, interval_s=60, energy_wh=i * 5.0, power_w=300.0,
                                    irms_a=1.3, apparent=True))
        if len(batch) == 20000:
            store.write(batch, now)
            n += len(batch)
            batch = []
    store.write(batch, now)
    store.close()
    return n + len(batch)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--households", type=int, default=1000)
    ap.add_argument("--days", type=int, default=365)
    args = ap.parse_args()
    now = datetime(2026, 10, 31, 18, 30, tzinfo=UTC).timestamp()
    work = Path(tempfile.mkdtemp(prefix="cw-bench-backup-"))
    settings = Settings(data_dir=work / "data")
    try:
        readings = fill(settings, args.households, args.days, now)
        engine = make_engine(settings.database_url)
        t0 = time.perf_counter()
        revisions = upgrade(engine)
        migrate_previous_ms = (time.perf_counter() - t0) * 1000
        engine.dispose()
        fresh = []
        for _ in range(20):
            engine = make_engine("sqlite://")
            t0 = time.perf_counter()
            upgrade(engine)
            fresh.append((time.perf_counter() - t0) * 1000)
            engine.dispose()

        t0 = time.perf_counter()
        manifest = backup(settings, work / "backup", now_utc=now)
        backup_s = time.perf_counter() - t0
        size_mb = sum(f["bytes"] for f in manifest["files"]) / 1e6
        shutil.rmtree(settings.data_dir)
        t0 = time.perf_counter()
        restore(settings, work / "backup", force=False, now_utc=now)
        restore_s = time.perf_counter() - t0
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({
        "name": "backup_seconds_embedded_year",
        "value": round(backup_s, 2),
        "unit": "s",
        "machine": f"{platform.node()} {os.cpu_count()} cores {platform.machine()}",
        "restore_s": round(restore_s, 2),
        "backup_mb": round(size_mb, 1),
        "backup_mb_per_s": round(size_mb / backup_s, 1),
        "restore_mb_per_s": round(size_mb / restore_s, 1),
        "migrate_previous_release_ms": round(migrate_previous_ms, 1),
        "migrated": list(revisions),
        "migrate_fresh_median_ms": round(sorted(fresh)[len(fresh) // 2], 1),
        "households": args.households, "readings": readings,
    }))


if __name__ == "__main__":
    main()
