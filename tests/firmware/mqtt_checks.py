# Checks of the meter's MQTT client (fw.mqtt) that run unchanged on the MicroPython VM and on
# CPython: the packets it builds and parses, and the client itself over scripted sockets
# that answer, refuse, say nothing, close or speak something else. The VM has no network;
# the client's code above the socket is the same. Each check returns a dict of findings.

import json

from fw import mqtt


def _hex(b):
    return "".join(["%02x" % x for x in b])


def packets():
    will = (b"cw/m/status", b'{"state":"offline"}', 1, True)
    buf = bytearray(8)
    buf, n = mqtt.publish_into(buf, b"cw/m/reading", b"x" * 300, 1, False, 65535)
    first = buf[0]
    # the body starts after the 2-byte remaining length of a 300+ byte packet
    topic, msg, qos, pid = mqtt.parse_publish(first, bytes(buf[3:n]))
    lens = [mqtt.varint_len(v) for v in (0, 127, 128, 16383, 16384, 2097151, 2097152)]
    wraps = []
    p = 65533
    for _ in range(4):
        p = mqtt.next_pid(p)
        wraps.append(p)
    return {"check": "packets",
            "connect_plain": _hex(mqtt.connect_packet("cw-m", None, None, 60, True, None)),
            "connect_user_only": _hex(mqtt.connect_packet("cw-m", "cw-m", None, 60, True, None)),
            "connect_accents": _hex(mqtt.connect_packet("cw-m", "cw-m", "été€", 30, False, will)),
            "publish_head": _hex(buf[:20]), "publish_len": n,
            "parsed": [topic.decode(), len(msg), qos, pid],
            "subscribe": _hex(mqtt.subscribe_packet("cw/m/command", 1, 7)),
            "varint_lens": lens, "pid_wraps": wraps,
            "connack": [mqtt.check_connack(0x20, b"\x01\x00"), mqtt.check_connack(0x20, b"\x00\x00")]}


class ScriptedSocket:
    """Answers each write with the next scripted answer: bytes to read, "silent" (reads
    time out), "close" (reads return 0)."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.inbox = bytearray()
        self.mode = "ok"
        self.blocking = True
        self.writes = []

    def write(self, data):
        self.writes.append(bytes(data))
        if self.answers:
            a = self.answers.pop(0)
            if a in ("silent", "close"):
                self.mode = a
            else:
                self.inbox.extend(a)
        return len(data)

    def readinto(self, mv):
        if self.inbox:
            k = min(len(mv), len(self.inbox))
            mv[:k] = self.inbox[:k]
            self.inbox = self.inbox[k:]
            return k
        if self.mode == "close":
            return 0
        if not self.blocking:
            return None
        raise OSError(110)  # ETIMEDOUT

    def setblocking(self, flag):
        self.blocking = flag

    def settimeout(self, t):
        self.blocking = True

    def close(self):
        pass


class ScriptedClient(mqtt.MQTTClient):
    def __init__(self, answers, **kw):
        mqtt.MQTTClient.__init__(self, "cw-m", "broker", timeout_s=0.2, **kw)
        self.script = answers

    def _open(self):
        self.sock = ScriptedSocket(self.script)


def _outcome(fn):
    try:
        r = fn()
        return ["ok", r]
    except OSError as e:
        return [mqtt.reason(e), e.args[1] if isinstance(e, mqtt.MQTTError) else 0,
                isinstance(e, mqtt.MQTTError)]


def client_cases():
    connack_ok = b"\x20\x02\x00\x00"
    out = {"check": "client_cases"}
    out["refused"] = _outcome(ScriptedClient([b"\x20\x02\x00\x05"]).connect)
    out["silent"] = _outcome(ScriptedClient(["silent"]).connect)
    out["closed"] = _outcome(ScriptedClient(["close"]).connect)
    out["http"] = _outcome(ScriptedClient([b"HTTP/1.1 400 Bad Request\r\n\r\n"]).connect)
    c = ScriptedClient([connack_ok, b"\x40\x02\x00\x01", "silent"])
    c.connect()
    c.publish("cw/m/reading", b"{}", False, 1)
    out["ping_then_silent"] = _outcome(c.ping)
    c = ScriptedClient([connack_ok, "silent"])
    c.connect()
    out["publish_then_silent"] = _outcome(lambda: c.publish("cw/m/reading", b"{}", False, 1))
    # A command arrives while the meter waits for its PUBACK: delivered, acknowledged.
    got = []
    c = ScriptedClient([connack_ok, b"\x32\x0a\x00\x04cw/c\x00\x09go" + b"\x40\x02\x00\x01", b""])
    c.set_callback(lambda t, m: got.append([t.decode(), m.decode()]))
    c.connect()
    c.publish("cw/m/reading", b"{}", False, 1)
    out["command"] = got
    out["command_acked"] = _hex(c.sock.writes[-1]) if c.sock else None
    out["check_msg_empty"] = _outcome(c.check_msg)
    try:
        mqtt.MQTTClient("cw-m", "broker", keepalive=0)
        out["keepalive0"] = "accepted"
    except ValueError:
        out["keepalive0"] = "refused"
    return out


CHECKS = ("packets", "client_cases")


def main(names):
    for name in names:
        print(json.dumps(globals()[name]()))
