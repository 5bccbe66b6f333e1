"""The commands end to end on a simulated board, through the real mpremote transport:
flash (install + verify), provision (config + registration + MQTT credentials),
calibrate, check; and a board unplugged in the middle of a transfer."""

from __future__ import annotations

import hashlib
import json
import re
import shlex

import httpx
import pytest
from typer.testing import CliRunner

from citizenwatt.cli import app
from citizenwatt.firmware.config import CURRENT_PINS, VOLTAGE_PIN
from citizenwatt.host.simboard import SimBoardSpec, SimChannel
from citizenwatt.workshop import mqttauth

runner = CliRunner()


def cli(*args, env=None):
    r = runner.invoke(app, [str(a) for a in args], env=env)
    assert "Traceback" not in r.output
    return r


def _bundle_ok(sim, bundle):
    for f in bundle.rglob("*"):
        if f.is_file():
            board_path = "/" + f.relative_to(bundle).as_posix()
            assert hashlib.sha256(sim.fs.read(board_path)).hexdigest() == \
                hashlib.sha256(f.read_bytes()).hexdigest(), board_path
    assert not [p for p in sim.fs.files if p.endswith(".part")]


def test_flash_provision_calibrate_check(boards, bundle, cache_dir, api_server, auth_broker,
                                         tmp_path):
    spec = SimBoardSpec(channels=[SimChannel(CURRENT_PINS[0], load_w=2000, gain=1.06),
                                  SimChannel(CURRENT_PINS[1])],
                        voltage_pin=VOLTAGE_PIN)
    sim = boards(spec)
    r = cli("flash", sim.port, "--bundle", bundle, "--cache", cache_dir)
    assert r.exit_code == 0, r.output
    assert "MicroPython 1.24.1 déjà présent" in r.output
    assert "fichiers installés et vérifiés" in r.output
    _bundle_ok(sim, bundle)
    assert not [p for p in sim.fs.files if p.startswith("/lib/umqtt")]  # cached, not needed

    provision = (
        "provision",
        sim.port,
        "--wifi-ssid",
        "atelier",
        "--wifi-password",
        "motdepasse",
        "--mqtt-host",
        auth_broker.host,
        "--mqtt-port",
        auth_broker.port,
        "--api",
        api_server.url,
        "--token",
        api_server.leader_token,
        "--household-ref",
        "HH-12",
        "--household-name",
        "Famille Martin",
        "--channel-label",
        "Maison entière",
        "--channel-label",
        "Chauffe-eau",
        "--channel-role",
        "main",
        "--channel-role",
        "sub",
        "--voltage-adapter-v",
        9,
        "--mosquitto-passwd",
        auth_broker.passwd,
        "--mosquitto-acl",
        auth_broker.acl,
    )
    r = cli(*provision)
    assert r.exit_code == 0, r.output
    meter_id = "cw-123456"  # from the simulated MAC 24:0a:c4:12:34:56
    assert f"Compteur {meter_id} configuré et enregistré (foyer HH-12)" in r.output
    # The full address to hand to the household, not only the path.
    assert f"Lien du foyer (secret, à lui remettre) : {api_server.url}/h/" in r.output
    cfg = json.loads(sim.fs.read("/config.json"))
    assert cfg["meter_id"] == meter_id and cfg["mqtt_user"] == meter_id
    # The reference board's wiring (hardware/pinout.csv): clamps on 36 and 34, adapter on 39.
    assert [c["pin"] for c in cfg["channels"]] == [36, 34] == list(CURRENT_PINS[:2])
    assert cfg["voltage"] == {"pin": 39, "adapter_v": 9} and VOLTAGE_PIN == 39
    link = re.search(r"à lui remettre\) : \S+/h/([\w-]+)", r.output).group(1)
    hh = api_server.get("/api/v1/households/%d" % api_server.household_id("HH-12"), token=link).json()
    assert hh["name"] == "HH-12" and [m["meter_id"] for m in hh["meters"]] == [meter_id]
    assert [(c["label"], c["role"]) for c in hh["meters"][0]["channels"]] == [
        ("Maison entière", "main"),
        ("Chauffe-eau", "sub"),
    ]
    entries = dict(ln.split(":", 1) for ln in auth_broker.passwd.read_text().splitlines())
    assert mqttauth.check_password(entries[meter_id], cfg["mqtt_password"])
    assert f"topic write cw/{meter_id}/#" in auth_broker.acl.read_text()

    # The board redone: the API answers 200 with no link (it is stored hashed); the tool
    # says the household has its link, and the command it gives issues a new one.
    r = cli(*provision)
    assert r.exit_code == 0, r.output
    assert "None" not in r.output and "Lien du foyer" not in r.output
    hid = api_server.household_id("HH-12")
    assert "(foyer HH-12, n° %d). Ce foyer existait déjà : il a déjà son lien secret" % hid in r.output
    command = re.search(r"(curl -X POST .*/link)\s*$", r.output, re.M).group(1)
    assert command == (
        'curl -X POST -H "Authorization: Bearer $CITIZENWATT_WORKSHOP__API_TOKEN" '
        "%s/api/v1/households/%d/link" % (api_server.url, hid)
    )
    new = httpx.post(
        shlex.split(command)[-1], timeout=10, headers={"Authorization": "Bearer " + api_server.leader_token}
    )
    assert new.status_code == 201 and new.json()["household_id"] == hid
    assert api_server.get("/api/v1/households/%d" % hid, token=link).status_code in (401, 403, 404)
    link = new.json()["token"]
    assert api_server.get("/api/v1/households/%d" % hid, token=link).json()["name"] == "HH-12"
    cfg = json.loads(sim.fs.read("/config.json"))
    auth_broker.restart()  # Mosquitto reads its password file at start (or on SIGHUP)

    r = cli(
        "calibrate", sim.port, "--channel", 0, "--reference-w", 2000, "--yes", "--windows", 3, "--lang", "en"
    )
    assert r.exit_code == 0, r.output
    trim = json.loads(sim.fs.read("/config.json"))["channels"][0]["trim"]
    assert trim == pytest.approx(1 / 1.06, rel=0.02)  # the clamp reads 6 % high
    assert "Trim saved on the board" in r.output

    r = cli("check", sim.port)
    assert r.exit_code == 0, r.output
    assert "Tous les tests sont passés" in r.output
    assert "ÉCHEC" not in r.output


