"""The shipped Grafana dashboard (deploy/grafana): every InfluxQL query of it runs on a real
InfluxDB 1.6.7 that the collector filled through Mosquitto, and gives the API's figures;
one meter's first clamp is a solar household's mains clamp (bidirectional: it sends energy
back to the grid at midday), whose export per hour the dashboard shows as the API counts it."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from fastapi.testclient import TestClient

from citizenwatt.api.app import create_app
from citizenwatt.config import Settings
from citizenwatt.firmware import wire
from citizenwatt.store.influx import InfluxStore
from tests.collector.helpers import run_collector_on, scrape

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "citizenwatt.json"
T0 = datetime(2026, 6, 1, 0, 0, tzinfo=UTC).timestamp()
STEP_S = 300.0
N = 2 * 288 + 12  # two days and an hour of readings at 5 min
METERS = ("gf-01", "gf-02")
PARIS = ZoneInfo("Europe/Paris")


def solar(meter: int, ch: int) -> bool:
    """gf-02's clamp 0: a household with solar panels (the mains clamp counts both ways)."""
    return (meter, ch) == (1, 0)


def power(meter: int, ch: int, k: int) -> float:
    p = 150.0 + 90.0 * meter + 40.0 * ch + 25.0 * ((k * 7 + ch * 3) % 11)
    if solar(meter, ch) and 10 <= (k * STEP_S / 3600) % 24 < 15:
        return -(300.0 + 20.0 * (k % 5))  # midday (UTC): the panels make more than is used
    return p


def stream() -> list[tuple]:
    out: list[tuple] = []
    for m, meter in enumerate(METERS):
        energy = [0.0, 0.0]
        export = [0.0, 0.0]
        for k in range(N):
            chans = []
            for c in range(2):
                p = power(m, c, k)
                if p >= 0:
                    energy[c] += p * STEP_S / 3600
                else:
                    export[c] += -p * STEP_S / 3600
                chans.append(wire.channel(c, energy[c], p, abs(p) / 230, vrms_v=231.0,
                                          pf=0.97 if p >= 0 else -0.97,
                                          export_wh=export[c] if solar(m, c) else None))
            out.append((wire.reading_topic(meter), wire.encode_reading(
                meter, 1, k, int(k * STEP_S * 1000), STEP_S, chans, ts=T0 + (k + 1) * STEP_S)))
        out.append((wire.status_topic(meter), wire.encode_status(meter, "online", {"fw": "1.4.0"}), True))
    return out


def queries(dashboard: dict) -> dict[int, str]:
    return {p["id"]: t["query"] for p in dashboard["panels"] for t in p["targets"]
            if p["datasource"]["type"] == "influxdb"}


def fill_in(query: str, start_s: float, end_s: float, meter: str = ".*", channel: str = ".*",
            interval: str = "5m") -> str:
    """What Grafana sends for a query: its macros and variables replaced."""
    q = query.replace("$timeFilter", f"time >= {int(start_s)}s AND time < {int(end_s)}s")
    q = q.replace("$__interval", interval).replace("$tz", "Europe/Paris")
    return q.replace("$meter", meter).replace("$channel", channel)


def series(engine, q: str) -> list[dict]:
    res = engine.query(q)
    return res[0].get("series", [])


@pytest.fixture
def filled(mosquitto, influx, tmp_path):
    writer = InfluxStore(influx.url, influx.token, "-", influx.bucket,
                         spool_path=tmp_path / "collector" / "spool.sqlite")
    try:
        collector = run_collector_on(mosquitto, writer, stream())
        assert collector.metrics.readings_stored == len(METERS) * N
        assert writer.flush(30)
    finally:
        writer.close()
    reader = InfluxStore(influx.url, influx.token, "-", influx.bucket)  # the API: no ledger
    (tmp_path / "api").mkdir()
    client = TestClient(create_app(reader, Settings(data_dir=tmp_path / "api"),
                                   clock=lambda: T0 + (N + 1) * STEP_S))
    yield influx.engine, client
    reader.close()


def test_the_dashboard_is_well_formed_and_its_provisioning_points_at_it():
    d = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert d["uid"] == "citizenwatt-meters" and d["schemaVersion"] >= 36
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids)) >= 6
    sources = yaml.safe_load((ROOT / "deploy/grafana/provisioning/datasources/citizenwatt.yaml").read_text())
    uids = {s["uid"]: s["type"] for s in sources["datasources"]}
    for p in d["panels"]:
        assert uids[p["datasource"]["uid"]] == p["datasource"]["type"], p["title"]
        for t in p["targets"]:
            assert t["datasource"] == p["datasource"]
    for v in d["templating"]["list"]:
        assert v.get("datasource") is None or v["datasource"]["uid"] in uids
    provider = yaml.safe_load((ROOT / "deploy/grafana/provisioning/dashboards/citizenwatt.yaml").read_text())
    assert provider["providers"][0]["type"] == "file"
    # every variable a query uses is defined, and every query is scoped by them
    names = {v["name"] for v in d["templating"]["list"]}
    for q in queries(d).values():
        used = set(re.findall(r"\$(\w+)", q)) - {"timeFilter", "__interval"}
        assert used <= names and "meter" in used, q


