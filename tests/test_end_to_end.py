"""The whole chain: simulated meters (firmware code) -> Mosquitto -> collector -> store -> API.

The energy the API reports must equal the energy the meters counted, within 0.1 %.
"""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from citizenwatt.api.app import create_app
from citizenwatt.collector.service import Collector
from citizenwatt.host.simulator import SimulatedMeter
from citizenwatt.store.sqlite import SqliteStore
from tests.collector.helpers import wait_until

METERS = 3
READINGS = 40
SPEED = 60.0
INTERVAL_S = 10.0
# The meters' simulated clock starts here, two minutes before the autumn DST change (01:00
# UTC): the readings cross an hour boundary and the 25-hour local day on every run. The
# collector's and the API's clocks are a day later, so no reading comes from their future.
START_UTC = dt.datetime(2026, 10, 25, 0, 58, tzinfo=dt.UTC).timestamp()
NOW = START_UTC + 86400


def test_energy_reported_by_the_api_equals_what_the_meters_counted(mosquitto, tmp_path):
    store = SqliteStore(tmp_path / "readings.sqlite")
    collector = Collector(store, mosquitto.host, mosquitto.port, client_id="e2e-collector",
                          clock=lambda: NOW)
    collector.start()
    meters = [SimulatedMeter(meter_id=f"e2e-{i}", host=mosquitto.host, port=mosquitto.port,
                             state_dir=tmp_path / f"meter-{i}", seed=10 + i,
                             interval_s=INTERVAL_S, speed=SPEED, channels=2,
                             start_utc=START_UTC)
              for i in range(METERS)]
    try:
        for m in meters:
            m.start()
        for m in meters:
            assert m.wait_published(READINGS, timeout_s=120), (m.meter_id, m.published, m.error)
    finally:
        for m in meters:
            m.stop(timeout_s=15)
    published = sum(m.published for m in meters)
    # Every reading the broker acknowledged to a meter reaches the collector: wait for them
    # all (wait_idle alone can return while the broker still holds some for it, under load).
    wait_until(lambda: collector.metrics.readings_stored >= published, 60,
               "every reading the broker acknowledged to be stored")
    assert collector.wait_idle(20)
    collector.stop()
    assert collector.metrics.readings_stored == published
    assert sum(collector.metrics.rejected.values()) == 0

    app = create_app(store, clock=lambda: NOW)
    client = TestClient(app)
    first = dt.datetime.fromtimestamp(START_UTC, dt.UTC).date() - dt.timedelta(days=1)
    last = first + dt.timedelta(days=4)
    for m in meters:
        counted_wh = sum(m.counted_wh.values())
        assert counted_wh > 0
        r = client.get(f"/api/v1/meters/{m.meter_id}/energy",
                       params={"resolution": "hour", "start": first.isoformat(),
                               "end": last.isoformat()})
        assert r.status_code == 200, r.text
        body = r.json()
        hours = [b["energy_wh"] for b in body["buckets"] if b["energy_wh"] is not None]
        assert len(hours) >= 2  # the readings cross 01:00 UTC, into the repeated local hour
        assert sum(hours) == pytest.approx(counted_wh, rel=1e-3)
        assert body["total"]["energy_wh"] == pytest.approx(counted_wh, rel=1e-3)
        # and per channel
        for ch, wh in m.counted_wh.items():
            r = client.get(f"/api/v1/meters/{m.meter_id}/energy",
                           params={"resolution": "day", "start": first.isoformat(),
                                   "end": last.isoformat(), "channel": ch})
            assert r.json()["total"]["energy_wh"] == pytest.approx(wh, rel=1e-3, abs=1e-3)
        live = client.get(f"/api/v1/meters/{m.meter_id}/live").json()
        assert [c["channel"] for c in live["channels"]] == sorted(m.counted_wh)
    store.close()
