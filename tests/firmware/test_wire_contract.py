"""The wire contract runs the same on CPython (collector) and on the MicroPython VM (meter)."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from citizenwatt.firmware import wire

FIRMWARE = Path(wire.__file__).parent
NOW = 1_795_000_000


def reading(**changes):
    obj = {"v": 1, "meter": "m-1", "boot": 2, "seq": 5, "ts": NOW - 10, "up_ms": 5000,
           "interval_s": 10, "ch": [wire.channel(0, 12.5, 400.0, 1.74, 231.0, 0.99)]}
    obj.update(changes)
    return obj


# (name, topic, payload text, expected reason or None for valid)
CASES = [
    ("valid", "cw/m-1/reading", json.dumps(reading()), None),
    ("valid-apparent", "cw/m-1/reading",
     json.dumps(reading(ch=[wire.channel(1, 0.0, 0.0, 0.0)])), None),
    ("unsynced", "cw/m-1/reading", json.dumps({k: v for k, v in reading().items() if k != "ts"}), None),
    ("not-json", "cw/m-1/reading", "{oops", wire.NOT_JSON),
    ("array", "cw/m-1/reading", "[1]", wire.NOT_OBJECT),
    ("seq-str", "cw/m-1/reading", json.dumps(reading(seq="5")), wire.BAD_TYPE),
    ("boot-bool", "cw/m-1/reading", json.dumps(reading(boot=True)), wire.BAD_TYPE),
    ("no-meter", "cw/m-1/reading", json.dumps({k: v for k, v in reading().items() if k != "meter"}), wire.MISSING_FIELD),
    ("null-seq", "cw/m-1/reading", json.dumps(reading(seq=None)), wire.MISSING_FIELD),
    # written as 1e999: CPython's "Infinity" literal is not JSON and MicroPython refuses it
    ("inf", "cw/m-1/reading", json.dumps(reading(interval_s=12345)).replace("12345", "1e999"), wire.NOT_FINITE),
    ("neg-energy", "cw/m-1/reading", json.dumps(reading(ch=[wire.channel(0, 1, 1, 1)] and [{"id": 0, "energy_wh": -1, "power_w": 1, "irms_a": 1, "apparent": True}])), wire.NEGATIVE_ENERGY),
    ("future", "cw/m-1/reading", json.dumps(reading(ts=NOW + 3600)), wire.FUTURE_TS),
    ("old", "cw/m-1/reading", json.dumps(reading(ts=1000)), wire.OLD_TS),
    ("v2", "cw/m-1/reading", json.dumps(reading(v=2)), wire.UNKNOWN_VERSION),
    ("big", "cw/m-1/reading", '{"v":1,"x":"' + "a" * 3000 + '"}', wire.TOO_LARGE),
    ("mismatch", "cw/m-2/reading", json.dumps(reading()), wire.TOPIC_MISMATCH),
    ("bad-topic", "cw/m-1/readings", json.dumps(reading()), wire.BAD_TOPIC),
    ("pf", "cw/m-1/reading", json.dumps(reading(ch=[{"id": 0, "energy_wh": 1, "power_w": 1, "irms_a": 1, "apparent": False, "pf": 1.5}])), wire.BAD_VALUE),
    ("dup-ch", "cw/m-1/reading", json.dumps(reading(ch=[wire.channel(0, 1, 1, 1), wire.channel(0, 1, 1, 1)])), wire.BAD_VALUE),
    ("extra", "cw/m-1/reading", json.dumps(reading(colour="red")), wire.BAD_VALUE),
]


def outcome(topic, text):
    try:
        wire.decode_reading(topic, text.encode(), now_s=NOW)
        return None
    except wire.WireError as e:
        return e.reason


@pytest.mark.parametrize("name,topic,text,reason", CASES, ids=[c[0] for c in CASES])
def test_cpython_decoding(name, topic, text, reason):
    assert outcome(topic, text) == reason


def test_encode_decode_round_trip():
    chans = [wire.channel(0, 1234.5678, 456.789, 2.0123, 230.456, 0.98765),
             wire.channel(2, 0.0, 0.0, 0.0)]
    data = wire.encode_reading("m-1", 3, 7, 123456, 10.0, chans, ts=NOW - 5.12345)
    obj = wire.decode_reading("cw/m-1/reading", data, now_s=NOW)
    assert obj["ch"][0]["energy_wh"] == 1234.568 and obj["ch"][0]["pf"] == 0.9877
    assert obj["ch"][1]["apparent"] is True and "vrms_v" not in obj["ch"][1]
    assert obj["ts"] == NOW - 5.123 and (obj["boot"], obj["seq"]) == (3, 7)
    with pytest.raises(wire.WireError) as e:
        wire.encode_reading("m-1", 3, 7, 0, 10.0, [wire.channel(0, -1.0, 0, 0)])
    assert e.value.reason == wire.NEGATIVE_ENERGY


def test_status_and_topics():
    assert wire.reading_topic("abc-1") == "cw/abc-1/reading"
    assert wire.parse_topic("cw/abc-1/status") == ("abc-1", "status")
    st = wire.decode_status("cw/abc-1/status", wire.encode_status("abc-1", "offline"))
    assert st["state"] == "offline"
    with pytest.raises(wire.WireError):
        wire.reading_topic("Bad Id")


def test_micropython_vm_gives_the_same_outcomes(tmp_path):
    """The meter's VM must accept and refuse exactly what the collector does."""
    from citizenwatt.firmware.host.mpvm import run_on_vm

    pkg = tmp_path / "fw"
    pkg.mkdir()
    shutil.copy(FIRMWARE / "wire.py", pkg / "wire.py")
    (pkg / "__init__.py").write_text("")
    (tmp_path / "cases.json").write_text(json.dumps([[c[1], c[2]] for c in CASES]))
    code = f"""
import sys, json
sys.path.append('/input')
from fw import wire
out = []
for topic, text in json.load(open('/input/cases.json')):
    try:
        wire.decode_reading(topic, text.encode(), {NOW})
        out.append(None)
    except wire.WireError as e:
        out.append(e.reason)
chans = [wire.channel(0, 1234.5678, 456.789, 2.0123, 230.456, 0.98765)]
print(json.dumps(out))
print(wire.encode_reading('m-1', 3, 7, 123456, 10.0, chans, {NOW - 5}).decode())
"""
    res = run_on_vm(code, tmp_path)
    lines = res.lines()
    assert len(lines) == 2, res.stdout + res.stderr
    mp_reasons = json.loads(lines[0])
    expected = [c[3] for c in CASES]
    assert mp_reasons == expected
    # what the meter encodes, the collector accepts
    obj = wire.decode_reading("cw/m-1/reading", lines[1].encode(), now_s=NOW)
    assert obj["ch"][0]["energy_wh"] == 1234.568
