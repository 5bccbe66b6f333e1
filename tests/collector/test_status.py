"""Statuses are bounded like readings (firmware/wire.py, decode_status): what the firmware
sends passes, anything nested, oversized or of the wrong kind is refused with a reason, and
clean_status keeps only the contract's part of an odd status already stored."""

from __future__ import annotations

import json

import pytest

from citizenwatt.firmware import wire

TOPIC = "cw/m-1/status"


def status(**fields) -> dict:
    obj = {"v": 1, "meter": "m-1", "state": "online"}
    obj.update(fields)
    return obj


FIRMWARE = status(fw="0.9.2", boot=7, uptime_s=3600, rssi=-67, mem_free=81234, queued=0,
                  dropped=3, synced=True, faults={"0": "unplugged", "2": "reversed"})


@pytest.mark.parametrize("obj", [FIRMWARE, status(), status(rssi=None),
                                 status(state="offline", boot=8), status(hass=True, note="x")])
def test_what_a_meter_sends_is_accepted_whole(obj):
    assert wire.decode_status(TOPIC, json.dumps(obj).encode()) == obj
    assert wire.clean_status(obj) == obj


@pytest.mark.parametrize("obj, reason, words", [
    (status(x=[[[]]]), wire.BAD_VALUE, "no list or object"),
    (status(x={"y": 1}), wire.BAD_VALUE, "no list or object"),
    (status(fw="v" * 65), wire.BAD_VALUE, "longer than 64"),
    (status(boot="7"), wire.BAD_VALUE, "must be a number"),
    (status(boot=1.5), wire.BAD_VALUE, "must be a number"),
    (status(synced=1), wire.BAD_VALUE, "true or false"),
    (status(rssi=10 ** 30), wire.BAD_VALUE, "out of range"),
    (status(faults={"0": {"deep": 1}}), wire.BAD_VALUE, "short texts"),
    (status(faults={str(k): "unplugged" for k in range(7)}), wire.BAD_VALUE, "at most 6"),
    (status(**{f"k{k}": k for k in range(30)}), wire.BAD_VALUE, "fields > 24"),
    (status(state="broken"), wire.BAD_VALUE, "online or offline"),
    (status(meter="m-2"), wire.TOPIC_MISMATCH, "m-2"),
    ([1, 2], wire.NOT_OBJECT, "object"),
])
def test_odd_statuses_are_refused_with_a_reason(obj, reason, words):
    with pytest.raises(wire.WireError) as e:
        wire.decode_status(TOPIC, json.dumps(obj).encode())
    assert e.value.reason == reason and words in e.value.detail


def test_nesting_deeper_than_the_parser_is_not_json_and_oversize_is_too_large():
    head = b'{"v": 1, "meter": "m-1", "state": "online", "x": '
    depth = (wire.MAX_PAYLOAD_BYTES - len(head) - 1) // 2  # as deep as 2048 bytes allow
    deep = head + b"[" * depth + b"]" * depth + b"}"
    with pytest.raises(wire.WireError) as e:
        wire.decode_status(TOPIC, deep)
    assert e.value.reason == wire.NOT_JSON and "recursion" in e.value.detail
    with pytest.raises(wire.WireError) as e:
        wire.decode_status(TOPIC, json.dumps(status(pad="x" * 3000)).encode())
    assert e.value.reason == wire.TOO_LARGE


def test_clean_status_keeps_the_contracts_part():
    odd = dict(FIRMWARE, x=[1], y={"z": {}}, fw="v" * 500)
    want = dict(FIRMWARE)
    del want["fw"]
    assert wire.clean_status(odd) == want
    assert wire.clean_status([1, 2]) is None
    assert len(wire.clean_status({f"k{k}": k for k in range(100)})) == wire.MAX_STATUS_FIELDS
