"""Every kind of malformed payload, sent through a real Mosquitto, is rejected with a reason
while the valid readings around it are all stored."""

from __future__ import annotations

import json
import logging
import time

import pytest

from citizenwatt.collector.service import Collector
from citizenwatt.firmware import wire
from citizenwatt.store.sqlite import SqliteStore
from tests.collector.helpers import run_collector_on

NOW = time.time()


def good(seq: int, meter: str = "m-1") -> dict:
    return {"v": 1, "meter": meter, "boot": 1, "seq": seq, "ts": NOW - 100 + seq,
            "up_ms": 1000 * seq, "interval_s": 10,
            "ch": [wire.channel(0, 10.0 + seq, 360.0, 1.6)]}


def with_(n: int, **changes) -> bytes:
    obj = good(n)
    obj.update(changes)
    return json.dumps(obj).encode()


def with_channel(seq: int, **changes) -> bytes:
    obj = good(seq)
    obj["ch"][0].update(changes)
    return json.dumps(obj).encode()


def without(seq: int, name: str) -> bytes:
    obj = good(seq)
    del obj[name]
    return json.dumps(obj).encode()


TOPIC = "cw/m-1/reading"
# (reason the collector must give, topic, payload)
MALFORMED = [
    (wire.NOT_JSON, TOPIC, b"{not json"),
    (wire.NOT_JSON, TOPIC, b"\xff\xfe\x00garbage"),
    (wire.NOT_OBJECT, TOPIC, b"[1, 2, 3]"),
    (wire.BAD_TYPE, TOPIC, with_(0, seq="7")),
    (wire.BAD_TYPE, TOPIC, with_channel(0, energy_wh="12")),
    (wire.BAD_TYPE, TOPIC, with_channel(0, apparent=1)),
    (wire.MISSING_FIELD, TOPIC, without(0, "boot")),
    (wire.MISSING_FIELD, TOPIC, without(0, "ch")),
    (wire.NOT_FINITE, TOPIC, with_channel(0, power_w=float("nan"))),
    (wire.NOT_FINITE, TOPIC, with_channel(0, energy_wh=float("inf"))),
    (wire.NOT_FINITE, TOPIC, with_channel(0, irms_a=float("-inf"))),
    (wire.NEGATIVE_ENERGY, TOPIC, with_channel(0, energy_wh=-5.0)),
    (wire.FUTURE_TS, TOPIC, with_(0, ts=NOW + 86400)),
    (wire.UNKNOWN_VERSION, TOPIC, with_(0, v=3)),
    (wire.TOO_LARGE, TOPIC, b'{"v": 1, "pad": "' + b"x" * 5000 + b'"}'),
    (wire.TOPIC_MISMATCH, "cw/m-2/reading", with_(0)),
    (wire.BAD_TOPIC, "cw/M@D/reading", with_(0)),
]
# Payloads the contract lets through as a Python error or as a value no store can hold:
# the collector refuses them with a contract reason instead of stopping or blocking.
BEYOND_THE_CONTRACT = [
    (wire.NOT_FINITE, TOPIC, with_(0, interval_s=10 ** 400)),  # too large for a float
    (wire.BAD_VALUE, TOPIC, with_(0, boot=2 ** 64)),  # integers stop at 2^53 - 1
]


def test_each_malformed_payload_is_rejected_and_valid_ones_are_all_stored(
        mosquitto, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="citizenwatt.collector")
    store = SqliteStore(tmp_path / "readings.sqlite")
    messages = []
    seq = 0
    for _, topic, payload in MALFORMED + BEYOND_THE_CONTRACT:
        messages.append((TOPIC, json.dumps(good(seq)).encode()))
        seq += 1
        messages.append((topic, payload))
    messages.append((TOPIC, json.dumps(good(seq)).encode()))
    seq += 1
    collector = run_collector_on(mosquitto, store, messages, "test-collector")

    # every valid reading is stored, in order, with its energy
    rows = store.latest("m-1")
    assert [r.seq for r in rows] == [seq - 1]
    summary = {m.meter_id: m for m in store.meters()}
    assert summary["m-1"].readings == seq
    assert "m-2" not in summary

    # each malformed one is counted under its reason, kept as a dead letter, and logged
    want: dict[str, int] = {}
    for reason, _, _ in MALFORMED + BEYOND_THE_CONTRACT:
        want[reason] = want.get(reason, 0) + 1
    assert dict(collector.metrics.rejected) == want
    assert store.rejections() == want
    # logged at once the first time per reason, the others in one summary line per reason
    # (collector/guard.py, RejectLog), flushed when the collector stops
    lines = [r.getMessage() for r in caplog.records]
    first = [line for line in lines if line.startswith("message rejeté")]
    assert sorted(line.split("(")[1].split(")")[0] for line in first) == sorted(want)
    for reason, n in want.items():
        summaries = [line for line in lines if "de plus rejetés" in line and f"({reason})" in line]
        assert [int(line.split()[0]) for line in summaries] == ([n - 1] if n > 1 else []), reason


def test_unreachable_broker_gives_one_clear_error(tmp_path):
    from citizenwatt.collector.service import CollectorError
    from tests.services import free_port

    store = SqliteStore(tmp_path / "r.sqlite")
    port = free_port()
    with pytest.raises(CollectorError) as e:
        Collector(store, "127.0.0.1", port).start(timeout_s=2)
    msg = str(e.value)
    assert f"127.0.0.1:{port}" in msg and "Vérifiez" in msg


def test_clearing_a_retained_status_is_not_a_rejection(mosquitto, tmp_path):
    store = SqliteStore(tmp_path / "readings.sqlite")
    collector = run_collector_on(mosquitto, store, [
        ("cw/m-1/status", wire.encode_status("m-1", "online"), True),
        ("cw/m-1/status", b"", True),
        (TOPIC, json.dumps(good(0)).encode())], "clear-collector")
    assert sum(collector.metrics.rejected.values()) == 0 and store.rejections() == {}
    assert {m.meter_id: m.status for m in store.meters()}["m-1"]["state"] == "online"
