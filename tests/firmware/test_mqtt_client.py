"""The meter's own MQTT client (firmware/mqtt.py), the code the ESP32 runs, on CPython
against a real Mosquitto and against servers that misbehave (tests/firmware/mqtt_fakes.py):
each of umqtt.simple's ten shortfalls of issue 13 has its case here."""

from __future__ import annotations

import socket
import threading
import time

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from citizenwatt.firmware import config, mqtt
from citizenwatt.workshop import mqttauth
from tests.firmware.mqtt_fakes import CLOSE, HTTP, MUTE_AFTER_CONNACK, SILENT, FakeBroker
from tests.services import Mosquitto

TIMEOUT_S = 0.5


class Recorder:
    """A paho subscriber on one topic filter, keeping (topic, payload, retain) in order."""

    def __init__(self, port: int, topic: str, client_id: str = "test-recorder"):
        self.got: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        ready = threading.Event()
        self.c = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                             protocol=paho.MQTTv311)
        self.c.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, 1)
        self.c.on_subscribe = lambda *a: ready.set()
        self.c.on_message = self._on_message
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        assert ready.wait(10), "the test subscriber could not subscribe"

    def _on_message(self, client, userdata, msg):
        with self.lock:
            self.got.append((msg.topic, msg.payload, bool(msg.retain)))

    def wait(self, n: int, timeout_s: float = 30) -> list[tuple[str, bytes, bool]]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.got) >= n:
                    return list(self.got)
            time.sleep(0.01)
        raise AssertionError(f"received {len(self.got)} messages, expected {n}")

    def close(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()


@pytest.fixture
def accounts_broker(tmp_path):
    """Mosquitto with a password file: accounts are checked, anonymous clients allowed
    (the test's subscribers)."""
    passwd = tmp_path / "passwd"
    mqttauth.set_password(passwd, "cw-meter", "bon-mot-de-passe")
    mqttauth.set_password(passwd, "cw-accent", "été-€-ñ-mot")
    b = Mosquitto(tmp_path / "mosquitto",
                  extra_conf=f"allow_anonymous true\npassword_file {passwd}").start()
    yield b
    b.stop()


def client(port: int, **kw) -> mqtt.MQTTClient:
    kw.setdefault("timeout_s", TIMEOUT_S)
    return mqtt.MQTTClient(kw.pop("client_id", "cw-test"), "127.0.0.1", port, **kw)


def refused(fn) -> mqtt.MQTTError:
    with pytest.raises(mqtt.MQTTError) as info:
        fn()
    assert isinstance(info.value, OSError)  # the one family the meter loop catches
    return info.value


# (1) one write per packet: a QoS 1 publish costs one round trip ---------------------------

class WriteSpy:
    """The client's socket, with every write call recorded."""

    def __init__(self, sock, writes: list[bytes]):
        self._sock = sock
        self._writes = writes

    def sendall(self, data):
        self._writes.append(bytes(data))
        return self._sock.sendall(data)

    def __getattr__(self, name):
        return getattr(self._sock, name)


def test_each_packet_goes_out_in_one_write(mosquitto):
    writes: list[bytes] = []
    c = client(mosquitto.port, timeout_s=5)
    c.connect()
    c.sock = WriteSpy(c.sock, writes)
    payload = b"x" * 480
    c.publish("cw/cw-test/reading", payload, False, 1)
    c.ping()
    c.publish("cw/cw-test/reading", payload, False, 0)
    assert [w[0] for w in writes] == [0x32, 0xC0, 0x30]  # PUBLISH QoS 1, PINGREQ, PUBLISH QoS 0
    assert writes[0].endswith(payload) and writes[1] == b"\xc0\x00"
    assert c.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    c.disconnect()


# (2) a refused connection is an MQTTError (an OSError), with the broker's code ------------

def test_wrong_password_is_refused_with_the_brokers_code(accounts_broker):
    e = refused(lambda: client(accounts_broker.port, client_id="cw-meter", user="cw-meter",
                               password="mauvais").connect())
    assert e.args[0] == mqtt.REFUSED and e.args[1] in (4, 5)
    assert "mqtt_password" in mqtt.describe(e, "127.0.0.1", accounts_broker.port)
    ok = client(accounts_broker.port, client_id="cw-meter", user="cw-meter",
                password="bon-mot-de-passe")
    assert ok.connect() == 0
    ok.disconnect()


# (3) a silent server: the CONNACK wait ends at the timeout, it does not hang --------------

def test_silent_server_times_out_instead_of_hanging():
    srv = FakeBroker(SILENT)
    try:
        c = client(srv.port)
        t0 = time.monotonic()
        e = refused(c.connect)
        took = time.monotonic() - t0
    finally:
        srv.close()
    assert e.args[0] == mqtt.TIMEOUT
    assert took < 10 * TIMEOUT_S  # bounded by the timeout, not by a watchdog
    assert c.sock is None  # closed, nothing left half-open
    assert srv.received[:1] == b"\x10"  # it did send its CONNECT


# (4) closed before CONNACK, and an answer that is not MQTT --------------------------------

@pytest.mark.parametrize("mode, reason", [(CLOSE, mqtt.CLOSED), (HTTP, mqtt.PROTOCOL)])
def test_closing_and_non_mqtt_servers_raise_the_one_family(mode, reason):
    srv = FakeBroker(mode)
    try:
        e = refused(client(srv.port).connect)
    finally:
        srv.close()
    assert e.args[0] == reason
    assert mqtt.reason(e) == reason


def test_nothing_listening_is_a_network_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        port = s.getsockname()[1]
        e = refused(client(port).connect)
    assert e.args[0] == mqtt.NETWORK


# (5) ping then publish: every wait has its deadline, the socket keeps its timeout ---------

def test_ping_then_publish_against_a_server_that_never_answers():
    srv = FakeBroker(MUTE_AFTER_CONNACK)
    try:
        c = client(srv.port)
        c.connect()
        assert c.check_msg() is None  # nothing there: no wait
        assert c.sock.gettimeout() == TIMEOUT_S
        t0 = time.monotonic()
        assert refused(c.ping).args[0] == mqtt.TIMEOUT
        c2 = client(srv.port)
        c2.connect()
        assert refused(lambda: c2.publish("cw/x/reading", b"{}", False, 1)).args[0] == mqtt.TIMEOUT
        took = time.monotonic() - t0
    finally:
        srv.close()
    assert took < 20 * TIMEOUT_S


def test_the_socket_keeps_its_timeout_after_every_read(mosquitto):
    c = client(mosquitto.port, timeout_s=3)
    c.connect()
    for step in (c.check_msg, c.ping, c.check_msg,
                 lambda: c.publish("cw/t/reading", b"1", False, 1), c.check_msg):
        step()
        assert c.sock.gettimeout() == 3
    c.disconnect()


# (6) keepalive 0 is refused, by the client and by the config -------------------------------

def test_keepalive_zero_is_refused():
    with pytest.raises(ValueError):
        mqtt.MQTTClient("cw-x", "127.0.0.1", 1883, keepalive=0)
    with pytest.raises(config.ConfigError, match="keepalive_s vaut 0"):
        config.validate({"meter_id": "cw-x", "mqtt_host": "h", "keepalive_s": 0})
    assert mqtt.connect_packet("c", None, None, 60, True, None)[10:12] == b"\x00\x3c"


# (7) a user with no password, (8) a password that is not ASCII -----------------------------

def test_user_without_password_is_sent_as_such(mosquitto):
    pkt = mqtt.connect_packet("cw-x", "cw-x", None, 60, True, None)
    assert pkt[9] == 0x80 | 0x02  # user name flag, no password flag, clean session
    c = client(mosquitto.port, client_id="cw-x", user="cw-x", password=None)
    assert c.connect() == 0  # anonymous broker: a user name alone is accepted
    c.publish("cw/cw-x/reading", b"{}", False, 1)
    c.disconnect()


def test_non_ascii_password_has_its_length_in_bytes(accounts_broker):
    pw = "été-€-ñ-mot"
    pkt = mqtt.connect_packet("cw-accent", "cw-accent", pw, 60, True, None)
    assert pkt.endswith(len(pw.encode()).to_bytes(2, "big") + pw.encode())
    assert len(pw.encode()) > len(pw)
    c = client(accounts_broker.port, client_id="cw-accent", user="cw-accent", password=pw)
    assert c.connect() == 0
    c.disconnect()


# (9) packet ids wrap: 70,000 QoS 1 publishes on one connection ----------------------------

def test_packet_ids_wrap_over_70000_publishes(tmp_path):
    broker = Mosquitto(tmp_path / "mq", extra_conf="max_queued_messages 100000").start()
    rec = Recorder(broker.port, "cw/cw-wrap/reading")
    try:
        c = client(broker.port, client_id="cw-wrap", timeout_s=10)
        c.connect()
        n = 70_000
        pids = []
        for k in range(n):
            c.publish("cw/cw-wrap/reading", b"%d" % k, False, 1)
            if k in (65_533, 65_534, 65_535, 65_536):
                pids.append(c.pid)
        assert pids == [65_534, 65_535, 1, 2]  # 0 is skipped, as MQTT requires
        assert c.sock is not None  # the broker kept the connection through the wrap
        c.ping()
        c.disconnect()
        got = rec.wait(n, timeout_s=60)
    finally:
        rec.close()
        broker.stop()
    assert [int(p) for _, p, _ in got] == list(range(n))


# last will and retained publishes ----------------------------------------------------------

def test_last_will_and_retained_status(mosquitto):
    c = client(mosquitto.port, client_id="cw-will", keepalive=2)
    c.set_last_will("cw/cw-will/status", b'{"state":"offline"}', True, 1)
    c.connect()
    c.publish("cw/cw-will/status", b'{"state":"online"}', True, 1)
    # A new subscriber gets the retained status, marked retained.
    rec = Recorder(mosquitto.port, "cw/cw-will/status", "test-will-1")
    try:
        assert rec.wait(1)[0] == ("cw/cw-will/status", b'{"state":"online"}', True)
        c.sock.close()  # the link dies without a DISCONNECT: the broker sends the will
        got = rec.wait(2, timeout_s=20)
        assert got[1][1] == b'{"state":"offline"}'
    finally:
        rec.close()
    rec2 = Recorder(mosquitto.port, "cw/cw-will/status", "test-will-2")
    try:
        assert rec2.wait(1)[0] == ("cw/cw-will/status", b'{"state":"offline"}', True)
    finally:
        rec2.close()


# subscribe + check_msg / wait_msg: what a command topic needs ------------------------------

def test_subscribe_and_receive_with_check_msg_and_wait_msg(mosquitto):
    c = client(mosquitto.port, client_id="cw-cmd", timeout_s=5)
    got: list[tuple[bytes, bytes]] = []
    c.set_callback(lambda t, m: got.append((t, m)))
    c.connect()
    c.subscribe("cw/cw-cmd/command", 1)
    pub = paho.Client(CallbackAPIVersion.VERSION2, client_id="test-commander",
                      protocol=paho.MQTTv311)
    pub.connect("127.0.0.1", mosquitto.port)
    pub.loop_start()
    try:
        pub.publish("cw/cw-cmd/command", "mise à jour".encode(), qos=1).wait_for_publish(10)
        assert c.wait_msg() == mqtt.PUBLISH
        pub.publish("cw/cw-cmd/command", b"second", qos=1).wait_for_publish(10)
        deadline = time.monotonic() + 10
        while len(got) < 2 and time.monotonic() < deadline:
            c.check_msg()
            time.sleep(0.01)
    finally:
        pub.loop_stop()
        pub.disconnect()
    assert got == [(b"cw/cw-cmd/command", "mise à jour".encode()), (b"cw/cw-cmd/command", b"second")]
    c.timeout_s = 0.2
    c.sock.settimeout(0.2)
    assert c.wait_msg() is None and c.sock is not None  # nothing came: still connected
    c.publish("cw/cw-cmd/status", b"{}", True, 1)  # the acks of the commands did not confuse it
    c.disconnect()