def test_every_query_runs_on_influxdb_and_matches_the_api(filled):
    engine, api = filled
    d = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    qs = queries(d)
    start, end = T0, T0 + 2 * 86400
    day0 = datetime.fromtimestamp(T0, PARIS).date()  # 2026-06-01, Paris
    # the variables' own queries list the meters and channels
    var = {v["name"]: v for v in d["templating"]["list"]}
    got = series(engine, var["meter"]["query"])
    assert sorted(v[1] for v in got[0]["values"]) == sorted(METERS)
    got = series(engine, fill_in(var["channel"]["query"], start, end, meter="gf-01"))
    assert sorted(v[1] for v in got[0]["values"]) == ["0", "1"]

    for meter in METERS:
        for ch in (0, 1):
            # energy per hour = the API's hourly buckets of the channel
            hours = series(engine, fill_in(qs[2], start, end, meter=meter, channel=str(ch)))
            assert len(hours) == 1 and hours[0]["tags"] == {"meter": meter, "channel": str(ch)}
            grafana = {t: v for t, v in hours[0]["values"] if v is not None}
            r = api.get(f"/api/v1/meters/{meter}/energy", params={
                "resolution": "hour", "start": "2026-06-01", "end": "2026-06-02", "tz": "UTC", "channel": ch})
            assert r.status_code == 200, r.text
            want = {int(b["start"] if isinstance(b["start"], int | float) else
                        datetime.fromisoformat(b["start"]).timestamp()): b["energy_wh"] / 1000
                    for b in r.json()["buckets"] if b["energy_wh"] is not None}
            assert len(want) == 48 and grafana.keys() == want.keys()
            for t in want:
                assert grafana[t] == pytest.approx(want[t], abs=1e-6), (meter, ch, t)

            # energy sent back to the grid per hour = the API's export of the same buckets
            sent = series(engine, fill_in(qs[8], start, end, meter=meter, channel=str(ch)))
            grafana_x = {t: v for t, v in sent[0]["values"] if v is not None}
            api_x = {int(datetime.fromisoformat(b["start"]).timestamp()
                         if isinstance(b["start"], str) else b["start"]): b["export_wh"] / 1000
                     for b in r.json()["buckets"] if b["energy_wh"] is not None}
            assert grafana_x.keys() == api_x.keys() == want.keys()
            for t in api_x:
                assert grafana_x[t] == pytest.approx(api_x[t], abs=1e-6), (meter, ch, t)
            # what the stream sent: 5 h of export a day on the solar clamp, none elsewhere
            exported = {t: sum(-power(1, 0, k) * STEP_S / 3600 for k in range(N)
                               if t < T0 + (k + 1) * STEP_S <= t + 3600 and power(1, 0, k) < 0) / 1000
                        for t in api_x}
            if solar(METERS.index(meter), ch):
                assert sum(1 for v in grafana_x.values() if v > 0) == 10
                assert grafana_x == pytest.approx(exported, abs=1e-6)
            else:
                assert set(grafana_x.values()) == {0}

            # energy per local day (Paris), as the API counts it
            days = series(engine, fill_in(qs[3], start, end + 86400, meter=meter, channel=str(ch)))
            grafana_days = {datetime.fromtimestamp(t, PARIS).date(): v for t, v in days[0]["values"]
                            if v is not None}
            r = api.get(f"/api/v1/meters/{meter}/energy", params={
                "resolution": "day", "start": day0.isoformat(), "end": (day0 + timedelta(days=2)).isoformat(),
                "tz": "Europe/Paris", "channel": ch})
            api_days = {datetime.fromisoformat(b["start"]).date(): b["energy_wh"] / 1000
                        for b in r.json()["buckets"] if b["energy_wh"] is not None}
            assert grafana_days.keys() == api_days.keys() and len(api_days) == 3
            for day in api_days:
                assert grafana_days[day] == pytest.approx(api_days[day], abs=1e-6), (meter, ch, day)

        # the period's total per meter = the API's total over the same UTC days
        totals = series(engine, fill_in(qs[4], start, end, meter=meter))
        r = api.get(f"/api/v1/meters/{meter}/energy", params={
            "resolution": "day", "start": "2026-06-01", "end": "2026-06-02", "tz": "UTC"})
        assert totals[0]["values"][0][1] == pytest.approx(r.json()["total"]["energy_wh"] / 1000, abs=1e-6)

        # the last reading of each channel and the meter's status = the API's live power and list
        last = series(engine, fill_in(qs[5], start, end, meter=meter))
        live = api.get(f"/api/v1/meters/{meter}/live").json()
        assert {s["tags"]["channel"]: s["values"][0][1] for s in last} == {
            str(c["channel"]): c["power_w"] for c in live["channels"]}
        status = series(engine, fill_in(qs[6], start, end, meter=meter))
        listed = {m["meter_id"]: m for m in api.get("/api/v1/meters").json()["meters"]}
        assert json.loads(status[0]["values"][0][1]) == listed[meter]["status"]

    # mean power per 5 min = each reading's power (one reading per bucket; the first reading
    # ends at T0 + 5 min)
    pw = series(engine, fill_in(qs[1], start, start + 3900, meter="gf-02", channel="1"))
    values = [v for _, v in pw[0]["values"]]
    assert values == [power(1, 1, k) for k in range(len(values))] and len(values) == 12


def test_the_rejections_panel_reads_a_metric_the_collector_exports(mosquitto, tmp_path):
    """The one panel on the collector's Prometheus metrics: its metric and label exist."""
    from tests.collector.helpers import CollectorProcess

    d = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = [t["expr"] for p in d["panels"] for t in p["targets"] if p["datasource"]["type"] == "prometheus"]
    assert exprs
    col = CollectorProcess(tmp_path / "data", mosquitto).start()
    try:
        metrics = scrape(col.url)
    finally:
        col.stop()
    for expr in exprs:
        name = re.search(r"(citizenwatt_collector_\w+)", expr).group(1)
        label = re.search(r"by \((\w+)\)", expr).group(1)
        found = [k for k in metrics if k.startswith(name + "{") and f"{label}=" in k]
        assert found, (name, sorted(metrics)[:5])
