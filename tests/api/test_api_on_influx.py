"""The API on the InfluxDB backend. `CITIZENWATT_STORE__KIND=influxdb citizenwatt api` reads
InfluxDB: started as a process, it serves a meter's energy, live power and the meter list
from points in a real influxd. And an hour without readings is a gap on either backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from citizenwatt.api.app import create_app
from citizenwatt.store.influx import InfluxStore
from citizenwatt.store.sqlite import SqliteStore
from tests.collector.helpers import ROOT, wait_until
from tests.services import free_port, stop_process
from tests.store.helpers import minutes, write_boundary_readings

H10 = datetime(2026, 6, 1, 10, tzinfo=UTC).timestamp()


def get(url: str):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


class ApiProcess:
    """`citizenwatt api` as a child process, configured by environment variables."""

    def __init__(self, data_dir, **env_extra):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir.parent / f"api-{self.port}.log"
        env = dict(os.environ, PYTHONPATH=str(ROOT), CITIZENWATT_API__PORT=str(self.port),
                   CITIZENWATT_DATA_DIR=str(data_dir), **env_extra)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "citizenwatt.cli", "api"],
                                         env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        stop_process(self.proc, 15)


def test_api_serves_a_meters_energy_from_influxdb(influx, tmp_path):
    rows = minutes(H10, H10 + 7200, power_w=900.0)  # 10:00 -> 12:00 UTC, 900 W
    writer = InfluxStore(influx.url, influx.token, "-", influx.bucket,
                         spool_path=tmp_path / "collector" / "spool.sqlite")
    writer.write(rows, H10 + 7200)
    assert writer.flush(10)
    writer.close()

    # The API on another directory (no ledger there): everything comes from InfluxDB.
    data = tmp_path / "api"
    api = ApiProcess(data, CITIZENWATT_STORE__KIND="influxdb",
                     CITIZENWATT_STORE__INFLUX_URL=influx.engine.url,
                     CITIZENWATT_STORE__INFLUX_TOKEN=influx.token,
                     CITIZENWATT_STORE__INFLUX_BUCKET=influx.bucket)
    url = api.url
    try:
        def up():
            assert api.proc.poll() is None, api.log()[-2000:]
            try:
                return get(url + "/api/v1/meters")
            except (urllib.error.URLError, ConnectionError):
                return None

        meters = wait_until(up, 30, "citizenwatt api to answer")["meters"]
        assert [(m["meter_id"], m["readings"], m["last_ts_utc"]) for m in meters] == \
            [("m-1", 120, H10 + 7200)]
        energy = get(url + "/api/v1/meters/m-1/energy?resolution=hour&start=2026-06-01&tz=UTC")
        got = [b["energy_wh"] for b in energy["buckets"]]
        assert got[10:12] == [pytest.approx(900.0), pytest.approx(900.0)]
        assert got[9] is None and got[12] is None
        assert energy["total"]["energy_wh"] == pytest.approx(1800.0)
        live = get(url + "/api/v1/meters/m-1/live")
        assert live["power_w"] == pytest.approx(900.0) and live["ts_utc"] == H10 + 7200
    finally:
        api.stop()
    assert "InfluxDB" in api.log()
    assert not (data / "readings.sqlite").exists()  # the embedded store was never opened


def test_api_with_influxdb_unreachable_says_so_in_one_line(tmp_path):
    port = free_port()
    api = ApiProcess(tmp_path / "api", CITIZENWATT_STORE__KIND="influxdb",
                     CITIZENWATT_STORE__INFLUX_URL=f"http://127.0.0.1:{port}")
    try:
        assert api.proc.wait(30) == 1
    finally:
        api.stop()
    assert f"127.0.0.1:{port}" in api.log() and "Vérifiez" in api.log()


def test_the_api_shows_an_hour_without_readings_as_a_gap_on_both_stores(influx, tmp_path):
    """A reading ending exactly at hh:00:00 belongs to the hour it closes, in both stores:
    the hour after it holds no row, and the API shows it as a gap, not 0 Wh."""
    writer = InfluxStore(influx.url, influx.token, "-", influx.bucket,
                         spool_path=tmp_path / "spool.sqlite")
    write_boundary_readings(writer)
    assert writer.flush(10)
    writer.close()
    reader = InfluxStore(influx.engine.url, influx.token, "-", influx.bucket)
    sqlite = SqliteStore(tmp_path / "r.sqlite")
    write_boundary_readings(sqlite)
    for store in (sqlite, reader):
        with TestClient(create_app(store)) as client:
            for meter, want in (("m-1", [1200.0, 600.0, None]), ("m-2", [None, 1200.0, None])):
                r = client.get(f"/api/v1/meters/{meter}/energy",
                               params={"resolution": "hour", "start": "2026-06-01", "tz": "UTC"})
                assert r.status_code == 200, r.text
                got = [b["energy_wh"] for b in r.json()["buckets"]][10:13]
                assert got == pytest.approx(want), (type(store).__name__, meter)
                assert r.json()["total"]["gap_buckets"] == 24 - sum(w is not None for w in want)
    sqlite.close()
    reader.close()
