"""The household link is never lost: a board that fails its self-test after the API
registered it keeps its household and its link (shown, and written to the links sheet at
once); the redo says the truth and completes the board with that same household."""

from __future__ import annotations

import csv
import re

import pytest
from typer.testing import CliRunner

from citizenwatt.cli import app
from citizenwatt.firmware.config import CURRENT_PINS
from citizenwatt.host.simboard import SimBoardSpec, SimChannel

pytestmark = pytest.mark.slow

MACS = [b"\x24\x0a\xc4\x00\x00\x01", b"\x24\x0a\xc4\x00\x00\x02", b"\x24\x0a\xc4\x00\x00\x03"]
METERS = ["cw-000001", "cw-000002", "cw-000003"]


def _sheet_rows(folder) -> list[dict]:
    rows = []
    for path in sorted(folder.glob("liens-foyers-*.csv")):
        with open(path, newline="", encoding="utf-8") as f:
            rows += list(csv.DictReader(f))
    return rows


def test_second_of_three_fails_after_registration_then_redo_keeps_its_household(
        boards, bundle, cache_dir, api_server, auth_broker, tmp_path, monkeypatch):
    sims = [boards(SimBoardSpec(mac=MACS[i], seed=i + 1, channels=[SimChannel(CURRENT_PINS[0])]))
            for i in range(3)]
    # Board 2: its bias divider sits at half the supply (two equal resistors): the self-test
    # fails after provisioning, that is after the API created its household.
    sims[1].spec.channels[0].bias_v = 1.65
    households = tmp_path / "foyers.csv"
    households.write_text("household_ref,household_name,timezone\nHH-1,Famille Martin,Europe/Paris\n"
                          "HH-2,Famille Diallo,Europe/Paris\nHH-3,Famille Nguyen,Europe/Paris\n")
    common = ["workshop", "--bundle", bundle, "--cache", cache_dir, "--households", households,
              "--wifi-ssid", "atelier", "--wifi-password", "motdepasse",
              "--mqtt-host", auth_broker.host, "--mqtt-port", auth_broker.port,
              "--api", api_server.url, "--token", api_server.leader_token,
              "--mosquitto-passwd", auth_broker.passwd, "--mosquitto-acl", auth_broker.acl,
              "--mosquitto-reload", "kill -HUP %d" % auth_broker.proc.pid]
    monkeypatch.chdir(tmp_path)
    args = list(common)
    for s in sims:
        args += ["--port", s.port]
    # A narrow terminal: the links must still come out whole.
    r = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "80"})
    out = r.output
    assert r.exit_code == 1, out
    assert "Traceback" not in out
    assert "2 cartes prêtes, 1 à refaire" in out

    # Three households in the API, each with its meter.
    dep = api_server.get("/api/v1/deployments").json()[0]["id"]
    rows = api_server.get("/api/v1/deployments/%d/households" % dep).json()
    assert sorted((h["name"], h["meters"]) for h in rows) == [
        ("HH-1", ["cw-000001"]), ("HH-2", ["cw-000002"]), ("HH-3", ["cw-000003"])]
    ids = {h["name"]: h["id"] for h in rows}

    # Three links in the sheet, the failed board's included, each opening its household.
    sheet = _sheet_rows(tmp_path)
    assert [(s["meter_id"], s["household_ref"]) for s in sheet] == list(zip(METERS, ("HH-1", "HH-2", "HH-3"),
                                                                             strict=True))
    links = {s["household_ref"]: s["household_link"] for s in sheet}
    for ref, link in links.items():
        assert link.startswith(api_server.url + "/h/"), link
        token = link.rsplit("/h/", 1)[1]
        assert api_server.get("/api/v1/households/%d" % ids[ref], token=token).json()["name"] == ref
    # ... and in the output, each whole on one line (never folded), the failed one too.
    lines = out.splitlines()
    for ref, link in links.items():
        assert any(link in line for line in lines), (ref, out)
    failed = [ln for ln in lines if "HH-2 (cw-000002)" in ln]
    assert failed and links["HH-2"] in failed[0]
    # Shown at once, when the API gave it, before the self-test failed.
    assert "Lien du foyer HH-2 (secret, à lui remettre) : " + links["HH-2"] in out
    assert "déjà donné" not in out

    # The redo, in a new run once the board is fixed: the same household, the link it already
    # has (said as such), and no new household nor duplicate row.
    sims[1].spec.channels[0].bias_v = 1.2692
    r = CliRunner().invoke(app, [str(a) for a in [*common, "--port", sims[1].port]],
                           env={"COLUMNS": "80"})
    out = r.output
    assert r.exit_code == 0, out
    assert "1 carte prête, 0 à refaire" in out
    assert re.search(r"HH-2 \(cw-000002\) : " + re.escape(links["HH-2"]), out)
    assert "déjà donné" not in out and "existait déjà" not in out
    rows = api_server.get("/api/v1/deployments/%d/households" % dep).json()
    assert sorted((h["name"], h["meters"]) for h in rows) == [
        ("HH-1", ["cw-000001"]), ("HH-2", ["cw-000002"]), ("HH-3", ["cw-000003"])]
    assert len(_sheet_rows(tmp_path)) == 3
    assert sims[1].resets == 1  # completed this time: reset into its firmware


