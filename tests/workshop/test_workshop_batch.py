"""Done-when of the workshop tool: a `workshop` run over three simulated boards yields
three registered meters whose readings reach the API (Mosquitto with the ACLs the run
wrote -> collector -> store -> API); a board unplugged mid-transfer is redone."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from citizenwatt.cli import app
from citizenwatt.firmware.config import CURRENT_PINS
from citizenwatt.workshop import batch, pipeline
from citizenwatt.workshop.registration import Household
from citizenwatt.workshop.simboard import SimBoardSpec, SimChannel, firmware_runner
from tests.workshop.conftest import INSTALLER_TOKEN

pytestmark = pytest.mark.slow

MACS = [b"\x24\x0a\xc4\x00\x00\x01", b"\x24\x0a\xc4\x00\x00\x02", b"\x24\x0a\xc4\x00\x00\x03"]


def _spec(i: int) -> SimBoardSpec:
    return SimBoardSpec(mac=MACS[i], seed=i + 1,
                        channels=[SimChannel(CURRENT_PINS[0]), SimChannel(CURRENT_PINS[1])])


def test_workshop_three_boards_registered_and_reading(boards, bundle, cache_dir, standin_api,
                                                      auth_broker, tmp_path):
    from citizenwatt.api.app import create_app
    from citizenwatt.collector.service import Collector
    from citizenwatt.collector.sqlite_store import SqliteStore

    sims = [boards(_spec(i), runner=firmware_runner(tmp_path / "flash", seed=i + 1))
            for i in range(3)]
    households = tmp_path / "foyers.csv"
    households.write_text("household_ref,household_name,timezone\nHH-1,Famille Martin,"
                          "Europe/Paris\nHH-2,Famille Diallo,Europe/Paris\nHH-3,Famille Nguyen,"
                          "Europe/Paris\n")
    args = ["workshop", "--bundle", bundle, "--cache", cache_dir, "--households", households,
            "--wifi-ssid", "atelier", "--wifi-password", "motdepasse",
            "--mqtt-host", auth_broker.host, "--mqtt-port", auth_broker.port,
            "--api", standin_api["url"], "--token", INSTALLER_TOKEN,
            "--channel-label", "Maison entière", "--channel-label", "Chauffe-eau",
            "--interval-s", 1, "--mosquitto-passwd", auth_broker.passwd,
            "--mosquitto-acl", auth_broker.acl,
            "--mosquitto-reload", "kill -HUP %d" % auth_broker.proc.pid]
    for s in sims:
        args += ["--port", s.port]
    t0 = time.monotonic()
    r = CliRunner().invoke(app, [str(a) for a in args])
    elapsed = time.monotonic() - t0
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output
    assert "3 carte(s) prête(s), 0 à refaire" in r.output
    meter_ids = ["cw-000001", "cw-000002", "cw-000003"]
    registered = standin_api["app"].state.meters
    assert sorted(registered) == meter_ids
    assert [registered[m]["household_ref"] for m in meter_ids] == ["HH-1", "HH-2", "HH-3"]
    assert all(s.firmware_running for s in sims)  # reset after the check: main runs
    print("workshop: 3 boards in %.1f s" % elapsed)

    store = SqliteStore(tmp_path / "readings.sqlite")
    collector = Collector(store, auth_broker.host, auth_broker.port, username="collector",
                          password=auth_broker.collector_password,
                          client_id="collector-test")
    collector.start()
    try:
        client = TestClient(create_app(store))
        deadline = time.monotonic() + 30
        seen: set[str] = set()
        while time.monotonic() < deadline and seen != set(meter_ids):
            body = client.get("/api/v1/meters").json()
            seen = {m["meter_id"] for m in body["meters"] if m["readings"] > 0}
            time.sleep(0.2)
        assert seen == set(meter_ids)
        for m in meter_ids:
            live = client.get("/api/v1/meters/%s/live" % m)
            assert live.status_code == 200
            assert [c["channel"] for c in live.json()["channels"]] == [0, 1]
    finally:
        collector.stop()
        for s in sims:
            s.close()
        store.close()


def test_batch_redoes_a_board_unplugged_mid_transfer(boards, bundle, cache_dir, standin_api):
    """Ports come and go as in a room: the board pulled out mid-transfer fails with the
    'plug it back' sentence, and is redone from the start when it is plugged back."""
    sim_a = boards(_spec(0))
    sim_b = boards(_spec(1))
    writes = []

    def pull(code):
        if "w(" in code:
            writes.append(1)
        return len(writes) == 8
    sim_b.on_exec = pull
    plugged = [sim_a.port, sim_b.port]

    polls_away = []

    def source():
        # B's cable was pulled: its port is gone for a poll, then the trainee plugs it back.
        if sim_b._master is None:
            if not polls_away:
                polls_away.append(1)
                return [sim_a.port]
            sim_b.on_exec = None
            plugged[1] = sim_b.replug()
        return list(plugged)

    plan = batch.WorkshopPlan(
        bundle=bundle, cache_dir=cache_dir, run_check=False,
        households=[Household("HH-1", "Famille A"), Household("HH-2", "Famille B")],
        provision=pipeline.ProvisionPlan(
            wifi_ssid="atelier", wifi_password="motdepasse", mqtt_host="127.0.0.1",
            mqtt_port=1883, api_url=standin_api["url"], api_token=INSTALLER_TOKEN,
            household=None, channel_labels={0: "Maison"}, passwd_file=None, acl_file=None))
    rows = batch.run(plan, source, count=2, poll_s=0.05, timeout_s=60)
    failed = [r for r in rows if r.state == batch.FAILED]
    assert len(failed) == 1 and "débranchée" in failed[0].message
    final = batch.final_rows(rows)
    assert [r.state for r in final] == [batch.READY, batch.READY]
    assert sorted(r.meter_id for r in final) == ["cw-000001", "cw-000002"]
    assert not [p for p in sim_b.fs.files if p.endswith(".part")]
