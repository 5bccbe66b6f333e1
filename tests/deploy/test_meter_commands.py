"""The meters' retained counters and command topics on the shipped broker config, with the
accounts the workshop and `citizenwatt admin broker-setup` write: a meter reads back its
own counters (a reflashed one continues its boots and counters) but no other meter's; only
the API's own account may write a meter's command topic, which the meter reads and no
other meter can; a meter's forged command is dropped."""

from __future__ import annotations

import json
import queue
import shutil

import pytest

from citizenwatt.api import firmware as api_firmware
from citizenwatt.config import Settings
from citizenwatt.firmware import wire
from citizenwatt.host.simulator import SimulatedMeter
from citizenwatt.workshop import mqttauth
from tests.deploy.conftest import close, connect

A, B = "cw-aaaaaa", "cw-bbbbbb"


def run_meter(b, flash, n):
    acct = b.meters[A]
    m = SimulatedMeter(meter_id=A, host=b.host, port=b.port, state_dir=flash, seed=2,
                       interval_s=10.0, speed=float("inf"), channels=1,
                       extra_config={"mqtt_user": acct.user, "mqtt_password": acct.password})
    m.start()
    try:
        assert m.wait_published(n, 30), m.error
    finally:
        m.stop()
    return m


def received(b, account, client_id, topic, timeout_s=2.0) -> list:
    q: queue.Queue = queue.Queue()
    c, reason = connect(b, account, client_id, on_message=lambda cl, u, msg: q.put(msg))
    assert reason == 0
    c.subscribe(topic, qos=1)
    got = []
    try:
        while True:
            got.append(q.get(timeout=timeout_s))
    except queue.Empty:
        pass
    close(c)
    return got


@pytest.fixture
def broker(shipped_broker):
    b = shipped_broker
    b.add_meter(A, "meter-a-password")
    b.add_meter(B, "meter-b-password")
    mqttauth.setup_collector(b.passwd, b.acl, b.env_file)
    api_user, created = mqttauth.setup_api(b.passwd, b.acl, b.workdir / "api.env")
    assert created and api_user.startswith(mqttauth.API_PREFIX)
    assert mqttauth.setup_api(b.passwd, b.acl, b.workdir / "api.env") == (api_user, False)
    b.start()
    return b


def test_counters_read_back_and_commands_only_from_the_api(broker, tmp_path):
    b = broker
    flash = tmp_path / "flash"
    first = run_meter(b, flash, 3)
    shutil.rmtree(flash)                     # a reflash: nothing left on the board
    second = run_meter(b, flash, 2)
    # The meter read its retained counters through its ACL: boots and counters go on.
    assert second.readings[0][0] == first.readings[-1][0] + 1
    assert second.readings[0][5][0][1] >= first.readings[-1][5][0][1] > 0
    # Its counters are its own: the other meter reads none of them.
    assert received(b, b.meters[A], "a-reader", wire.counters_topic(A))
    assert received(b, b.meters[B], "b-reader", wire.counters_topic(A)) == []

    # A meter forging a command for itself (or another): dropped by the broker.
    forger, reason = connect(b, b.meters[A], "forger")
    assert reason == 0
    for target in (A, B):
        forger.publish(wire.command_topic(target, "update"), b'{"v": 1}', qos=1,
                       retain=True).wait_for_publish(5)
    close(forger)
    assert received(b, b.meters[A], "a-cmd", wire.command_topic(A, "update")) == []

    # The API's own account (from the env file broker-setup wrote) sends one; the meter
    # reads it, retained; the other meter cannot.
    env = mqttauth.read_env(b.workdir / "api.env")
    settings = Settings(mqtt={"host": b.host, "port": b.port},
                        api={"mqtt_username": env["CITIZENWATT_API__MQTT_USERNAME"],
                             "mqtt_password": env["CITIZENWATT_API__MQTT_PASSWORD"]})
    api_firmware.send_command(settings, A, json.dumps({"v": 1, "version": "9.9"}).encode())
    got = received(b, b.meters[A], "a-cmd2", wire.command_topic(A, "update"))
    assert [json.loads(m.payload)["version"] for m in got] == ["9.9"] and got[0].retain
    assert received(b, b.meters[B], "b-cmd", wire.command_topic(A, "update")) == []
    # The collector's account may not send commands (it only reads cw/#).
    col = b.setup_collector()
    c, reason = connect(b, col, col.user)
    assert reason == 0
    c.publish(wire.command_topic(A, "update"), b'{"v": 1, "version": "6.6"}', qos=1,
              retain=True).wait_for_publish(5)
    close(c)
    got = received(b, b.meters[A], "a-cmd3", wire.command_topic(A, "update"))
    assert [json.loads(m.payload)["version"] for m in got] == ["9.9"]
