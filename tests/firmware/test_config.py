"""config.validate on bad values: every one refused at the boundary with a French sentence
that names the key and what to put there, never accepted only to crash the meter at each
boot (a crash loop, then safe mode, with no reason given)."""

from __future__ import annotations

import pytest

from citizenwatt.firmware import config

BASE = {"meter_id": "atelier-01", "mqtt_host": "h"}


def _ch(**kw):
    c = {"id": 0, "pin": config.CURRENT_PINS[0]}
    c.update(kw)
    return {"channels": [c]}


BAD = [
    ({"atten_db": 5}, "atten_db vaut 5 : mettez 11"),
    (_ch(clamp="SCT-013-999"), "Pince 0 : Pince 'SCT-013-999' inconnue : choisissez parmi"),
    (_ch(max_current_a="100"), "max_current_a de la pince 0 vaut '100'"),
    (_ch(max_current_a=0), "max_current_a de la pince 0 vaut 0"),
    (_ch(reverse="yes"), "reverse de la pince 0 vaut 'yes' : mettez true"),
    (_ch(tirm=1.1), "Clé inconnue 'tirm' dans une pince de channels"),
    (_ch(noise_a=-1), "noise_a de la pince 0 vaut -1"),
    ({"voltage": {"pin": config.VOLTAGE_PIN, "adapter_v": "9"}}, "voltage.adapter_v vaut '9'"),
    ({"voltage": {"pin": config.VOLTAGE_PIN, "phase_deg": "x"}}, "voltage.phase_deg vaut 'x'"),
    ({"voltage": {"pin": config.VOLTAGE_PIN, "trim": 3}}, "voltage.trim vaut 3"),
    ({"voltage": {"pin": config.VOLTAGE_PIN, "phase": 3}}, "Clé inconnue 'phase' dans voltage"),
    ({"cycles": 2.5}, "cycles vaut 2.5 : donnez un nombre entier"),
    ({"cycles": 200, "sample_rate_hz": 50000, "measure_period_s": 10},
     "plus que les 8000 que la mémoire"),
    ({"wifi_ssid": 5}, "wifi_ssid vaut 5 : écrivez-le entre guillemets"),
    ({"mqtt_password": 1234}, "mqtt_password vaut 1234"),
    ({"hass": "oui"}, "hass vaut 'oui' : mettez true ou false"),
    (_ch(label=3), "label de la pince 0 vaut 3 : écrivez ce qu'elle mesure"),
    (_ch(label="x" * 41), "40 caractères au plus"),
]


@pytest.mark.parametrize("extra,message", BAD, ids=[m.split(" ")[0] for _, m in BAD])
def test_bad_value_is_refused_with_a_sentence(extra, message):
    raw = dict(BASE)
    raw.update(extra)
    with pytest.raises(config.ConfigError) as e:
        config.validate(raw)
    assert message in str(e.value)


def test_good_values_still_pass():
    raw = dict(BASE, atten_db=11, cycles=20, mains_hz=60, hass=True, wifi_ssid="atelier",
               mqtt_user="cw-1", mqtt_password="s")
    raw.update(_ch(clamp="SCT-013-030", max_current_a=30, reverse=True, noise_a=0.05, trim=1.1))
    raw["voltage"] = {"pin": config.VOLTAGE_PIN, "adapter_v": 12, "trim": 0.98, "phase_deg": 3}
    cfg = config.validate(raw)
    assert cfg["channels"][0]["reverse"] is True and cfg["voltage"]["adapter_v"] == 12


def test_missing_file_names_the_real_command(tmp_path):
    with pytest.raises(config.ConfigError) as e:
        config.load(str(tmp_path / "config.json"))
    assert "citizenwatt provision" in str(e.value)
    assert "citizenwatt atelier" not in str(e.value)


def test_mqtt_settings_are_checked_with_sentences():
    base = {"meter_id": "cw-x", "mqtt_host": "h"}
    with pytest.raises(config.ConfigError, match="mqtt_password est donné sans mqtt_user"):
        config.validate({**base, "mqtt_password": "secret"})
    assert config.validate({**base, "mqtt_user": "cw-x"})["mqtt_password"] is None
    with pytest.raises(config.ConfigError, match="trois attentes du broker"):
        config.validate({**base, "mqtt_timeout_s": 25, "wdt_s": 60})
    assert config.validate({**base, "mqtt_timeout_s": 20, "wdt_s": 60})["mqtt_timeout_s"] == 20
    with pytest.raises(config.ConfigError, match="mqtt_server_name vaut ''"):
        config.validate({**base, "mqtt_server_name": ""})
    with pytest.raises(config.ConfigError, match="keepalive_s vaut 0"):
        config.validate({**base, "keepalive_s": 0})
    with pytest.raises(config.ConfigError, match="certificat n° 2 est abîmé"):
        good = ("-----BEGIN CERTIFICATE-----\n" + "MII" + "A" * 201 + "\n"
                "-----END CERTIFICATE-----\n")
        bad = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
        config.pem_certs(good + bad)
