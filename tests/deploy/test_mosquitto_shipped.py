"""The shipped Mosquitto drop-in, run for real: who may connect, the TLS listener, and the
queue that carries readings through a collector outage and a broker restart."""

from __future__ import annotations

import queue
import re
import ssl
import time

from tests.deploy.conftest import DROP_IN, close, connect, make_certs

READING_BYTES = 483  # a 3-channel reading's payload (bench/firmware_cycle.py)


def _options(text: str) -> list[tuple[str, str, int]]:
    """(option, value, listener index) for each line; listener 0 is the global part."""
    out, listener = [], 0
    for ln in text.splitlines():
        ln = ln.split("#", 1)[0].strip()
        if not ln:
            continue
        name, _, value = ln.partition(" ")
        if name == "listener":
            listener += 1
        out.append((name, value.strip(), listener))
    return out


def test_shipped_config_says_what_the_deployment_needs():
    text = DROP_IN.read_text()
    opts = _options(text)
    one = {name: value for name, value, _ in opts if name != "listener"}
    listeners = [value for name, value, _ in opts if name == "listener"]
    assert listeners == ["1883 127.0.0.1", "8883"]  # plain MQTT on loopback only
    assert one["allow_anonymous"] == "false" and one["persistence"] == "true"
    # the client id is the user name on every listener
    for k in (1, 2):
        assert ("use_username_as_clientid", "true", k) in opts
    tls = {name: value for name, value, lst in opts if lst == 2}
    assert {"certfile", "keyfile", "cafile"} <= set(tls)
    # the queue holds the outage the comment's arithmetic describes
    m = re.search(r"design: (\d+) meters x 1 reading every (\d+) s", text)
    h = re.search(r"outage to cover: (\d+) h", text)
    assert m and h
    readings = int(m[1]) * 3600 // int(m[2]) * int(h[1])
    assert int(one["max_queued_messages"]) >= readings
    assert int(one["max_queued_bytes"]) >= readings * READING_BYTES
    assert int(one["max_queued_messages"]) > 1000  # Mosquitto's default drops after 1000


def test_tls_listener_answers_meters_and_refuses_strangers(shipped_broker, tmp_path):
    b = shipped_broker
    meter = b.add_meter("cw-aaaaaa", "meter-a-password")
    b.start()

    c, reason = connect(b, meter, "cw-aaaaaa")
    assert reason == 0, b.log()
    close(c)
    # a broker certificate from another CA (a man in the middle) is refused by the meter
    other = make_certs(tmp_path / "other-ca", "localhost", "127.0.0.1")
    c, error = connect(b, meter, "cw-aaaaaa", cafile=other / "citizenwatt-ca.crt")
    assert isinstance(error, ssl.SSLCertVerificationError), error
    # no account, a wrong password: refused with "not authorised"
    for account in (None, type(meter)("cw-aaaaaa", "wrong")):
        c, reason = connect(b, account, "cw-aaaaaa")
        assert reason != 0 and reason.value in (4, 5, 134, 135), reason
        c.loop_stop()
    # plain MQTT on the TLS port gets no CONNACK
    c, reason = connect(b, meter, "cw-aaaaaa", tls=False)
    assert reason == 0  # the loopback listener: same accounts
    close(c)


def test_queue_survives_collector_outage_and_broker_restart(shipped_broker):
    """3,000 readings (three times Mosquitto's default queue) published while the collector
    is away, then a broker restart: the collector's session gets every one back."""
    b = shipped_broker
    meter = b.add_meter("cw-aaaaaa", "meter-a-password")
    collector = b.setup_collector()
    b.start()

    def collector_session(on_message=None):
        c, reason = connect(b, collector, collector.user, tls=False, v5=True, clean=False,
                            session_expiry_s=3600, on_message=on_message)
        assert reason == 0, b.log()
        return c

    got: queue.Queue = queue.Queue()
    col = collector_session()
    done: queue.Queue = queue.Queue()
    col.on_subscribe = lambda *a: done.put(True)
    col.subscribe("cw/#", qos=1)
    done.get(timeout=10)
    close(col)  # away; its session (expiry 1 h) keeps the queue

    n = 3000
    pub, reason = connect(b, meter, "cw-aaaaaa")
    assert reason == 0
    payload = b"x" * (READING_BYTES - 8)
    infos = [pub.publish("cw/cw-aaaaaa/reading", b"%07d " % k + payload, qos=1)
             for k in range(n)]
    for info in infos:
        info.wait_for_publish(30)
    close(pub)

    b.stop()  # SIGTERM: Mosquitto saves its queues to mosquitto.db
    assert (b.workdir / "mosquitto.db").stat().st_size > n * len(payload)
    b.start()

    col = collector_session(on_message=lambda cl, ud, msg: got.put(int(msg.payload[:7])))
    seen = set()
    deadline = time.monotonic() + 60
    while len(seen) < n and time.monotonic() < deadline:
        try:
            seen.add(got.get(timeout=max(0.01, deadline - time.monotonic())))
        except queue.Empty:
            break
    close(col)
    assert seen == set(range(n))
