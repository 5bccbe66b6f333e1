"""The collector's decoder (orjson, then the contract's checks) accepts and rejects exactly
what the wire contract does, with the same reasons and details: the malformed payloads of
test_malformed.py, the contract's CASES, NaN/Infinity literals, and random mutations."""

from __future__ import annotations

import json
import random
import time

import pytest

from citizenwatt.collector import decoding
from citizenwatt.firmware import wire
from tests.collector.test_malformed import MALFORMED, good
from tests.firmware.test_wire_contract import CASES
from tests.firmware.test_wire_contract import NOW as CASES_NOW

NOW = time.time()


def outcome(decode, topic, payload, now_s):
    try:
        return "ok", decode(topic, payload, now_s)
    except wire.WireError as e:
        return e.reason, e.detail


def contract(topic, payload, now_s):
    return wire.decode_reading(topic, payload, now_s=now_s)


def test_orjson_is_what_the_collector_uses():
    assert decoding.orjson is not None  # a dependency: the fast path is not silently off


def test_a_valid_reading_never_goes_through_the_json_module(monkeypatch):
    payload = json.dumps(good(3)).encode()
    monkeypatch.setattr(wire, "decode_reading", None)  # would fail if called
    assert decoding.decode_reading("cw/m-1/reading", payload, NOW) == json.loads(payload)


@pytest.mark.parametrize("reason,topic,payload", MALFORMED,
                         ids=[f"{i}-{c[0]}" for i, c in enumerate(MALFORMED)])
def test_malformed_payloads_give_the_contracts_reasons(reason, topic, payload):
    got = outcome(decoding.decode_reading, topic, payload, NOW)
    assert got == outcome(contract, topic, payload, NOW)
    assert got[0] == reason


@pytest.mark.parametrize("name,topic,text,reason", CASES, ids=[c[0] for c in CASES])
def test_the_contract_cases_give_the_same_outcome(name, topic, text, reason):
    got = outcome(decoding.decode_reading, topic, text.encode(), CASES_NOW)
    assert got == outcome(contract, topic, text.encode(), CASES_NOW)
    assert (None if got[0] == "ok" else got[0]) == reason


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"])
@pytest.mark.parametrize("field", ["interval_s", "ts", "energy_wh", "power_w", "vrms_v"])
def test_nan_and_infinity_literals_are_not_finite_not_json(literal, field):
    # orjson refuses these literals as invalid JSON; the contract (json) reads them as
    # numbers and says not_finite: the collector must say the same
    obj = good(1)
    obj["ch"][0].update(vrms_v=230.0, pf=0.9, apparent=False)
    where = obj if field in obj else obj["ch"][0]
    where[field] = 12345.5
    payload = json.dumps(obj).replace("12345.5", literal).encode()
    got = outcome(decoding.decode_reading, "cw/m-1/reading", payload, NOW)
    assert got == outcome(contract, "cw/m-1/reading", payload, NOW)
    assert got[0] == wire.NOT_FINITE


def test_integers_too_large_are_refused_by_the_contract():
    def payload(**changes):
        obj = good(1)
        obj.update(changes)
        return json.dumps(obj).encode()

    # integer fields stop at 2^53 - 1 (exact in JSON and in any store): the contract says
    # bad_value, and the collector's fast path (orjson turns 2^64 into a float) agrees
    for big in (payload(seq=2 ** 64), payload(boot=2 ** 53)):
        assert outcome(contract, "cw/m-1/reading", big, NOW)[0] == wire.BAD_VALUE
        assert outcome(decoding.decode_reading, "cw/m-1/reading", big, NOW) == \
            outcome(contract, "cw/m-1/reading", big, NOW)
    edge = payload(seq=2 ** 53 - 1, boot=2 ** 53 - 1)
    assert outcome(decoding.decode_reading, "cw/m-1/reading", edge, NOW)[0] == "ok"
    # an integer too large for a float, where a number is expected: not_finite, from the
    # contract itself (math.isfinite would raise OverflowError and stop the writer)
    huge = payload(interval_s=10 ** 400)
    assert outcome(contract, "cw/m-1/reading", huge, NOW)[0] == wire.NOT_FINITE
    assert outcome(decoding.decode_reading, "cw/m-1/reading", huge, NOW)[0] == wire.NOT_FINITE


TOKENS = [b"NaN", b"Infinity", b"-", b"1e999", b"18446744073709551616", b"null", b"true",
          b"\"", b"\\ud800", b"\xff", b"\xef\xbb\xbf", b"{", b"}", b"[", b"]", b",", b":",
          b"0", b"-0", b"1.", b".5", b"01", b"\x00", b"\t", b"\\u0000", b"1E2", b"\"v\":2"]


