"""The workshop installs the meter's one CA file on the board when the profile names one
(ca_file, or its old name mqtt_ca_file): /ca.pem beside /config.json, which says mqtt_tls
and carries the deployment's update_key when the profile gives it; the firmware's own
config.load reads both back as the meter will at boot (the same file for MQTT over TLS and
for update downloads)."""

from __future__ import annotations

import json
import ssl

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from typer.testing import CliRunner

from citizenwatt.cli import app
from citizenwatt.firmware import config as fwconfig
from tests.deploy.conftest import make_certs

runner = CliRunner()


def cli(*args):
    r = runner.invoke(app, [str(a) for a in args])
    assert "Traceback" not in r.output
    return r


def loaded_at_boot(sim, tmp_path) -> dict:
    """What the meter's firmware loads at boot from the config.json and ca.pem the workshop
    wrote on the board."""
    board = tmp_path / "board"
    board.mkdir()
    (board / "config.json").write_bytes(sim.fs.read("/config.json"))
    (board / "ca.pem").write_bytes(sim.fs.read("/ca.pem"))
    return fwconfig.load(str(board / "config.json"))


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
    cfg = loaded_at_boot(sim, tmp_path)
    assert cfg["cadata"] == [ssl.PEM_cert_to_DER_cert(ca.read_text())]
    assert cfg["update_key"] == ""                    # none in the profile: no update by Wi-Fi


def test_provision_writes_the_update_key_and_one_ca_file(boards, tmp_path):
    """ca_file with two authorities (the broker's, and the one of the API's HTTPS
    certificate) is installed once; update_key, pasted as the server prints it, is written
    in the meter's config.json, which the meter loads with both."""
    certs = make_certs(tmp_path / "certs", "mqtt.example.org")
    other = make_certs(tmp_path / "web", "watt.example.org")
    ca = tmp_path / "autorites.pem"
    ca.write_bytes((certs / "citizenwatt-ca.crt").read_bytes() + (other / "citizenwatt-ca.crt").read_bytes())
    key = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    profile = tmp_path / "atelier.toml"
    profile.write_text('wifi_ssid = "atelier"\nmqtt_host = "mqtt.example.org"\n'
                       f'ca_file = "{ca}"\nupdate_key = "{key.upper()}"\n')
    sim = boards()
    r = cli("provision", sim.port, "--profile", profile, "--mosquitto-passwd", tmp_path / "p",
            "--mosquitto-acl", tmp_path / "a")
    assert r.exit_code == 0, r.output
    assert sim.fs.read("/ca.pem") == ca.read_bytes()
    raw = json.loads(sim.fs.read("/config.json"))
    assert (raw["update_key"], raw["mqtt_tls"], raw["mqtt_port"]) == (key, True, 8883)
    assert "ca_file" not in raw and "mqtt_ca_file" not in raw   # the firmware's default: ca.pem
    cfg = loaded_at_boot(sim, tmp_path)
    assert cfg["update_key"] == key
    assert [c[:1] for c in cfg["cadata"]] == [b"\x30", b"\x30"] and cfg["cadata"][0] != cfg["cadata"][1]


@pytest.mark.parametrize("value", ["abc", "g" * 64, "ab" * 33, 12])
def test_a_bad_update_key_is_refused_in_french_before_the_board(boards, tmp_path, value):
    certs = make_certs(tmp_path / "certs", "mqtt.example.org")
    profile = tmp_path / "atelier.toml"
    shown = f'"{value}"' if isinstance(value, str) else str(value)
    profile.write_text('wifi_ssid = "atelier"\nmqtt_host = "mqtt.example.org"\n'
                       f'ca_file = "{certs / "citizenwatt-ca.crt"}"\nupdate_key = {shown}\n')
    sim = boards()
    r = cli("provision", sim.port, "--profile", profile, "--mosquitto-passwd", tmp_path / "p",
            "--mosquitto-acl", tmp_path / "a")
    said = " ".join(r.output.split())
    assert r.exit_code == 1, said
    assert f"update_key vaut {value!r} dans le profil" in said, said
    assert "64 chiffres hexadécimaux" in said and "citizenwatt admin firmware-key" in said
    assert "/config.json" not in sim.fs.files and "/ca.pem" not in sim.fs.files
    assert not (tmp_path / "p").exists()                # no account made for the meter


def test_update_key_needs_the_ca_file_and_one_ca_file_only(boards, tmp_path):
    certs = make_certs(tmp_path / "certs", "mqtt.example.org")
    ca = certs / "citizenwatt-ca.crt"
    profile = tmp_path / "atelier.toml"
    sim = boards()
    profile.write_text(f'wifi_ssid = "atelier"\nmqtt_host = "h"\nupdate_key = "{"ab" * 32}"\n')
    r = cli("provision", sim.port, "--profile", profile)
    said = " ".join(r.output.split())
    assert r.exit_code == 1 and "donne update_key mais pas ca_file" in said, said
    profile.write_text(f'wifi_ssid = "atelier"\nmqtt_host = "h"\nca_file = "{ca}"\n'
                       f'mqtt_ca_file = "{tmp_path}/autre.crt"\n')
    r = cli("provision", sim.port, "--profile", profile)
    said = " ".join(r.output.split())
    assert r.exit_code == 1 and "deux fichiers d'autorités" in said, said
    assert "/config.json" not in sim.fs.files and "/ca.pem" not in sim.fs.files
    # The old name alone still works: the same file, installed as /ca.pem.
    profile.write_text(f'wifi_ssid = "atelier"\nmqtt_host = "h"\nmqtt_ca_file = "{ca}"\n')
    r = cli("provision", sim.port, "--profile", profile, "--mosquitto-passwd", tmp_path / "p",
            "--mosquitto-acl", tmp_path / "a")
    assert r.exit_code == 0, r.output
    assert sim.fs.read("/ca.pem") == ca.read_bytes()


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
    assert r.exit_code == 1 and "ca_file" in r.output and "none.crt" in r.output
