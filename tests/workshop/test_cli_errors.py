"""Workshop commands given bad arguments, no board or a bad profile: each answer is a
sentence saying what to do next (exit code 1), never a traceback nor a raw Python error."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from citizenwatt.cli import app

runner = CliRunner()
NO_PORT = "/dev/citizenwatt-no-such-port"


def run(*args, stdin=None):
    r = runner.invoke(app, [str(a) for a in args], input=stdin,
                      env={"CITIZENWATT_LANG": "fr"})
    out = r.output
    assert "Traceback" not in out
    assert "Erreur inattendue" not in out, out
    assert "[Errno" not in out, out
    assert r.exit_code == 1, out
    return " ".join(out.split())


def test_calibrate_without_board_says_so_before_asking_for_the_kettle():
    out = run("calibrate", NO_PORT, "--channel", 0, "--reference-w", 2000, stdin="")
    assert f"Aucune carte sur {NO_PORT}" in out
    assert "citizenwatt ports" in out
    assert "bouilloire" not in out     # nobody is asked to switch a kettle on for nothing


def test_calibrate_refuses_a_negative_reference_first():
    out = run("calibrate", NO_PORT, "--reference-w", -5, stdin="")
    assert "puissance de référence doit être positive (reçu -5" in out


def test_missing_profile_file_is_a_french_sentence(tmp_path):
    missing = tmp_path / "atelier.toml"
    for cmd in ("provision", "workshop"):
        out = run(cmd, "--profile", missing)
        assert f"Impossible de lire le profil {missing}" in out
        assert "Vérifiez le chemin" in out


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_profile(tmp_path):
    p = tmp_path / "atelier.toml"
    p.write_text('wifi_ssid = "atelier"\n')
    p.chmod(0)
    out = run("provision", "--profile", p)
    assert "Impossible de lire le profil" in out and "droits de lecture" in out


def test_bad_toml_profile_names_the_line(tmp_path):
    p = tmp_path / "atelier.toml"
    p.write_text('wifi_ssid = "atelier"\nmqtt_host = 10.0.0.2\n')
    out = run("provision", "--profile", p)
    assert "n'est pas du TOML valide" in out and "line 2" in out


def test_missing_wifi_says_which_option_and_where(tmp_path):
    out = run("provision", NO_PORT, "--mqtt-host", "127.0.0.1")
    assert "Il manque --wifi-ssid" in out and "clé wifi_ssid" in out
    p = tmp_path / "atelier.toml"
    p.write_text('wifi_ssid = "atelier"\n')
    out = run("provision", NO_PORT, "--profile", p)
    assert "Il manque --mqtt-host" in out


def test_calibrate_on_a_board_with_no_keyboard_and_a_missing_channel(boards):
    from citizenwatt.firmware.config import CURRENT_PINS
    from citizenwatt.host.simboard import SimBoardSpec, SimChannel
    from citizenwatt.workshop import config as wconfig
    sim = boards(SimBoardSpec(channels=[SimChannel(CURRENT_PINS[0], load_w=2000)]))
    raw = wconfig.build("cw-0001", wifi_ssid="atelier", wifi_password="x",
                        mqtt_host="127.0.0.1", mqtt_port=1883, mqtt_user="cw-0001",
                        mqtt_password="secret")
    sim.fs.write("/config.json", wconfig.to_bytes(raw))
    out = run("calibrate", sim.port, "--channel", 0, "--reference-w", 2000, stdin="")
    assert "Personne n'a pu appuyer sur Entrée" in out and "--yes" in out
    out = run("calibrate", sim.port, "--channel", 4, "--reference-w", 2000, "--yes")
    assert "La carte n'a pas de voie 4 (voies configurées : 0)" in out


def test_workshop_with_a_wrong_port_says_so_instead_of_an_empty_run(tmp_path):
    out = run("workshop", "--port", NO_PORT, "--wifi-ssid", "a", "--mqtt-host", "b",
              "--links-csv", tmp_path / "liens.csv")
    assert f"Aucune carte sur {NO_PORT}" in out and "citizenwatt ports" in out


def test_workshop_households_file_missing_or_without_its_columns(tmp_path):
    missing = tmp_path / "foyers.csv"
    out = run("workshop", "--households", missing, "--wifi-ssid", "a", "--mqtt-host", "b")
    assert f"Impossible de lire la liste des foyers {missing}" in out
    missing.write_text("ref,nom\nHH-1,Martin\n")
    out = run("workshop", "--households", missing, "--wifi-ssid", "a", "--mqtt-host", "b")
    assert "n'a pas de colonne household_ref" in out
    assert "household_ref,household_name,timezone" in out


def test_check_and_calibrate_follow_the_configs_reverse(boards):
    """A clamp known to sit backwards ("reverse": true in config.json, the meter turns its
    power round): check does not call it reversed, and calibrate measures it."""
    import json

    from citizenwatt.firmware.config import CURRENT_PINS, VOLTAGE_PIN
    from citizenwatt.host.simboard import SimBoardSpec, SimChannel
    from citizenwatt.workshop import config as wconfig
    from citizenwatt.workshop import sampling
    from citizenwatt.workshop.board import Board
    sim = boards(SimBoardSpec(channels=[SimChannel(CURRENT_PINS[0], load_w=2000,
                                                   reversed=True)], voltage_pin=VOLTAGE_PIN))
    raw = wconfig.build("cw-0001", wifi_ssid="atelier", wifi_password="x",
                        mqtt_host="127.0.0.1", mqtt_port=1883, mqtt_user="cw-0001",
                        mqtt_password="secret", voltage_adapter_v=9)
    raw["channels"][0]["reverse"] = True
    sim.fs.write("/config.json", wconfig.to_bytes(raw))
    with Board(sim.port) as board:
        _raw, cfg = wconfig.load(board)
        _w, res = sampling.measure_config(board, cfg)
    assert res[0]["real_w"] == pytest.approx(2000, rel=0.05)
    assert res[0]["fault"] is None
    out = " ".join(runner.invoke(app, ["check", sim.port, "--no-network"]).output.split())
    assert "à l'envers" not in out
    r = runner.invoke(app, ["calibrate", sim.port, "--reference-w", "2000", "--yes"])
    assert r.exit_code == 0, r.output
    trim = json.loads(sim.fs.read("/config.json"))["channels"][0]["trim"]
    assert trim == pytest.approx(1.0, abs=0.05)
