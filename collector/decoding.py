"""Decoding a reading for the collector: the wire contract's decoder, with the JSON parsed by
orjson (about twice as fast as the json module) when the payload is a valid reading.

Every rejection is decided by the contract itself (firmware/wire.py): whenever the fast path
does not end with a valid reading, the payload goes through wire.decode_reading, so the
reasons (NaN literals: not_finite, which orjson refuses as not JSON; integers beyond 64 bits,
which orjson turns into floats) and their details are the contract's, message for message.
"""

from __future__ import annotations

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
            if kind == "reading" and wire.validate_reading(obj, now_s)["meter"] == meter_id:
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
