"""TLS end to end: the shipped Mosquitto drop-in (its TLS listener, deploy/mosquitto), the
certificates of the shipped script (deploy/tls/make-broker-certs.sh), a meter account
written by the workshop's code, the host-run firmware with ca.pem beside its config.json,
and the real collector on the other side. A broker certificate from another CA, or with
another name, is refused: the meter says so in a sentence and keeps retrying, its readings
kept on its flash."""

from __future__ import annotations

import json
import shutil
import ssl

import pytest

from citizenwatt.collector.service import build_collector
from citizenwatt.config import load_settings
from citizenwatt.firmware import config, mqtt
from citizenwatt.host.simulator import SimulatedMeter
from citizenwatt.workshop import mqttauth
from tests.collector.helpers import wait_until
from tests.deploy.conftest import ShippedMosquitto, make_certs
from tests.deploy.test_broker_identity import _sessions

METER = "cw-c0ffee"
PASSWORD = "mot-de-passe-du-compteur"
START_UTC = 1_790_000_000


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certs(tmp_path_factory.mktemp("certs"), "localhost", "127.0.0.1")


@pytest.fixture(scope="module")
def other_certs(tmp_path_factory):
    """Another association's CA (a man in the middle would show a certificate like this)."""
    return make_certs(tmp_path_factory.mktemp("other-certs"), "localhost", "127.0.0.1")


@pytest.fixture
def broker(tmp_path, certs, monkeypatch):
    b = ShippedMosquitto(tmp_path / "mosquitto", certs)
    b.add_meter(METER, PASSWORD)
    mqttauth.setup_collector(b.passwd, b.acl, b.env_file)
    b.start()
    for name, value in mqttauth.read_env(b.env_file).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CITIZENWATT_MQTT__HOST", b.host)
    monkeypatch.setenv("CITIZENWATT_MQTT__PORT", str(b.port))
    yield b
    b.stop()


def tls_meter(broker, flash, ca_file, **extra) -> SimulatedMeter:
    flash.mkdir(parents=True, exist_ok=True)
    shutil.copy(ca_file, flash / "ca.pem")  # as the workshop installs it beside config.json
    return SimulatedMeter(meter_id=METER, host="127.0.0.1", state_dir=flash, seed=4,
                          interval_s=5.0, speed=float("inf"), channels=1, voltage=False,
                          start_utc=START_UTC,
                          extra_config={"mqtt_tls": True, "mqtt_port": broker.tls_port,
                                        "mqtt_user": METER, "mqtt_password": PASSWORD,
                                        "mqtt_server_name": "localhost", "mqtt_timeout_s": 2,
                                        "measure_period_s": 5.0, "cycles": 2,
                                        "sample_rate_hz": 1000, **extra})


def test_meter_publishes_over_tls_and_the_collector_stores_it(broker, certs, tmp_path):
    from citizenwatt.store.backends import open_store

    settings = load_settings(data_dir=tmp_path / "data")
    store = open_store(settings)
    col = build_collector(settings, store)
    col.start()
    m = tls_meter(broker, tmp_path / "flash", certs / "citizenwatt-ca.crt")
    try:
        assert [c[:1] for c in m.cfg["cadata"]] == [b"\x30"]  # the CA read at boot, as DER
        m.start()
        assert m.wait_published(5, timeout_s=60), (m.error, m.hw.link_errors)
        m.clock.pause()
        assert m.clock.held.wait(10)
        assert isinstance(m.meter.client.sock, ssl.SSLSocket)
        assert m.meter.client.sock.version() == "TLSv1.2" or m.meter.client.sock.version() == "TLSv1.3"
        m.clock.resume()
        assert m.stop(timeout_s=30)
        assert m.error is None and m.hw.link_errors == []
        wait_until(lambda: col.metrics.readings_stored >= m.published, 30, "the readings")
        latest = store.latest(METER)
        assert latest and latest[0].seq == m.published - 1
        # As the meter's own account, its client id its user name (the shipped rule).
        assert (METER, METER) in _sessions(broker.log())
    finally:
        m.stop()
        col.stop()
        store.close()


