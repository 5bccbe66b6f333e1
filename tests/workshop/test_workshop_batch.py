"""Done-when of the workshop tool: a `workshop` run over three simulated boards yields
three meters and households registered in the real API, whose readings reach each
household's secret link (Mosquitto with the ACLs the run wrote -> collector -> store ->
API); a board unplugged mid-transfer is redone."""

from __future__ import annotations

import csv
import re
import stat
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from rich.console import Console
from typer.testing import CliRunner

from citizenwatt.cli import app
from citizenwatt.firmware.config import CURRENT_PINS
from citizenwatt.host.simboard import SimBoardSpec, SimChannel, firmware_runner
from citizenwatt.workshop import batch, pipeline
from citizenwatt.workshop.registration import Household

pytestmark = pytest.mark.slow

MACS = [b"\x24\x0a\xc4\x00\x00\x01", b"\x24\x0a\xc4\x00\x00\x02", b"\x24\x0a\xc4\x00\x00\x03"]


def _spec(i: int) -> SimBoardSpec:
    return SimBoardSpec(mac=MACS[i], seed=i + 1,
                        channels=[SimChannel(CURRENT_PINS[0]), SimChannel(CURRENT_PINS[1])])


def test_workshop_three_boards_registered_and_reading(boards, bundle, cache_dir, api_server,
                                                      auth_broker, tmp_path, monkeypatch):
    """The real chain: `workshop` registers each board in the API (a leader's token from
    `citizenwatt admin token`), the boards' firmware publishes through Mosquitto with the
    passwords and ACLs the run wrote, the collector stores the readings in the API's data
    folder, and each household's secret link shows its own meter's readings."""
    from citizenwatt.collector.service import Collector
    from citizenwatt.store.sqlite import SqliteStore

    registrations = {}
    real_register = pipeline.register_meter

    def keep(*args, **kw):  # the answers the leader sees, links included
        reg = real_register(*args, **kw)
        registrations[reg.meter_id] = reg
        return reg
    monkeypatch.setattr(pipeline, "register_meter", keep)

    sims = [boards(_spec(i), runner=firmware_runner(tmp_path / "flash", seed=i + 1))
            for i in range(3)]
    households = tmp_path / "foyers.csv"
    households.write_text("household_ref,household_name,timezone\nHH-1,Famille Martin,"
                          "Europe/Paris\nHH-2,Famille Diallo,Europe/Paris\nHH-3,Famille Nguyen,"
                          "Europe/Paris\n")
    args = ["workshop", "--bundle", bundle, "--cache", cache_dir, "--households", households,
            "--wifi-ssid", "atelier", "--wifi-password", "motdepasse",
            "--mqtt-host", auth_broker.host, "--mqtt-port", auth_broker.port,
            "--api", api_server.url, "--token", api_server.leader_token,
            "--channel-label", "Maison entière", "--channel-label", "Chauffe-eau",
            "--interval-s", 1, "--mosquitto-passwd", auth_broker.passwd,
            "--mosquitto-acl", auth_broker.acl,
            "--mosquitto-reload", "kill -HUP %d" % auth_broker.proc.pid]
    for s in sims:
        args += ["--port", s.port]
    monkeypatch.chdir(tmp_path)  # the links' sheet is written next to the run
    t0 = time.monotonic()
    r = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "250"})
    elapsed = time.monotonic() - t0
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output
    assert "3 cartes prêtes, 0 à refaire" in r.output
    meter_ids = ["cw-000001", "cw-000002", "cw-000003"]
    assert sorted(registrations) == meter_ids
    assert [registrations[m].household_ref for m in meter_ids] == ["HH-1", "HH-2", "HH-3"]
    assert all(reg.created and reg.household_link.startswith("/h/")
               for reg in registrations.values())
    # The links the API showed once: in the summary, and in a sheet only the leader reads.
    links = {m: api_server.url + registrations[m].household_link for m in meter_ids}
    summary = r.output[r.output.index("3 cartes prêtes"):]
    for m in meter_ids:
        assert re.search(rf"{m}\s+│ HH-\d\s+│ {re.escape(links[m])}\s+│ prêt", summary)
    sheets = list(tmp_path.glob("liens-foyers-*.csv"))
    assert len(sheets) == 1 and stat.S_IMODE(sheets[0].stat().st_mode) == 0o600
    assert (
        f"Liens des foyers écrits dans {sheets[0].resolve()} (3 lignes ; lisible par vous seul)" in r.output
    )
    with open(sheets[0], newline="", encoding="utf-8") as f:
        sheet = list(csv.DictReader(f))
    assert sheet == [
        {
            "meter_id": m,
            "household_ref": "HH-%d" % (i + 1),
            "household_name": name,
            "household_id": str(registrations[m].household_id),
            "household_link": links[m],
        }
        for i, (m, name) in enumerate(
            zip(meter_ids, ("Famille Martin", "Famille Diallo", "Famille Nguyen"), strict=True))
    ]
    assert all(s.firmware_running for s in sims)  # reset after the check: main runs
    print(f"workshop: 3 boards in {elapsed:.1f} s")

    # What the API holds: three households, each with its meter and the channel labels.
    dep = api_server.get("/api/v1/deployments").json()[0]["id"]
    staff_rows = api_server.get("/api/v1/deployments/%d/households" % dep).json()
    assert [(h["name"], h["meters"]) for h in staff_rows] == [
        ("HH-%d" % (i + 1), [m]) for i, m in enumerate(meter_ids)
    ]

    # The lead's collector, on the API's data folder, with its own broker account.
    store = SqliteStore(api_server.data_dir / "readings.sqlite")
    collector = Collector(
        store,
        auth_broker.host,
        auth_broker.port,
        username="collector",
        password=auth_broker.collector_password,
        client_id="collector-test",
    )
    collector.start()
    try:
        today = datetime.now(ZoneInfo("Europe/Paris")).date().isoformat()
        pending = dict(registrations)
        deadline = time.monotonic() + 30
        while pending and time.monotonic() < deadline:
            for meter_id, reg in list(pending.items()):
                if _household_shows_readings(api_server, reg, today):
                    del pending[meter_id]
            time.sleep(0.2)
        assert not pending, f"no readings through the link of {sorted(pending)}"
        # Each link opens its own household only.
        one, two = registrations["cw-000001"], registrations["cw-000002"]
        other = api_server.get(
            "/api/v1/households/%d/live" % two.household_id, token=one.household_link.removeprefix("/h/")
        )
        assert other.status_code == 404
    finally:
        collector.stop()
        for s in sims:
            s.close()
        store.close()


