"""Small decisions of the meter: reconnect backoff, config validation, unsynced clock."""

from __future__ import annotations

import random

import pytest

from citizenwatt.firmware import config
from citizenwatt.firmware.meter import backoff_ms
from citizenwatt.host.simulator import SimulatedMeter


def test_backoff_doubles_caps_and_jitters():
    lo = [backoff_ms(a, 0.0) for a in range(12)]
    hi = [backoff_ms(a, 0.999999) for a in range(12)]
    assert lo[:4] == [500, 1000, 2000, 4000]          # half of 1 s x 2^attempt, fixed
    assert hi[:3] == [999, 1999, 3999]
    assert lo[-1] == 150_000 and hi[-1] == 299_999    # capped at 300 s
    assert backoff_ms(60, 0.5) == 225_000             # no overflow for long outages
    draws = {backoff_ms(5, random.Random(k).random()) for k in range(50)}
    assert len(draws) > 40 and all(16_000 <= d < 32_000 for d in draws)


def test_config_errors_say_what_to_fix():
    ok = config.validate({"meter_id": "atelier-01", "mqtt_host": "h"})
    assert ok["interval_s"] == 10 and ok["channels"][0]["trim"] == 1.0
    with pytest.raises(config.ConfigError, match="meter_id 'Atelier 1' invalide"):
        config.validate({"meter_id": "Atelier 1", "mqtt_host": "h"})
    with pytest.raises(config.ConfigError, match="Clé inconnue 'intervale_s'"):
        config.validate({"meter_id": "a", "mqtt_host": "h", "intervale_s": 5})
    with pytest.raises(config.ConfigError, match="multiple de measure_period_s"):
        config.validate({"meter_id": "a", "mqtt_host": "h", "interval_s": 10,
                         "measure_period_s": 3})
    with pytest.raises(config.ConfigError, match="mqtt_host est vide"):
        config.validate({"meter_id": "a"})


def test_unsynced_clock_sends_no_timestamp(mosquitto, tmp_path):
    m = SimulatedMeter(meter_id="nosync", port=mosquitto.port, state_dir=tmp_path, seed=2,
                       interval_s=5.0, speed=float("inf"), channels=1,
                       start_utc=1_790_000_000)
    m.hw.ntp_ok = False
    m.start()
    assert m.wait_published(3, timeout_s=20), m.error
    m.hw.ntp_ok = True
    n = m.published
    assert m.wait_published(n + 2, timeout_s=20)
    m.stop()
    rs = m.readings
    assert [r[2] for r in rs[:3]] == [None, None, None]   # collector stamps these
    assert [r[3] for r in rs[:3]] == [5000, 10000, 15000]  # uptime goes on
    assert rs[-1][2] is not None and rs[-1][2] > 1_790_000_000
