"""Server settings: one typed object by section, from CITIZENWATT_<SECTION>__<NAME> variables
and one TOML file; a bad value is refused at load with a sentence naming it as written; the
old flat names still work for one release, with a warning giving the new name."""

from __future__ import annotations

import importlib
import logging
import pkgutil
import tomllib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic_settings import BaseSettings
from typer.testing import CliRunner

from citizenwatt import config
from citizenwatt.config import ConfigError, Settings, check_timezone, load_settings
from citizenwatt.store.sqlite import SqliteStore

from .api.helpers import constant_readings

ROOT = Path(__file__).resolve().parents[1]
# Modules only the meter's MicroPython has; the firmware modules that need them stay unimported.
MICROPYTHON_ONLY = {"machine", "network", "esp32", "esp", "micropython", "umqtt"}


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    """No CITIZENWATT_* variable of the machine running the tests, no warning remembered."""
    import os

    for name in list(os.environ):
        if name.upper().startswith("CITIZENWATT_"):
            monkeypatch.delenv(name)
    monkeypatch.setattr(config, "_warned", set())


def _all_modules() -> list[str]:
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    names = []
    for package in packages:
        module = importlib.import_module(package)
        names.append(package)
        walk = pkgutil.iter_modules if package == "citizenwatt" else pkgutil.walk_packages
        names += [info.name for info in walk(module.__path__, package + ".")]
    return names


def test_the_project_has_exactly_one_base_settings_class():
    imported = 0
    for name in _all_modules():
        try:
            importlib.import_module(name)
            imported += 1
        except ModuleNotFoundError as e:
            assert name.startswith("citizenwatt.firmware.") and e.name in MICROPYTHON_ONLY, (name, e)
    assert imported > 60  # the walk found the project (the editable install hides sub-packages)

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    ours = {c for c in subclasses(BaseSettings) if c.__module__.startswith("citizenwatt")}
    assert ours == {Settings}


# -- TOML file --------------------------------------------------------------------------------

def _write(tmp_path, toml: str) -> Path:
    path = tmp_path / "citizenwatt.toml"
    path.write_text(toml)
    return path


def _problem(tmp_path, toml: str) -> str:
    with pytest.raises(ConfigError) as e:
        load_settings(_write(tmp_path, toml))
    return str(e.value)


def test_a_toml_file_fills_every_section(tmp_path):
    s = load_settings(_write(tmp_path, """
        data_dir = "donnees"
        [mqtt]
        host = "broker.example.org"
        receive_maximum = 500
        [store]
        kind = "influxdb"
        influx_url = "http://influx.example.org:8086"
        [collector]
        id = "collecteur-2"
        [api]
        timezone = "America/Montreal"
        port = 8001
        [workshop]
        esptool = "esptool.py"
        """))
    assert (s.data_dir, s.mqtt.host, s.mqtt.receive_maximum) == (Path("donnees"), "broker.example.org", 500)
    assert (s.store.kind, s.store.influx_url) == ("influxdb", "http://influx.example.org:8086")
    assert (s.collector.id, s.api.timezone, s.api.port) == ("collecteur-2", "America/Montreal", 8001)
    assert s.workshop.esptool == "esptool.py"
    assert s.mqtt.port == Settings().mqtt.port  # what the file leaves out keeps its default


@pytest.mark.parametrize("toml, expected", [
    ('[mqtt]\nhots = "127.0.0.1"\n', "mqtt.hots dans"),
    ('[mqtt]\nhots = "127.0.0.1"\n', "réglage inconnu"),
    ('[mqtt]\nport = "abc"\n', "un nombre entier"),
    ('[mqtt]\nport = 0\n', "au moins 1"),
    ('[collector]\nmetrics_port = 70000\n', "au plus 65535"),
    ('[store]\nkind = "mongo"\n', "'sqlite' ou 'influxdb'"),
    ('[store]\ninflux_timeout_s = 0\n', "plus de 0"),
    ('[store]\ninflux_timeout_s = "x"\n', "un nombre"),
    ('[collector]\nid = ""\n', "au moins 1 caractère"),
    ('[api]\ntimezone = "Factory"\n', "api.timezone dans"),
    ('[api]\ndatabase_url = "mysql://x"\n', "sqlite:///"),
    ('[mqtt]\nhost = "mqtt://broker"\n', "sans schéma"),
    ('mqtt = "broker"\n', "une table de réglages"),
])
def test_a_bad_setting_is_explained_in_french(tmp_path, toml, expected):
    text = _problem(tmp_path, toml)
    assert expected in text, text
    assert str(tmp_path / "citizenwatt.toml") in text
    assert "Input should" not in text and "Extra inputs" not in text
    assert text.endswith("corrigez ce réglage puis relancez.")


