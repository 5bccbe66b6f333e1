"""The workshop installs the broker's CA on the board when the profile names one
(mqtt_ca_file): /ca.pem beside /config.json, which says mqtt_tls, and the firmware's own
config.load reads both back as the meter will at boot."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from citizenwatt.cli import app
from citizenwatt.firmware import config as fwconfig
from tests.deploy.conftest import make_certs

runner = CliRunner()


def cli(*args):
    r = runner.invoke(app, [str(a) for a in args])
    assert "Traceback" not in r.output
    return r


def test_provision_installs_the_ca_beside_the_config(boards, tmp_path):
    certs = make_certs(tmp_path / "certs", "mqtt.example.org")
    ca = certs / "citizenwatt-ca.crt"
    profile = tmp_path / "atelier.toml"
    profile.write_text('wifi_ssid = "atelier"\nmqtt_host = "192.0.2.10"\n'
                       f'mqtt_ca_file = "{ca}"\nmqtt_server_name = "mqtt.example.org"\n')
    sim = boards()
    r = cli("provision", sim.port, "--profile", profile, "--mosquitto-passwd", tmp_path / "p",
            "--mosquitto-acl", tmp_path / "a")
    assert r.exit_code == 0, r.output
    assert sim.fs.read("/ca.pem") == ca.read_bytes()
    raw = json.loads(sim.fs.read("/config.json"))
    assert raw["mqtt_tls"] is True and raw["mqtt_port"] == 8883
    assert raw["mqtt_server_name"] == "mqtt.example.org"
    # What the meter does at boot with these two files.
    board = tmp_path / "board"
    board.mkdir()
    (board / "config.json").write_bytes(sim.fs.read("/config.json"))
    (board / "ca.pem").write_bytes(sim.fs.read("/ca.pem"))
    cfg = fwconfig.load(str(board / "config.json"))
    assert cfg["mqtt_cadata"] == fwconfig.pem_to_der(ca.read_text())


def test_a_ca_file_that_is_not_a_certificate_is_refused_before_the_board(boards, tmp_path):
    bad = tmp_path / "ca.crt"
    bad.write_text("ceci n'est pas un certificat\n")
    profile = tmp_path / "atelier.toml"
    profile.write_text(f'wifi_ssid = "atelier"\nmqtt_host = "192.0.2.10"\nmqtt_ca_file = "{bad}"\n')
    sim = boards()
    r = cli("provision", sim.port, "--profile", profile, "--mosquitto-passwd", tmp_path / "p",
            "--mosquitto-acl", tmp_path / "a")
    assert r.exit_code == 1
    assert "ne contient pas de certificat" in " ".join(r.output.split())
    assert "/config.json" not in sim.fs.files and "/ca.pem" not in sim.fs.files
    profile.write_text(f'wifi_ssid = "atelier"\nmqtt_host = "h"\nmqtt_ca_file = "{tmp_path}/none.crt"\n')
    r = cli("provision", sim.port, "--profile", profile)
    assert r.exit_code == 1 and "mqtt_ca_file" in r.output