def test_check_names_the_fault_and_the_guide_section(boards, bundle, cache_dir, auth_broker):
    spec = SimBoardSpec(
        channels=[
            SimChannel(CURRENT_PINS[0], bias_v=1.62),
            SimChannel(CURRENT_PINS[1], load_w=800, reversed=True),
        ],
        voltage_pin=VOLTAGE_PIN,
        wifi={"atelier": ("motdepasse", -83)},
    )
    sim = boards(spec)
    r = cli(
        "provision",
        sim.port,
        "--wifi-ssid",
        "atelier",
        "--wifi-password",
        "motdepasse",
        "--mqtt-host",
        "127.0.0.1",
        "--mqtt-port",
        9,
        "--voltage-adapter-v",
        9,
        "--channel-label",
        "a",
        "--channel-label",
        "b",
    )
    assert r.exit_code == 0, r.output
    assert "Compteur cw-123456 configuré, mais pas enregistré dans l'API (pas d'option --api)" in " ".join(
        r.output.split()
    )
    # The lone negative clamp: the tool asks where its arrow points; "n": the clamp is reversed.
    r = runner.invoke(app, ["check", sim.port], input="n\n")
    assert "Traceback" not in r.output
    assert r.exit_code == 1
    out = " ".join(r.output.split())
    assert "sa flèche (K→L) pointe-t-elle vers l'appareil ? [o/n]" in out
    for section in ("bias-network", "clamp-orientation", "wifi", "broker"):
        assert f"(troubleshooting.html#{section})" in out
    assert "à l'envers" in out and "Signal Wi-Fi faible (-83 dBm" in out
    assert "Tests en échec : 3." in out  # bias, orientation, broker; weak Wi-Fi only warns