def _household_shows_readings(api_server, reg, today: str) -> bool:
    """The household's live power and today's hourly energy, read with its secret link."""
    token = reg.household_link.removeprefix("/h/")
    live = api_server.get("/api/v1/households/%d/live" % reg.household_id, token=token)
    assert live.status_code == 200, live.text
    chans = live.json()["channels"]
    if live.json()["power_w"] is None or len(chans) < 2:
        return False
    assert [(c["meter_id"], c["channel"], c["label"]) for c in chans] == [
        (reg.meter_id, 0, "Maison entière"),
        (reg.meter_id, 1, "Chauffe-eau"),
    ]
    energy = api_server.get(
        "/api/v1/households/%d/energy" % reg.household_id,
        token=token,
        resolution="hour",
        start=today,
        end=today,
    )
    assert energy.status_code == 200, energy.text
    return any(b["energy_wh"] for b in energy.json()["buckets"])


def test_batch_redoes_a_board_unplugged_mid_transfer(boards, bundle, cache_dir, api_server, tmp_path):
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
        bundle=bundle,
        cache_dir=cache_dir,
        run_check=False,
        households=[Household("HH-1", "Famille A"), Household("HH-2", "Famille B")],
        provision=pipeline.ProvisionPlan(
            wifi_ssid="atelier",
            wifi_password="motdepasse",
            mqtt_host="127.0.0.1",
            mqtt_port=1883,
            api_url=api_server.url,
            api_token=api_server.leader_token,
            household=None,
            channel_labels={0: "Maison"},
            passwd_file=None,
            acl_file=None,
        ),
    )
    # HH-2 exists already (made by the staff): it has its link, the API gives none.
    dep = api_server.get("/api/v1/deployments").json()[0]["id"]
    made = httpx.post(
        api_server.url + "/api/v1/deployments/%d/households" % dep,
        json={"name": "HH-2"},
        timeout=10,
        headers={"Authorization": "Bearer " + api_server.leader_token},
    )
    assert made.status_code == 201
    sheet = tmp_path / "liens.csv"
    sheet.touch(mode=0o644)  # a sheet from an earlier run: appended to, and made private
    sheet.chmod(0o644)
    links = batch.LinkSheet(sheet)
    rows = batch.run(plan, source, count=2, poll_s=0.05, timeout_s=60, links=links)
    failed = [r for r in rows if r.state == batch.FAILED]
    assert len(failed) == 1 and "débranchée" in failed[0].message
    final = batch.final_rows(rows)
    assert [r.state for r in final] == [batch.READY, batch.READY]
    assert sorted(r.meter_id for r in final) == ["cw-000001", "cw-000002"]
    # One row per registered board (not for the failed attempt); HH-2's link is not known.
    assert stat.S_IMODE(sheet.stat().st_mode) == 0o600 and links.written == 2
    with open(sheet, newline="", encoding="utf-8") as f:
        written = {r["meter_id"]: r for r in csv.DictReader(f)}
    assert sorted(written) == ["cw-000001", "cw-000002"]
    assert written["cw-000001"]["household_link"].startswith(api_server.url + "/h/")
    assert written["cw-000002"]["household_link"] == ""
    assert written["cw-000002"]["household_id"] == str(made.json()["household_id"])
    text = Console(width=250, record=True)
    text.print(batch.summary(rows))
    out = text.export_text()
    assert written["cw-000001"]["household_link"] in out
    assert "déjà donné (foyer n° %d)" % made.json()["household_id"] in out
    assert not [p for p in sim_b.fs.files if p.endswith(".part")]
    # B registered once, on its redo, in the household next on the list.
    dep = api_server.get("/api/v1/deployments").json()[0]["id"]
    assert sorted(
        (h["name"], h["meters"]) for h in api_server.get("/api/v1/deployments/%d/households" % dep).json()
    ) == [("HH-1", ["cw-000001"]), ("HH-2", ["cw-000002"])]
