"""The collector's client id: never a fixed, documented default once a broker is
configured; stable across restarts; unknown to anyone who lacks the MQTT password."""

from __future__ import annotations

import os

import pytest

from citizenwatt.config import DEMO_COLLECTOR_ID, ENV_PREFIX, load_settings


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    for k in [k for k in os.environ if k.startswith(ENV_PREFIX)]:
        monkeypatch.delenv(k)


def _load(**overrides):
    return load_settings(**overrides)


def test_derived_from_the_password_stable_and_distinct():
    a = _load(mqtt__host="broker.example.org", mqtt__username="cwc-x", mqtt__password="secret-1")
    again = _load(mqtt__host="127.0.0.1", mqtt__username="cwc-x", mqtt__password="secret-1")
    other_password = _load(mqtt__host="broker.example.org", mqtt__username="cwc-x",
                           mqtt__password="secret-2")
    other_user = _load(mqtt__host="broker.example.org", mqtt__username="cwc-y",
                       mqtt__password="secret-1")
    ids = {a.collector.id, other_password.collector.id, other_user.collector.id}
    assert len(ids) == 3 and "citizenwatt-collector-1" not in ids
    assert again.collector.id == a.collector.id  # the broker's address may change
    assert a.collector.id.startswith("cwc-") and len(a.collector.id) == 4 + 24
    assert "secret-1" not in a.collector.id


def test_an_explicit_id_wins_and_the_demo_keeps_its_own():
    s = _load(mqtt__host="127.0.0.1", mqtt__password="p", collector__id="cwc-given")
    assert s.collector.id == "cwc-given"
    assert _load().collector.id == DEMO_COLLECTOR_ID  # no broker: the demo's embedded one
    # a broker that lets anyone in protects no session: the id just names the user
    assert _load(mqtt__host="127.0.0.1", mqtt__username="lab").collector.id == \
        "citizenwatt-collector-lab"


def test_the_id_from_the_environment_file(monkeypatch, tmp_path):
    from citizenwatt.workshop import mqttauth

    user, created = mqttauth.setup_collector(tmp_path / "passwd", tmp_path / "acl",
                                             tmp_path / "collector.env")
    assert created
    for name, value in mqttauth.read_env(tmp_path / "collector.env").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CITIZENWATT_MQTT__HOST", "127.0.0.1")
    s = load_settings()
    assert (s.collector.id, s.mqtt.username) == (user, user)
    assert mqttauth.check_password(
        dict(ln.split(":", 1) for ln in (tmp_path / "passwd").read_text().splitlines())[user],
        s.mqtt.password)


def test_auto_is_the_default_and_an_empty_id_is_refused():
    from citizenwatt.config import ConfigError

    assert _load(mqtt__host="h", mqtt__password="p", collector__id="auto").collector.id == \
        _load(mqtt__host="h", mqtt__password="p").collector.id
    with pytest.raises(ConfigError):
        _load(mqtt__host="h", collector__id="")


def test_env_file_lines_are_set_in_place(tmp_path):
    from citizenwatt.workshop import mqttauth

    env = tmp_path / "collector.env"
    env.write_text("# the collector's account\n#CITIZENWATT_MQTT__USERNAME=\nCITIZENWATT_LANG=en\n")
    mqttauth.set_env(env, {"CITIZENWATT_MQTT__USERNAME": "cwc-1", "CITIZENWATT_MQTT__PASSWORD": "p"})
    assert env.read_text().splitlines() == [
        "# the collector's account", "CITIZENWATT_MQTT__USERNAME=cwc-1", "CITIZENWATT_LANG=en",
        "CITIZENWATT_MQTT__PASSWORD=p"]
    assert mqttauth.read_env(env) == {"CITIZENWATT_MQTT__USERNAME": "cwc-1",
                                      "CITIZENWATT_LANG": "en", "CITIZENWATT_MQTT__PASSWORD": "p"}


def test_a_meter_cannot_be_given_a_collectors_name(tmp_path):
    from citizenwatt.workshop import mqttauth
    from citizenwatt.workshop.errors import WorkshopError

    with pytest.raises(WorkshopError) as e:
        mqttauth.set_acl(tmp_path / "acl", "cwc-0001")
    assert "cwc-0001" in str(e.value)
    assert not (tmp_path / "acl").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's group needs root")
def test_rewrites_keep_mosquittos_group_and_mode(tmp_path):
    from citizenwatt.workshop import mqttauth

    passwd = tmp_path / "passwd"
    passwd.write_text("")
    os.chown(passwd, 0, 65534)  # root:nogroup standing for root:mosquitto
    passwd.chmod(0o640)
    mqttauth.set_password(passwd, "cw-0001", "a-password")
    st = passwd.stat()
    assert (st.st_uid, st.st_gid, oct(st.st_mode & 0o777)) == (0, 65534, "0o640")
    assert mqttauth.has_user(passwd, "cw-0001")
