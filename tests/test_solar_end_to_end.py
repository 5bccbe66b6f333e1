"""Both directions through the whole chain: a household with solar panels and one without,
simulated meters running the firmware code -> Mosquitto -> collector -> store -> API and
pages. What the solar meter counted as sent back to the grid is what the API and the pages
report; the household without panels sees nothing new."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient

from citizenwatt.api import admin
from citizenwatt.api.app import create_app
from citizenwatt.collector.service import Collector
from citizenwatt.host.simulator import SimulatedMeter
from citizenwatt.store.sqlite import SqliteStore
from tests.collector.helpers import wait_until

READINGS = 30
INTERVAL_S = 10.0
# Half past noon in Paris in June: the panels produce more than the house uses.
START_UTC = dt.datetime(2026, 6, 10, 10, 30, tzinfo=dt.UTC).timestamp()
NOW = START_UTC + 2 * 3600  # same local day, later


def kwh(text: str, label: str) -> float:
    """The kWh figure after `label` in a French page ("… : 1,23 kWh")."""
    m = re.search(re.escape(label) + r"\s*:\s*([\d\u202f ]+(?:,\d+)?)\u00a0(k?Wh)", text)
    assert m, label
    value = float(m.group(1).replace("\u202f", "").replace(" ", "").replace(",", "."))
    return value if m.group(2) == "kWh" else value / 1000


def test_export_counted_by_the_meter_is_what_the_api_and_pages_show(mosquitto, tmp_path):
    store = SqliteStore(tmp_path / "readings.sqlite")
    collector = Collector(store, mosquitto.host, mosquitto.port, client_id="solar-collector",
                          clock=lambda: NOW)
    collector.start()
    solar = SimulatedMeter(meter_id="solar-1", host=mosquitto.host, port=mosquitto.port,
                           state_dir=tmp_path / "solar", seed=21, interval_s=INTERVAL_S,
                           speed=60.0, channels=2, start_utc=START_UTC, solar_kw=6.0)
    plain = SimulatedMeter(meter_id="plain-1", host=mosquitto.host, port=mosquitto.port,
                           state_dir=tmp_path / "plain", seed=22, interval_s=INTERVAL_S,
                           speed=60.0, channels=1, start_utc=START_UTC)
    try:
        for m in (solar, plain):
            m.start()
        for m in (solar, plain):
            assert m.wait_published(READINGS, timeout_s=120), (m.meter_id, m.published, m.error)
    finally:
        for m in (solar, plain):
            m.stop(timeout_s=15)
    published = solar.published + plain.published
    # wait for every reading the broker acknowledged (wait_idle alone can return while the
    # broker still holds some for the collector, under load)
    wait_until(lambda: collector.metrics.readings_stored >= published, 60,
               "every reading the broker acknowledged to be stored")
    assert collector.wait_idle(20)
    collector.stop()
    assert collector.metrics.readings_stored == published
    assert sum(collector.metrics.rejected.values()) == 0

    exported_wh = solar.counted_export_wh
    assert list(exported_wh) == [0]            # only the bidirectional mains clamp
    assert exported_wh[0] > 10                 # kW exported for minutes
    assert plain.counted_export_wh == {}
    # the meter's reading: net power negative, no fault, export counter on the wire
    (r0, r1) = sorted(store.latest("solar-1"), key=lambda r: r.channel)
    assert r0.power_w < -1000 and r0.export_wh == pytest.approx(exported_wh[0], abs=1e-3)
    assert r1.export_wh is None and r1.power_w >= 0
    assert [r.export_wh for r in store.latest("plain-1")] == [None]
    assert not (store.meters()[1].status or {}).get("faults")

    app = create_app(store, clock=lambda: NOW)
    client = TestClient(app)
    day = dt.datetime.fromtimestamp(START_UTC, dt.UTC).date()
    for meter, expected in (("solar-1", exported_wh[0]), ("plain-1", 0.0)):
        body = client.get(f"/api/v1/meters/{meter}/energy",
                          params={"resolution": "hour", "start": day.isoformat(),
                                  "end": day.isoformat()}).json()
        assert body["total"]["export_wh"] == pytest.approx(expected, rel=1e-3, abs=1e-3)
        assert sum(b["export_wh"] for b in body["buckets"]) == pytest.approx(expected, rel=1e-3,
                                                                            abs=1e-3)
    live = client.get("/api/v1/meters/solar-1/live").json()
    assert live["channels"][0]["export_wh"] == pytest.approx(exported_wh[0], abs=1e-3)
    assert live["channels"][1]["export_wh"] is None
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    for model in ("BucketOut", "TotalOut", "ChannelPower"):
        assert "export_wh" in schema[model]["properties"]

    with app.state.sessionmaker() as db:
        dep = admin.create_deployment(db, "Atelier Soleil")
        links = {}
        for meter, name in (("solar-1", "Foyer solaire"), ("plain-1", "Foyer sans panneaux")):
            hh, token = admin.create_household(db, dep, name)
            admin.register_meter(db, dep, meter)
            admin.assign_meter(db, hh, meter, day - dt.timedelta(days=1))
            links[meter] = token
        db.commit()
    page = client.get(f"/h/{links['solar-1']}").text
    assert kwh(page, "Renvoyé au réseau depuis minuit") == pytest.approx(exported_wh[0] / 1000,
                                                                         abs=0.006)
    # right now the panels produce more than the home uses: said in words, no minus sign
    assert re.search(r'id="live-power">[\d\u202f ]+\u00a0W renvoyés au réseau<', page)
    english = client.get(f"/h/{links['solar-1']}?lang=en").text
    assert "Sent back to the grid since midnight:" in english
    assert "W sent back to the grid<" in english
    history = client.get(f"/h/{links['solar-1']}/history").text
    assert kwh(history, "Renvoyé au réseau") == pytest.approx(exported_wh[0] / 1000, abs=0.006)
    assert "<th class=\"num\">Renvoyé au réseau</th>" in history
    csv_text = client.get(f"/h/{links['solar-1']}/energy.csv",
                          params={"resolution": "day", "start": day.isoformat(),
                                  "end": day.isoformat()}).text
    header, row = csv_text.lstrip("\ufeff").splitlines()[:2]
    assert header.endswith(";Renvoyé au réseau (kWh)")
    assert float(row.split(";")[-1].replace(",", ".")) == pytest.approx(exported_wh[0] / 1000,
                                                                        abs=0.0011)
    readings_csv = client.get(f"/h/{links['solar-1']}/readings.csv").text
    assert readings_csv.lstrip("\ufeff").splitlines()[0].endswith(";Index renvoyé au réseau (kWh)")
    # the household without panels: nothing new anywhere
    for path in ("", "/history", "/energy.csv", "/readings.csv"):
        text = client.get(f"/h/{links['plain-1']}{path}").text
        # (the live script's text for a negative power is in every page, unseen)
        text = re.sub(r'data-t-export="[^"]*"', "", text)
        assert "renvoyé" not in text.lower(), path
    store.close()