def test_a_secret_is_never_repeated_in_a_message(tmp_path):
    text = _problem(tmp_path, '[api]\ndatabase_url = "mysql://anne:s3cr3t@db/cw"\n')
    assert "api.database_url" in text and "s3cr3t" not in text


def test_a_config_file_does_not_stick_to_later_loads(tmp_path):
    path = _write(tmp_path, '[mqtt]\nhost = "broker.example.org"\n')
    assert load_settings(path).mqtt.host == "broker.example.org"
    assert load_settings().mqtt.host is None


def test_a_missing_file_named_by_citizenwatt_config_is_said(tmp_path, monkeypatch):
    monkeypatch.setenv("CITIZENWATT_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match="nope.toml.*CITIZENWATT_CONFIG"):
        load_settings()


def test_a_toml_syntax_error_is_one_sentence(tmp_path):
    text = _problem(tmp_path, "[api\ntimezone = 1\n")
    assert "illisible" in text and "citizenwatt.toml" in text and "Traceback" not in text


# -- checks shared with the code ----------------------------------------------------------------

@pytest.mark.parametrize("url", ["127.0.0.1:8086", "notaurl", "ftp://127.0.0.1:8086",
                                 "http://", "http:// 127.0.0.1:8086"])
def test_influx_url_without_http_scheme_or_host_is_refused_at_load(url):
    with pytest.raises(ConfigError) as e:
        load_settings(store__influx_url=url)
    text = str(e.value)
    assert "--influx-url" in text and "http://" in text and "relancez" in text


@pytest.mark.parametrize("url", ["http://127.0.0.1:8086", "https://influx.example.org",
                                 "http://localhost:8086/", "HTTP://127.0.0.1:8086"])
def test_influx_url_with_http_scheme_is_kept(url):
    assert load_settings(store__influx_url=url).store.influx_url == url


@pytest.mark.parametrize("name", ["Factory", "localtime", "posixrules", "Mars/Olympus", "Europe",
                                  "../etc/passwd", "", "Europe/Paris "])
def test_the_api_refuses_the_zones_the_settings_refuse(name):
    from citizenwatt.api.consumption import zone
    from citizenwatt.api.errors import ApiError

    with pytest.raises(ValueError) as e:
        check_timezone(name)
    assert "Europe/Paris" in str(e.value)
    with pytest.raises(ApiError) as api_error:
        zone(name)
    assert api_error.value.status == 422
    with pytest.raises(ConfigError):
        load_settings(api__timezone=name)


@pytest.mark.parametrize("name", ["Europe/Paris", "America/Montreal", "UTC", "Indian/Reunion"])
def test_places_are_accepted_by_the_settings_and_the_api(name):
    from citizenwatt.api.consumption import zone

    assert str(check_timezone(name)) == str(zone(name)) == load_settings(api__timezone=name).api.timezone


def test_a_data_dir_that_is_a_file_is_refused_at_load(tmp_path):
    not_a_dir = tmp_path / "data"
    not_a_dir.write_text("")
    with pytest.raises(ConfigError) as e:
        load_settings(data_dir=not_a_dir)
    assert "--data-dir" in str(e.value) and "pas un dossier" in str(e.value)


def test_errors_are_in_english_when_the_settings_say_so(tmp_path):
    text = _problem(tmp_path, 'lang = "en"\n[api]\ntimezone = "Factory"\n')
    assert text.startswith("api.timezone in ") and "is not a known place" in text
    assert text.endswith("correct it, then start again.")
    assert "fuseau" not in text


# -- the [api] time zone decides the pages' days ----------------------------------------------

DAY = "2026-06-10"


def _one_hour_at_0300_utc(store) -> float:
    """1 kW from 03:00 to 04:00 UTC on DAY: 05:00 in Paris, 23:00 the day before in Montreal."""
    from datetime import UTC, datetime

    t0 = datetime(2026, 6, 10, 3, tzinfo=UTC).timestamp()
    store.write(constant_readings("m1", t0, t0 + 3600, 1000.0), t0 + 3600)
    return t0


def _daily_energy(settings, store, clock_s) -> tuple[list, str]:
    from citizenwatt.api.app import create_app

    with TestClient(create_app(store, settings, clock=lambda: clock_s)) as client:
        r = client.get("/api/v1/meters/m1/energy",
                       params={"resolution": "day", "start": "2026-06-09", "end": DAY})
        assert r.status_code == 200, r.text
        page = client.get("/m/m1")
        assert page.status_code == 200
        return [b["energy_wh"] for b in r.json()["buckets"]], page.text


def test_the_api_time_zone_from_the_toml_file_changes_the_pages_days(tmp_path):
    store = SqliteStore(tmp_path / "readings.sqlite")
    t0 = _one_hour_at_0300_utc(store)
    noon = t0 + 9 * 3600  # 12:00 UTC on DAY: the same calendar day in both places
    montreal = load_settings(_write(tmp_path, '[api]\ntimezone = "America/Montreal"\n'),
                             data_dir=tmp_path)
    paris = load_settings(data_dir=tmp_path)
    try:
        in_montreal, montreal_page = _daily_energy(montreal, store, noon)
        in_paris, paris_page = _daily_energy(paris, store, noon)
    finally:
        store.close()
    assert in_paris[0] is None and in_paris[1] > 0  # 05:00-06:00 on DAY in Paris
    assert in_montreal[1] is None and in_montreal[0] == pytest.approx(in_paris[1])  # the day before
    # The meter page's "today" is DAY in both places: the hour is in it for Paris only.
    assert "Total depuis minuit" in paris_page
    assert "Total depuis minuit" not in montreal_page
    assert "Pas encore de mesure aujourd&#39;hui" in montreal_page


# -- the commands stop at start on a bad zone ---------------------------------------------------

def _run(args, env=None):
    from citizenwatt.cli import app

    return CliRunner().invoke(app, args, env=env)


@pytest.mark.parametrize("name", ["Factory", "Mars/Olympus"])
def test_citizenwatt_api_stops_at_start_on_a_zone_that_is_no_place(tmp_path, name):
    toml = _write(tmp_path, f'[api]\ntimezone = "{name}"\n')
    r = _run(["api", "--data-dir", str(tmp_path), "--config", str(toml)])
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1, r.output  # one sentence
    assert lines[0].startswith(f"api.timezone dans {toml} : le fuseau horaire « {name} »")
    assert lines[0].endswith("corrigez ce réglage puis relancez.")
    assert isinstance(r.exception, SystemExit) and "Traceback" not in r.output


def test_citizenwatt_api_names_the_variable_as_written(tmp_path):
    r = _run(["api", "--data-dir", str(tmp_path)], env={"CITIZENWATT_API__TIMEZONE": "Factory"})
    assert r.exit_code == 2
    assert r.output.strip().startswith("CITIZENWATT_API__TIMEZONE : le fuseau horaire « Factory »")


def test_citizenwatt_collector_stops_at_start_on_a_bad_zone_too(tmp_path):
    r = _run(["collector", "--data-dir", str(tmp_path)],
             env={"CITIZENWATT_API__TIMEZONE": "Factory", "CITIZENWATT_MQTT__HOST": "127.0.0.1"})
    assert r.exit_code == 2
    assert "CITIZENWATT_API__TIMEZONE" in r.output and "Factory" in r.output


# -- environment: nested names, and the old ones for one release -------------------------------

def test_nested_environment_names_fill_the_sections(monkeypatch, tmp_path, caplog):
    env = {"CITIZENWATT_MQTT__HOST": "broker.example.org", "CITIZENWATT_MQTT__PORT": "8883",
           "CITIZENWATT_STORE__KIND": "influxdb", "CITIZENWATT_COLLECTOR__ID": "c-2",
           "CITIZENWATT_API__TIMEZONE": "America/Montreal", "CITIZENWATT_API__OPEN_METERS": "false",
           "CITIZENWATT_WORKSHOP__CACHE_DIR": str(tmp_path), "CITIZENWATT_LANG": "en"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with caplog.at_level(logging.WARNING, logger="citizenwatt.config"):
        s = load_settings()
    assert (s.mqtt.host, s.mqtt.port, s.store.kind, s.collector.id) == (
        "broker.example.org", 8883, "influxdb", "c-2")
    assert (s.api.timezone, s.api.open_meters, s.workshop.cache_dir) == (
        "America/Montreal", False, tmp_path)
    assert s.lang == "en" and s.api.default_lang == "en"  # the pages follow the top-level lang
    assert caplog.records == []


def test_options_win_over_the_environment_which_wins_over_the_file(monkeypatch, tmp_path):
    path = _write(tmp_path, '[mqtt]\nhost = "file.example.org"\nport = 1999\n[api]\nport = 8002\n')
    monkeypatch.setenv("CITIZENWATT_MQTT__HOST", "env.example.org")
    monkeypatch.setenv("CITIZENWATT_API__PORT", "8003")
    s = load_settings(path, api__port=8004)
    assert (s.mqtt.host, s.mqtt.port, s.api.port) == ("env.example.org", 1999, 8004)


def test_an_unknown_nested_variable_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("CITIZENWATT_MQTT__HOTS", "broker")
    with pytest.raises(ConfigError) as e:
        load_settings()
    assert str(e.value).startswith("CITIZENWATT_MQTT__HOTS : réglage inconnu")


OLD_AND_NEW = [
    ("CITIZENWATT_MQTT_HOST", "broker.example.org", "CITIZENWATT_MQTT__HOST", ("mqtt", "host")),
    ("CITIZENWATT_MQTT_RECEIVE_MAXIMUM", "500", "CITIZENWATT_MQTT__RECEIVE_MAXIMUM",
     ("mqtt", "receive_maximum")),
    ("CITIZENWATT_STORE", "influxdb", "CITIZENWATT_STORE__KIND", ("store", "kind")),
    ("CITIZENWATT_INFLUX_BUCKET", "cw/one", "CITIZENWATT_STORE__INFLUX_BUCKET", ("store", "influx_bucket")),
    ("CITIZENWATT_COLLECTOR_ID", "c-9", "CITIZENWATT_COLLECTOR__ID", ("collector", "id")),
    ("CITIZENWATT_METRICS_PORT", "0", "CITIZENWATT_COLLECTOR__METRICS_PORT", ("collector", "metrics_port")),
    ("CITIZENWATT_API_PORT", "8001", "CITIZENWATT_API__PORT", ("api", "port")),
    ("CITIZENWATT_API_TIMEZONE", "America/Montreal", "CITIZENWATT_API__TIMEZONE", ("api", "timezone")),
    ("CITIZENWATT_API_DATABASE_URL", "sqlite://", "CITIZENWATT_API__DATABASE_URL", ("api", "database_url")),
    ("CITIZENWATT_API_TOKEN", "jeton", "CITIZENWATT_WORKSHOP__API_TOKEN", ("workshop", "api_token")),
    ("CITIZENWATT_ESPTOOL", "esptool.py", "CITIZENWATT_WORKSHOP__ESPTOOL", ("workshop", "esptool")),
]


@pytest.mark.parametrize("old, value, new, path", OLD_AND_NEW)
def test_an_old_variable_still_works_with_one_warning_naming_the_new_one(monkeypatch, caplog,
                                                                         old, value, new, path):
    monkeypatch.setenv(old, value)
    with caplog.at_level(logging.WARNING, logger="citizenwatt.config"):
        first, second = load_settings(), load_settings()
    section, key = path
    for s in (first, second):
        assert str(getattr(getattr(s, section), key)).lower() == value.lower()
    assert [r.getMessage() for r in caplog.records] == [
        f"{old} est un ancien nom, encore lu jusqu'à la prochaine version : écrivez {new} à la place."]


def test_the_new_name_wins_over_the_old_one(monkeypatch):
    monkeypatch.setenv("CITIZENWATT_MQTT_HOST", "old.example.org")
    monkeypatch.setenv("CITIZENWATT_MQTT__HOST", "new.example.org")
    assert load_settings().mqtt.host == "new.example.org"


def test_a_bad_value_under_an_old_name_is_named_as_written(monkeypatch):
    monkeypatch.setenv("CITIZENWATT_API_TIMEZONE", "Factory")
    with pytest.raises(ConfigError) as e:
        load_settings()
    assert str(e.value).startswith("CITIZENWATT_API_TIMEZONE : le fuseau horaire « Factory »")


def test_old_flat_keys_in_a_toml_file_still_work_with_a_warning(tmp_path, caplog):
    path = _write(tmp_path, 'mqtt_host = "broker.example.org"\nstore = "influxdb"\n'
                            'collector_id = "c-3"\n')
    with caplog.at_level(logging.WARNING, logger="citizenwatt.config"):
        s = load_settings(path)
    assert (s.mqtt.host, s.store.kind, s.collector.id) == ("broker.example.org", "influxdb", "c-3")
    messages = [r.getMessage() for r in caplog.records]
    assert f"mqtt_host dans {path} est un ancien nom, encore lu jusqu'à la prochaine version : " \
           "écrivez host dans la table [mqtt] à la place." in messages
    assert any("écrivez kind dans la table [store]" in m for m in messages)
    assert len(messages) == 3


def test_the_api_command_prints_the_warning_for_an_old_name_on_stderr(tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("CITIZENWATT_")}
    env.update(CITIZENWATT_API_TIMEZONE="America/Montreal", PYTHONPATH=str(ROOT))
    # the data directory does not exist: the command stops before serving anything
    r = subprocess.run([sys.executable, "-m", "citizenwatt.cli", "api", "--data-dir",
                        str(tmp_path / "nowhere")], env=env, capture_output=True, text=True,
                       timeout=60, cwd=ROOT)
    assert r.returncode == 2
    warnings = [line for line in r.stderr.splitlines() if "ancien nom" in line]
    assert warnings == ["CITIZENWATT_API_TIMEZONE est un ancien nom, encore lu jusqu'à la "
                        "prochaine version : écrivez CITIZENWATT_API__TIMEZONE à la place."]
