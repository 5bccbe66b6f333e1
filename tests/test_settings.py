"""Server settings: a bad value is refused at load with a sentence naming it."""

from __future__ import annotations

import pytest

from citizenwatt.settings import ConfigError, load_settings


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
