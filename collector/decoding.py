"""Decoding a reading for the collector: the wire contract's decoder, with the JSON parsed by
orjson (about twice as fast as the json module) when the payload is a valid reading.

Every rejection is decided by the contract itself (firmware/wire.py): whenever the fast path
does not end with a valid reading, the payload goes through wire.decode_reading, so the
reasons (NaN literals: not_finite, which orjson refuses as not JSON; integers beyond 64 bits,
which orjson turns into floats) and their details are the contract's, message for message.
"""

from __future__ import annotations

import math

from citizenwatt.firmware import wire

try:
    import orjson
except ImportError:  # the contract's own decoder is enough, only slower
    orjson = None  # type: ignore[assignment]


def decode_reading(topic: str, payload: bytes, now_s: float,
                   meter_id: str | None = None) -> dict:
    """What wire.decode_reading(topic, payload, now_s) returns, or the WireError it raises.

    meter_id: the topic's meter when the caller has parsed it already as a reading topic.
    """
    if orjson is not None and len(payload) <= wire.MAX_PAYLOAD_BYTES:
        # the fast path: orjson parses, the contract checks; anything but a valid reading
        # falls through to the contract's own decoder, which then says why
        try:
            kind = "reading"
            if meter_id is None:
                meter_id, kind = wire.parse_topic(topic)
            obj = orjson.loads(payload)
            if kind == "reading" and (plainly_valid(obj, now_s, meter_id)
                                      or wire.validate_reading(obj, now_s)["meter"] == meter_id):
                return obj
        except (orjson.JSONDecodeError, wire.WireError, ArithmeticError, TypeError):
            pass
    return contract_decode(topic, payload, now_s)


def contract_decode(topic: str, payload: bytes, now_s: float) -> dict:
    """wire.decode_reading; a Python error it might still let through becomes a bad_value
    rejection, so that no payload can stop the collector."""
    try:
        return wire.decode_reading(topic, payload, now_s=now_s)
    except wire.WireError:
        raise
    except (ArithmeticError, TypeError, ValueError, RecursionError) as e:
        # the reason names the error; its traceback would only repeat the payload's fault
        raise wire.WireError(wire.BAD_VALUE, f"{type(e).__name__}: {e}") from None


_READING_KEYS = frozenset(f[0] for f in wire.READING_FIELDS)
_CHANNEL_KEYS = {1: frozenset(f[0] for f in wire.CHANNEL_FIELDS),
                 2: frozenset(f[0] for f in wire.CHANNEL_FIELDS_V2)}
_isfinite = math.isfinite


def _num(x, low: float, high: float) -> bool:
    """A JSON number (not a boolean), finite, within [low, high]."""
    t = type(x)
    return (t is float and _isfinite(x) or t is int) and low <= x <= high


def plainly_valid(obj, now_s: float | None, meter_id: str) -> bool:
    """True for a reading the contract certainly accepts, from meter_id's topic, in a few
    operations per channel; False for anything else, which the contract then decides (and
    words). Never True where wire.validate_reading would refuse: the same checks, written
    for the common case (orjson's types: int, float, str, bool, list, dict, None), each at
    least as strict (tests/collector/test_decoding.py compares them on random mutations)."""
    if type(obj) is not dict or not _READING_KEYS.issuperset(obj):
        return False
    v, boot, seq, up_ms = obj.get("v"), obj.get("boot"), obj.get("seq"), obj.get("up_ms")
    if not (type(v) is int and (v == 1 or v == 2) and obj.get("meter") == meter_id
            and type(boot) is int and type(seq) is int and type(up_ms) is int
            and 0 <= boot <= wire.MAX_INT and 0 <= seq <= wire.MAX_INT
            and 0 <= up_ms <= wire.MAX_INT
            and _num(obj.get("interval_s"), 0.0, 86400.0) and obj["interval_s"] > 0):
        return False
    ts = obj.get("ts")
    if ts is not None and not _num(ts, wire.MIN_TS,
                                   math.inf if now_s is None else now_s + wire.MAX_FUTURE_S):
        return False
    chans = obj.get("ch")
    if type(chans) is not list or not 0 < len(chans) <= wire.MAX_CHANNELS:
        return False
    keys = _CHANNEL_KEYS[v]
    seen = 0  # bit i: channel i met
    for c in chans:
        if type(c) is not dict or not keys.issuperset(c):
            return False
        cid, apparent = c.get("id"), c.get("apparent")
        if not (type(cid) is int and 0 <= cid < wire.MAX_CHANNELS and not seen >> cid & 1
                and (apparent is True or apparent is False)
                and _num(c.get("energy_wh"), 0.0, wire.MAX_ENERGY_WH)
                and _num(c.get("power_w"), -wire.MAX_POWER_W, wire.MAX_POWER_W)
                and _num(c.get("irms_a"), 0.0, wire.MAX_IRMS_A)):
            return False
        seen |= 1 << cid
        vrms, pf, export = c.get("vrms_v"), c.get("pf"), c.get("export_wh")
        if (vrms is not None and not _num(vrms, 0.0, wire.MAX_VRMS_V)
                or pf is not None and not _num(pf, -1.0, 1.0)
                or export is not None and not _num(export, 0.0, wire.MAX_ENERGY_WH)):
            return False
    return True