def test_provision_cut_after_registration_still_shows_the_link(boards, api_server, tmp_path):
    """`provision` alone: the cable is pulled while the config is written, after the API
    created the household: the link is shown with the error; the redo keeps the household."""
    sim = boards(SimBoardSpec())
    sim.on_exec = lambda code: "config.json.part" in code
    args = ["provision", sim.port, "--wifi-ssid", "atelier", "--mqtt-host", "127.0.0.1",
            "--api", api_server.url, "--token", api_server.leader_token,
            "--household-ref", "HH-40", "--household-name", "Famille Petit"]
    r = CliRunner().invoke(app, args, env={"COLUMNS": "80"})
    assert r.exit_code == 1 and "débranchée" in r.output
    m = re.search(r"Lien du foyer \(secret, à lui remettre\) : (\S+/h/(\S+)) — relancez", r.output)
    assert m, r.output
    hid = api_server.household_id("HH-40")
    assert api_server.get("/api/v1/households/%d" % hid, token=m.group(2)).json()["name"] == "HH-40"
    sim.on_exec = None
    args[1] = sim.replug()
    r = CliRunner().invoke(app, args, env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    assert "Ce foyer existait déjà : il a déjà son lien secret" in " ".join(r.output.split())
    assert api_server.get("/api/v1/households/%d" % hid, token=m.group(2)).status_code == 200


def test_redo_in_the_same_run_keeps_household_and_link(boards, bundle, cache_dir, api_server, tmp_path,
                                                       monkeypatch):
    """The failed board is fixed, unplugged and plugged back while the room runs: it is redone
    with its household, the next board gets the next household, the sheet has one row each."""
    from citizenwatt.workshop import batch, pipeline
    from citizenwatt.workshop.registration import Household

    sims = [boards(SimBoardSpec(mac=MACS[i], seed=i + 1, channels=[SimChannel(CURRENT_PINS[0])]))
            for i in range(3)]
    sims[0].spec.channels[0].bias_cap = False  # board 1 fails its noise test (C1)
    plugged = [s.port for s in sims]
    state = {"away": 0}

    def source():
        failed = [r for r in rows_seen if r.state == batch.FAILED]
        if failed and state["away"] == 0:  # the trainee pulls board 1 out, solders C1...
            state["away"] = 1
            sims[0].unplug()
            return plugged[1:]
        if state["away"] == 1:  # ... and plugs it back
            state["away"] = 2
            sims[0].spec.channels[0].bias_cap = True
            plugged[0] = sims[0].replug()
        return list(plugged)

    rows_seen: list = []
    real_run_board = batch.do_board

    def spy(port, plan, row, ledger, on_change):
        if row not in rows_seen:
            rows_seen.append(row)
        return real_run_board(port, plan, row, ledger, on_change)

    plan = batch.WorkshopPlan(
        bundle=bundle, cache_dir=cache_dir, check_network=False,
        households=[Household("HH-1", "Famille A"), Household("HH-2", "Famille B"), Household("HH-3", "C")],
        provision=pipeline.ProvisionPlan(
            wifi_ssid="atelier", wifi_password="motdepasse", mqtt_host="127.0.0.1",
            mqtt_port=1883, api_url=api_server.url, api_token=api_server.leader_token,
            household=None, channel_labels={0: "Maison"}, passwd_file=None, acl_file=None))
    links = batch.LinkSheet(tmp_path / "liens.csv")
    monkeypatch.setattr(batch, "do_board", spy)
    rows = batch.run(plan, source, count=3, poll_s=0.05, timeout_s=90, links=links)
    final = batch.final_rows(rows)
    assert sorted((r.meter_id, r.household_ref, r.state) for r in final) == [
        ("cw-000001", "HH-1", batch.READY), ("cw-000002", "HH-2", batch.READY),
        ("cw-000003", "HH-3", batch.READY)]
    first = next(r for r in rows if r.state == batch.FAILED)
    redo = next(r for r in final if r.meter_id == "cw-000001")
    assert "C1" in first.message and first.household_link.startswith(api_server.url + "/h/")
    assert redo.household_link == first.household_link and redo.link_earlier
    with open(links.path, newline="", encoding="utf-8") as f:
        sheet = list(csv.DictReader(f))
    assert sorted((s["meter_id"], s["household_ref"]) for s in sheet) == [
        ("cw-000001", "HH-1"), ("cw-000002", "HH-2"), ("cw-000003", "HH-3")]
    assert any("(le lien donné lors d'un passage précédent)" in ln for ln in batch.links_lines(rows))
