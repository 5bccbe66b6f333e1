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
