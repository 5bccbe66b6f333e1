"""The two InfluxDB benches that share bench/collector_latest.py's helpers (the synthetic
channel, influxd in a work folder, the /write loop) run end to end on a few days: each
checks its own results against the other mode as it goes and prints its JSON line last."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.collector_latest import STEP_S, rows, series
from bench.multihost_hours import readings

REPO = Path(__file__).resolve().parents[2]


def test_one_series_for_both_benches():
    days = 2
    points = list(series(days))
    assert len(points) == days * 86400 // STEP_S
    assert [r[4] for r in rows(days)] == [ts for _i, ts, _p, _e in points]
    as_readings = readings(days)
    assert [(r.seq, r.ts_utc, r.power_w, r.energy_wh) for r in as_readings] == points
    # the counter is the power integrated: 250 W all day, 1,500 W more for 3 hours a day
    assert points[-1][3] - points[0][3] == pytest.approx(
        sum(p for _i, _ts, p, _e in points[1:]) * STEP_S / 3600)


@pytest.mark.parametrize("script, args, name", [
    ("collector_latest.py", ["--days", "2", "--requests", "2"], "influx_latest_p95_ms"),
    ("multihost_hours.py", ["--days", "3", "--requests", "2"], "multihost_hours"),
])
def test_bench_runs_and_prints_its_json_line(tmp_path, script, args, name):
    r = subprocess.run([sys.executable, str(REPO / "bench" / script), *args], capture_output=True,
                       text=True, timeout=600, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    last = json.loads(r.stdout.strip().splitlines()[-1])
    assert last["name"] == name and last["value"] > 0 and last["machine"]
    if name == "influx_latest_p95_ms":
        assert last["readings"] == 2 * 86400 // STEP_S