def mutations(rnd: random.Random, n: int):
    base = [json.dumps(good(seq)).encode() for seq in range(5)]
    base.append(wire.encode_reading("m-1", 2, 9, 99, 10, [
        wire.channel(0, 12.5, 300.0, 1.3, 231.0, 0.97), wire.channel(3, 1.0, 2.0, 0.1)],
        ts=NOW - 20))
    for _ in range(n):
        p = bytearray(rnd.choice(base))
        for _ in range(rnd.randint(1, 3)):
            i = rnd.randrange(len(p))
            op = rnd.random()
            if op < 0.4:
                p[i:i + rnd.randint(0, 4)] = rnd.choice(TOKENS)
            elif op < 0.7:
                del p[i:i + rnd.randint(1, 3)]
            else:
                p[i] = rnd.randrange(256)
        yield bytes(p)


def test_random_mutations_give_the_same_outcome():
    rnd = random.Random(2024)
    seen = set()
    for payload in mutations(rnd, 5000):
        want = outcome(contract, "cw/m-1/reading", payload, NOW)
        assert outcome(decoding.decode_reading, "cw/m-1/reading", payload, NOW) == want, payload
        seen.add(want[0])
    # the mutations reach most reasons, valid readings included
    assert {"ok", wire.NOT_JSON, wire.BAD_TYPE, wire.NOT_FINITE, wire.BAD_VALUE,
            wire.MISSING_FIELD} <= seen


# values that sit on and across the contract's bounds, of every JSON type orjson returns
EDGE_VALUES = [None, True, False, 0, 1, 2, 3, -1, 5, 6, 0.0, -0.0, 0.5, -1.0, 1.0, 1.5,
               86400, 86400.5, 10000, 10000.01, 1000000, 1000001, -1000000, -1000001,
               wire.MIN_TS, wire.MIN_TS - 1, 2 ** 53 - 1, 2 ** 53, 2 ** 63 - 1, -(2 ** 63),
               wire.MAX_ENERGY_WH, wire.MAX_ENERGY_WH * 1.0001, 1e308, "1", "", "m-1", [], {},
               [1], {"id": 0}]


def objects(rnd: random.Random, n: int):
    """Parsed readings (v1 and v2, 1 to 3 channels) with a field set to an edge value,
    removed, or added: what plainly_valid sees after orjson."""
    def base():
        v = rnd.choice((1, 2))
        chans = [dict(wire.channel(c, 10.0 + c, 360.0 - 200 * c, 1.6, 230.0, 0.9))
                 for c in rnd.sample(range(6), rnd.randint(1, 3))]
        if v == 2:
            chans[0]["export_wh"] = 3.5
        return {"v": v, "meter": "m-1", "boot": 1, "seq": 7, "ts": NOW - 30, "up_ms": 70000,
                "interval_s": 10.0, "ch": chans}

    for _ in range(n):
        obj = base()
        for _ in range(rnd.randint(0, 2)):
            chans = [c for c in obj.get("ch") or () if isinstance(c, dict)] \
                if isinstance(obj.get("ch"), list) else []
            target = obj if rnd.random() < 0.4 or not chans else rnd.choice(chans)
            key = rnd.choice([*target, "export_wh", "extra", wire.ENERGY_MWH])
            if rnd.random() < 0.15:
                target.pop(key, None)
            else:
                target[key] = rnd.choice(EDGE_VALUES)
        if rnd.random() < 0.1 and isinstance(obj.get("ch"), list) and obj["ch"]:
            obj["ch"].append(obj["ch"][0])  # a repeated id
        yield obj


def test_the_fast_check_accepts_only_what_the_contract_accepts():
    rnd = random.Random(7)
    accepted = refused = 0
    for obj in objects(rnd, 20000):
        if decoding.plainly_valid(obj, NOW, "m-1"):
            accepted += 1
            wire.validate_reading(obj, NOW)  # raises if the contract disagrees
        else:
            refused += 1
    assert accepted > 2000 and refused > 2000  # both sides reached


def test_the_benchs_readings_take_the_fast_check():
    """The readings meters send (1 and 3 channels, with voltage) are accepted without the
    contract's slower walk: the collector's common case."""
    for chans in (1, 3):
        c = [wire.channel(i, 1000.0 + i, 500.0, 2.3, 229.5, 0.95) for i in range(chans)]
        payload = wire.encode_reading("m-1", 1, 5, 50000, 10, c, ts=NOW - 10)
        import orjson

        assert decoding.plainly_valid(orjson.loads(payload), NOW, "m-1")
        assert not decoding.plainly_valid(orjson.loads(payload), NOW, "m-2")  # topic's meter
