"""The umqtt.simple the workshop ships for rooms without internet: it seeds an empty
offline cache (so flashing needs no package index), installs with mpremote's mip, and
speaks MQTT 3.1.1 to a real Mosquitto with a meter's password and ACL."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import socket as _socket
import sys
import threading
import types

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from citizenwatt.workshop import mipcache, mqttauth
from citizenwatt.workshop.board import Board

SHIPPED = mipcache.SHIPPED_LIB / "umqtt" / "simple.py"


def test_empty_cache_is_seeded_from_the_shipped_copy(tmp_path):
    cache = tmp_path / "cache"
    mipcache.require_cached(cache, "umqtt.simple")  # no index given: nothing downloaded
    meta6 = json.loads((cache / "mip/package/6/umqtt.simple/latest.json").read_text())
    (path, short), = meta6["hashes"]
    assert path == "umqtt/simple.mpy"
    data = (cache / "mip/file" / short[:2] / short).read_bytes()
    assert data[:2] == b"M\x06" and hashlib.sha256(data).hexdigest().startswith(short)
    metapy = json.loads((cache / "mip/package/py/umqtt.simple/latest.json").read_text())
    (path, short), = metapy["hashes"]
    assert path == "umqtt/simple.py"
    assert (cache / "mip/file" / short[:2] / short).read_bytes() == SHIPPED.read_bytes()


def test_a_filled_cache_keeps_micropython_lib(cache_dir, mip_index):
    before = (cache_dir / "mip/package/6/umqtt.simple/latest.json").read_text()
    mipcache.require_cached(cache_dir, "umqtt.simple")
    assert (cache_dir / "mip/package/6/umqtt.simple/latest.json").read_text() == before


def test_install_offline_onto_a_board(boards, tmp_path):
    sim = boards()
    with Board(sim.port) as b:
        files = mipcache.install(b, "umqtt.simple", tmp_path / "cache")
    assert [p for p, _h in files] == ["umqtt/simple.mpy"]
    assert sim.fs.read("/lib/umqtt/simple.mpy")[:2] == b"M\x06"


class _MicroSocket:
    """CPython's socket with MicroPython's stream methods (read, write)."""

    def __init__(self):
        self._s = _socket.socket()

    def connect(self, addr):
        self._s.connect(addr)

    def write(self, data):
        self._s.sendall(data)
        return len(data)

    def read(self, n):
        if self._s.gettimeout() == 0.0:
            try:
                return self._s.recv(n, _socket.MSG_PEEK) and self._read_all(n)
            except BlockingIOError:
                return None
        return self._read_all(n)

    def _read_all(self, n):
        self._s.settimeout(self._s.gettimeout() or 5)
        out = b""
        while len(out) < n:
            chunk = self._s.recv(n - len(out))
            if not chunk:
                break
            out += chunk
        return out

    def setblocking(self, flag):
        self._s.setblocking(flag)

    def settimeout(self, t):
        self._s.settimeout(t)

    def close(self):
        self._s.close()


def _load_shipped_client():
    fake = types.ModuleType("socket")
    fake.socket = _MicroSocket
    fake.getaddrinfo = _socket.getaddrinfo
    spec = importlib.util.spec_from_file_location("shipped_umqtt", SHIPPED)
    module = importlib.util.module_from_spec(spec)
    saved = sys.modules.get("socket")
    sys.modules["socket"] = fake
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules["socket"] = saved
    return module


def test_shipped_client_publishes_through_mosquitto_with_acl(auth_broker):
    umqtt = _load_shipped_client()
    mqttauth.set_password(auth_broker.passwd, "cw-0a0b0c", "secret-du-compteur")
    mqttauth.set_acl(auth_broker.acl, "cw-0a0b0c")
    auth_broker.reload()

    got, subscribed = [], threading.Event()
    sub = paho.Client(CallbackAPIVersion.VERSION2, client_id="temoin")
    sub.username_pw_set("collector", auth_broker.collector_password)
    sub.on_connect = lambda c, *a: c.subscribe("cw/#", qos=1)
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.on_message = lambda c, u, m: got.append((m.topic, m.payload, m.qos, m.retain))
    sub.connect(auth_broker.host, auth_broker.port)
    sub.loop_start()
    try:
        assert subscribed.wait(10)
        wrong = umqtt.MQTTClient("cw-0a0b0c", auth_broker.host, auth_broker.port,
                                 user="cw-0a0b0c", password="pas le bon")
        try:
            wrong.connect()
            raise AssertionError("the broker accepted a wrong password")
        except umqtt.MQTTException as e:
            assert e.args[0] == 5  # not authorised
        c = umqtt.MQTTClient("cw-0a0b0c", auth_broker.host, auth_broker.port,
                             user="cw-0a0b0c", password="secret-du-compteur", keepalive=30)
        c.set_last_will("cw/cw-0a0b0c/status", b'{"state":"offline"}', retain=True, qos=1)
        assert c.connect() == 0
        c.publish("cw/cw-0a0b0c/reading", b'{"power_w": 1234}', False, 1)  # waits for PUBACK
        c.publish("cw/cw-0a0b0c/status", '{"state":"online"}', True, 0)
        c.ping()
        assert c.check_msg() is None  # PINGRESP consumed, nothing else pending
        c.disconnect()
        for _ in range(100):
            if len(got) >= 2:
                break
            threading.Event().wait(0.05)
        assert got == [("cw/cw-0a0b0c/reading", b'{"power_w": 1234}', 1, False),
                       ("cw/cw-0a0b0c/status", b'{"state":"online"}', 0, False)]
    finally:
        sub.loop_stop()
        sub.disconnect()