@pytest.mark.parametrize("case", ["other CA", "other name"])
def test_wrong_certificate_is_refused_said_and_retried(broker, certs, other_certs, tmp_path, case):
    ca = (other_certs if case == "other CA" else certs) / "citizenwatt-ca.crt"
    extra = {"mqtt_server_name": "mqtt.example.org"} if case == "other name" else {}
    m = tls_meter(broker, tmp_path / "flash", ca, backoff_min_s=1, backoff_max_s=20, **extra)
    try:
        m.start()
        wait_until(lambda: m.hw.connects >= 4 or m.error is not None, 60, "four attempts")
        m.clock.pause()
        assert m.clock.held.wait(10)
        assert m.error is None and m._thread is not None and m._thread.is_alive()
        assert m.published == 0 and len(m.meter.outbox) == m.meter.seq > 0
        assert [r for r, _ in m.hw.link_errors] == [mqtt.TLS]
        said = m.hw.link_errors[0][1]
        assert "n'est pas reconnu" in said and "ca.pem" in said, said
        assert "certificate verify failed" in said or "mismatch" in said, said
    finally:
        m.stop()


def test_tls_config_errors_are_sentences(tmp_path):
    flash = tmp_path / "flash"
    flash.mkdir()
    (flash / "config.json").write_text('{"meter_id": "cw-x", "mqtt_host": "h", "mqtt_tls": true}')
    with pytest.raises(config.ConfigError, match="introuvable alors que mqtt_tls vaut true"):
        config.load(str(flash / "config.json"))
    (flash / "ca.pem").write_text("pas un certificat")
    with pytest.raises(config.ConfigError, match="ne contient pas de certificat"):
        config.load(str(flash / "config.json"))
    # TLS chooses its port: 8883 unless one is given.
    assert config.validate({"meter_id": "cw-x", "mqtt_host": "h", "mqtt_tls": True})["mqtt_port"] == 8883
    assert config.validate({"meter_id": "cw-x", "mqtt_host": "h"})["mqtt_port"] == 1883
    with pytest.raises(config.ConfigError, match="mqtt_tls vaut"):
        config.validate({"meter_id": "cw-x", "mqtt_host": "h", "mqtt_tls": "oui"})


def test_one_ca_file_for_mqtt_and_updates(tmp_path, certs, other_certs):
    """ca_file (ca.pem by default) is read when MQTT is over TLS and when updates are on
    (their download is HTTPS, checked against the same file); the old name mqtt_ca_file
    still works, and naming two different files is refused."""
    flash = tmp_path / "flash"
    flash.mkdir()
    cfg_path = str(flash / "config.json")
    base = {"meter_id": "cw-x", "mqtt_host": "h"}
    ours = (certs / "citizenwatt-ca.crt").read_bytes()
    theirs = (other_certs / "citizenwatt-ca.crt").read_bytes()

    def load(**raw):
        (flash / "config.json").write_text(json.dumps({**base, **raw}))
        return config.load(cfg_path)

    assert load()["cadata"] is None                      # plain MQTT, no updates: no CA read
    with pytest.raises(config.ConfigError,
                       match="ca.pem introuvable alors que update_key est donnée"):
        load(update_key="ab" * 32)
    (flash / "ca.pem").write_bytes(ours + theirs)         # two authorities in the one file
    der = load(update_key="ab" * 32)["cadata"]
    assert der == [ssl.PEM_cert_to_DER_cert(ours.decode()), ssl.PEM_cert_to_DER_cert(theirs.decode())]
    assert load(mqtt_tls=True)["cadata"] == der
    # The old name, for configs written before: the same file for both.
    (flash / "broker.pem").write_bytes(ours)
    cfg = load(mqtt_tls=True, mqtt_ca_file="broker.pem", update_key="ab" * 32)
    assert cfg["ca_file"] == "broker.pem" and "mqtt_ca_file" not in cfg
    assert cfg["cadata"] == der[:1]
    with pytest.raises(config.ConfigError, match="deux fichiers"):
        load(mqtt_tls=True, mqtt_ca_file="broker.pem", ca_file="ca.pem")
    assert load(mqtt_tls=True, mqtt_ca_file="ca.pem", ca_file="ca.pem")["cadata"] == der
    # One SSLContext trusts every authority of the file (one load per certificate).
    ctx = mqtt.tls_context(der)
    assert len(ctx.get_ca_certs()) == 2
    (flash / "ca.pem").write_bytes(ours * (config.MAX_CA_CERTS + 1))
    with pytest.raises(config.ConfigError, match="plus de 4 certificats"):
        load(mqtt_tls=True)
