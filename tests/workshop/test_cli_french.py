"""Every word of the workshop commands in French by default, the command-line framework's
own included (usage, errors, help, option types), in English with --lang en; and the Home
Assistant switch of `provision` and the profile."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from citizenwatt.cli import app
from citizenwatt.host.simboard import SimBoardSpec

runner = CliRunner()
COMMANDS = ("ports", "flash", "provision", "calibrate", "check", "workshop")
# click's and typer's own English, as they print it
ENGLISH = ("Usage:", "Error:", "Try '", "for help", "No such option", "Got unexpected", "Show this message",
           "Missing ", "requires an argument", "Invalid value", "is not a valid", "<str>", "<int>", "<path>",
           "<float>", "list[", "Options:", "Arguments:", "[default", "[required]")
MISTAKES = (["--no-such-option"], ["a", "b", "c"], ["--lang"], ["--help"])
BAD_VALUE = {"calibrate": ["--channel", "abc"], "workshop": ["--count", "x"], "flash": ["--cache"],
             "provision": ["--mqtt-port", "un"], "check": ["--network", "x"], "ports": ["--all", "x"]}


def _out(args, env=None):
    r = runner.invoke(app, args, env={"CITIZENWATT_LANG": None, **(env or {})})
    assert "Traceback" not in r.output
    return r


@pytest.mark.parametrize("command", COMMANDS)
def test_french_by_default_including_clicks_own_words(command):
    for extra in (*MISTAKES, BAD_VALUE[command]):
        r = _out([command, *extra])
        for word in ENGLISH:
            assert word not in r.output, (command, extra, word, r.output)
    help_text = _out([command, "--help"]).output
    assert "Utilisation : citizenwatt " + command in help_text
    assert "Affiche cette aide et quitte." in help_text
    wrong = _out([command, "--no-such-option"]).output
    assert "Option inconnue : --no-such-option" in wrong
    assert f"Essayez 'citizenwatt {command} --help'" in wrong


@pytest.mark.parametrize("command", COMMANDS)
def test_english_with_lang_en(command):
    r = _out([command, "--lang", "en", "--no-such-option"])
    assert "Usage: citizenwatt " + command in r.output and "No such option: --no-such-option" in r.output
    r = _out([command, "--lang", "en", "--help"])
    assert "Show this message and exit." in r.output and "Utilisation" not in r.output


def test_every_workshop_option_has_its_help():
    for command in COMMANDS:
        text = " ".join(_out([command, "--help"]).output.split())
        options = [w for w in text.split() if w.startswith("--") and w[2:3].isalpha()]
        # each option line is followed by words, not straight by the next option
        for line in _out([command, "--help"]).output.splitlines():
            stripped = line.strip()
            if stripped.startswith("--") and "  " not in stripped:
                pytest.fail(f"{command}: {stripped} has no help")
        assert options


def test_extra_arguments_in_french():
    r = _out(["flash", "a", "b", "c"])
    assert "Erreur : Arguments en trop : b c" in r.output


def test_provision_switches_home_assistant_discovery_on(boards, tmp_path):
    sim = boards(SimBoardSpec())
    base = ["provision", sim.port, "--wifi-ssid", "atelier", "--mqtt-host", "127.0.0.1",
            "--mosquitto-passwd", str(tmp_path / "passwd"), "--mosquitto-acl", str(tmp_path / "acl")]
    r = _out([*base, "--hass"])
    assert r.exit_code == 0, r.output
    cfg = json.loads(sim.fs.read("/config.json"))
    assert cfg["hass"] is True
    assert "topic write homeassistant/+/cw-123456/#" in (tmp_path / "acl").read_text()
    # From the profile, and --no-hass wins over it.
    profile = tmp_path / "atelier.toml"
    profile.write_text('wifi_ssid = "atelier"\nmqtt_host = "127.0.0.1"\nhass = true\n')
    r = _out(["provision", sim.port, "--profile", str(profile)])
    assert r.exit_code == 0, r.output
    assert json.loads(sim.fs.read("/config.json"))["hass"] is True
    r = _out(["provision", sim.port, "--profile", str(profile), "--no-hass"])
    assert r.exit_code == 0, r.output
    assert json.loads(sim.fs.read("/config.json"))["hass"] is False
    r = _out(["provision", sim.port, "--wifi-ssid", "atelier", "--mqtt-host", "127.0.0.1"])
    assert json.loads(sim.fs.read("/config.json"))["hass"] is False  # off by default


def test_provision_says_mosquitto_was_reloaded_when_it_was(boards, tmp_path):
    sim = boards(SimBoardSpec())
    base = ["provision", sim.port, "--wifi-ssid", "atelier", "--mqtt-host", "127.0.0.1",
            "--mosquitto-passwd", str(tmp_path / "passwd"), "--mosquitto-acl", str(tmp_path / "acl")]
    out = " ".join(_out([*base, "--mosquitto-reload", "true"]).output.split())
    assert "Mosquitto rechargé (true)" in out and "Rechargez Mosquitto" not in out
    out = " ".join(_out(base).output.split())
    assert "Rechargez Mosquitto" in out


def test_wifi_failure_in_one_language(boards):
    """The issue's "réseau introuvable / network not found": each language alone."""
    from citizenwatt.workshop import config as wconfig

    sim = boards(SimBoardSpec(wifi={}))
    raw = wconfig.build("cw-0001", wifi_ssid="atelier", wifi_password="x", mqtt_host="127.0.0.1",
                        mqtt_port=1883, mqtt_user="cw-0001", mqtt_password="secret")
    sim.fs.write("/config.json", wconfig.to_bytes(raw))
    fr = " ".join(_out(["check", sim.port]).output.split())
    assert "réseau introuvable" in fr and "not found" not in fr and "network" not in fr
    en = " ".join(_out(["check", sim.port, "--lang", "en"]).output.split())
    assert "network not found" in en and "introuvable" not in en and "Guide: \"No Wi-Fi\"" in en
