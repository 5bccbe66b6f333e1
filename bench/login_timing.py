"""Can a username be told apart by the time a wrong sign-in takes? POST /staff/login with a
wrong password for an existing account and for an unknown one, alternately, in this
process (FastAPI's TestClient, in-memory database); medians of each, and their ratio
(1.0: indistinguishable; the issue measured 40.7 ms against 4.9 ms, a ratio of 8.3).

    python bench/login_timing.py [--rounds 40]

The failure limit is raised for the run (every attempt here is a failure).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from citizenwatt.api import admin
from citizenwatt.api.app import create_app
from citizenwatt.config import Settings
from citizenwatt.store.sqlite import SqliteStore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "readings.sqlite")
        settings = Settings(api={"database_url": "sqlite://", "auth_max_failures": 10_000})
        app = create_app(store, settings)
        with app.state.sessionmaker() as db:
            admin.create_staff(db, "anne", "a long enough password", "admin", None)
            db.commit()
        times: dict[str, list[float]] = {"anne": [], "nobody": []}
        with TestClient(app) as c:
            for _ in range(3):  # warm-up: templates, first scrypt
                c.post("/staff/login", data={"username": "anne", "password": "wrong"})
            for _ in range(args.rounds):
                for user in times:
                    t0 = time.perf_counter()
                    r = c.post("/staff/login", data={"username": user, "password": "wrong password"})
                    times[user].append(time.perf_counter() - t0)
                    assert r.status_code == 401, r.status_code
        store.close()
    existing, unknown = (statistics.median(times[u]) * 1000 for u in ("anne", "nobody"))
    print(f"wrong password, existing account: median {existing:.1f} ms")
    print(f"wrong password, unknown account:  median {unknown:.1f} ms")
    print(json.dumps({
        "name": "login_time_ratio_existing_over_unknown",
        "value": round(existing / unknown, 3),
        "unit": "ratio",
        "existing_ms": round(existing, 2),
        "unknown_ms": round(unknown, 2),
        "rounds": args.rounds,
        "machine": f"{platform.node()} {os.cpu_count()} cores {platform.machine()}",
    }))


if __name__ == "__main__":
    main()