def test_unplugged_mid_transfer_then_redone(boards, bundle, cache_dir):
    sim = boards()
    chunks = []

    def pull_cable(code):
        if "w(" in code and "blob" not in code:
            chunks.append(code)
        return len(chunks) == 12  # well into the first big file

    sim.on_exec = pull_cable
    r = cli("flash", sim.port, "--bundle", bundle, "--cache", cache_dir)
    assert r.exit_code == 1
    assert "a été débranchée ou ne répond plus" in r.output
    assert "relancez la même commande : elle reprend depuis le début" in r.output
    assert any(p.endswith(".part") for p in sim.fs.files)  # a cut file, never under its name

    sim.on_exec = None
    port = sim.replug()
    r = cli("flash", port, "--bundle", bundle, "--cache", cache_dir)
    assert r.exit_code == 0, r.output
    _bundle_ok(sim, bundle)


def test_flash_without_bundle_says_what_to_do_and_an_empty_cache_will_do(boards, tmp_path, bundle):
    sim = boards()
    r = cli("flash", sim.port, "--bundle", tmp_path / "nothing", "--cache", tmp_path)
    assert r.exit_code == 1 and "--bundle" in r.output
    assert sim.exec_count == 0  # nothing was sent to the board
    # An empty cache is no dead end offline: the firmware needs no micropython-lib package.
    r = cli("flash", sim.port, "--bundle", bundle, "--cache", tmp_path / "empty")
    assert r.exit_code == 0, r.output
    _bundle_ok(sim, bundle)
    assert not (tmp_path / "empty" / "mip").exists()
    assert not [p for p in sim.fs.files if p.startswith("/lib/umqtt")]


def test_provision_rejects_a_bad_config_before_touching_anything(boards, tmp_path):
    sim = boards()
    r = cli(
        "provision",
        sim.port,
        "--wifi-ssid",
        "atelier",
        "--mqtt-host",
        "127.0.0.1",
        "--meter-id",
        "Bad Id!",
        "--mosquitto-passwd",
        tmp_path / "p",
        "--mosquitto-acl",
        tmp_path / "a",
    )
    assert r.exit_code == 1
    assert "meter_id" in r.output and "invalide" in r.output
    assert "/config.json" not in sim.fs.files and not (tmp_path / "p").exists()


def test_profile_declares_channel_roles(boards, tmp_path):
    from citizenwatt.workshop.commands import _plan_from
    from citizenwatt.workshop.errors import WorkshopError

    profile = tmp_path / "atelier.toml"
    base = (
        'wifi_ssid = "atelier"\nmqtt_host = "127.0.0.1"\n'
        'channel_label = ["Maison entière", "Chauffe-eau", "Plaques"]\n'
    )
    profile.write_text(base)
    assert _plan_from(profile).roles() == {0: "main"}  # the others keep their role in the API
    profile.write_text(base + 'channel_role = ["main", "sub"]\n')
    assert _plan_from(profile).roles() == {0: "main", 1: "sub"}
    assert _plan_from(profile, channel_role=["sub", "main", "sub"]).roles() == {
        0: "sub",
        1: "main",
        2: "sub",
    }  # options override the profile
    with pytest.raises(WorkshopError) as e:
        _plan_from(profile, channel_role=["main", "sub", "sub", "sub"])
    assert "4 rôles pour 3 voies" in str(e.value)

    sim = boards()
    r = cli("provision", sim.port, "--profile", profile, "--channel-role", "chauffe-eau")
    assert r.exit_code == 1
    out = " ".join(r.output.split())
    assert "channel_role ['chauffe-eau'] : « main »" in out and "ou « sub »" in out
    assert "/config.json" not in sim.fs.files
