"""Server settings: a bad value is refused at load with a sentence naming it."""

from __future__ import annotations

import pytest

from citizenwatt.config import ConfigError, load_settings


@pytest.mark.parametrize("url", ["127.0.0.1:8086", "notaurl", "ftp://127.0.0.1:8086",
                                 "http://", "http:// 127.0.0.1:8086"])
def test_influx_url_without_http_scheme_or_host_is_refused_at_load(url):
    with pytest.raises(ConfigError) as e:
        load_settings(influx_url=url)
    text = str(e.value)
    assert "influx_url" in text and "http://" in text and "relancez" in text


@pytest.mark.parametrize("url", ["http://127.0.0.1:8086", "https://influx.example.org",
                                 "http://localhost:8086/", "HTTP://127.0.0.1:8086"])
def test_influx_url_with_http_scheme_is_kept(url):
    assert load_settings(influx_url=url).influx_url == url


def _problem(tmp_path, toml: str) -> str:
    path = tmp_path / "collector.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as e:
        load_settings(path)
    return str(e.value)


@pytest.mark.parametrize("toml, expected", [
    ('mqtt_hots = "127.0.0.1"\n', "réglage inconnu"),
    ('mqtt_port = "abc"\n', "un nombre entier"),
    ('mqtt_port = 0\n', "au moins 1"),
    ('metrics_port = 70000\n', "au plus 65535"),
    ('store = "mongo"\n', "'sqlite' ou 'influxdb'"),
    ('influx_timeout_s = 0\n', "plus grand que 0"),
    ('influx_timeout_s = "x"\n', "un nombre"),
    ('collector_id = ""\n', "au moins 1 caractère"),
])
def test_a_bad_setting_is_explained_in_french(tmp_path, monkeypatch, toml, expected):
    monkeypatch.delenv("CITIZENWATT_CONFIG", raising=False)
    text = _problem(tmp_path, toml)
    assert expected in text, text
    assert "Input should" not in text and "Extra inputs" not in text
    assert "relancez" in text


def test_a_config_file_does_not_stick_to_later_loads(tmp_path, monkeypatch):
    monkeypatch.delenv("CITIZENWATT_CONFIG", raising=False)
    monkeypatch.delenv("CITIZENWATT_MQTT_HOST", raising=False)
    path = tmp_path / "a.toml"
    path.write_text('mqtt_host = "broker.example.org"\n')
    assert load_settings(path).mqtt_host == "broker.example.org"
    assert load_settings().mqtt_host is None


def test_a_missing_file_named_by_citizenwatt_config_is_said(tmp_path, monkeypatch):
    monkeypatch.setenv("CITIZENWATT_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match="nope.toml"):
        load_settings()
