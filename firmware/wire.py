# Citizen Watt wire contract, version 2: the MQTT topics and the JSON reading payload.
# This one module is the contract: the meter encodes with it (MicroPython) and the
# collector decodes and validates with it (CPython). Keep it flat and MicroPython-safe:
# no f-strings with nested quotes, no typing, no dataclasses. See docs/protocol.md.

import json
import math

VERSION = 2
# Versions the decoder reads: 1 (imported energy only) and 2 (export_wh added per channel).
VERSIONS = (1, 2)
# Statuses keep version 1: their fields did not change.
STATUS_VERSION = 1
TOPIC_ROOT = "cw"
MAX_PAYLOAD_BYTES = 2048
MAX_CHANNELS = 6
MAX_METER_ID = 32
# Integer fields (boot, seq, up_ms, channel id) stay exact as JSON numbers and in any store.
MAX_INT = 9007199254740991  # 2**53 - 1
# Plausibility bounds, far beyond any household, so that one wrong value cannot poison a
# day of stored energy: 1 MW, 10 kA, 10 kV, and a counter that stays exact in mWh.
MAX_POWER_W = 1000000
MAX_IRMS_A = 10000
MAX_VRMS_V = 10000
MAX_ENERGY_WH = MAX_INT / 1000
# A meter's clock may run a little ahead of the collector's; beyond this it is wrong.
MAX_FUTURE_S = 300
# 2020-01-01T00:00:00Z: anything earlier is an unsynced clock, not a real date.
MIN_TS = 1577836800

STATUS_OFFLINE = "offline"
STATUS_ONLINE = "online"

# Rejection reasons: stable identifiers used in logs, metrics and the dead-letter store.
NOT_JSON = "not_json"
NOT_OBJECT = "not_object"
BAD_TYPE = "bad_type"
MISSING_FIELD = "missing_field"
NOT_FINITE = "not_finite"
NEGATIVE_ENERGY = "negative_energy"
FUTURE_TS = "future_ts"
OLD_TS = "old_ts"
UNKNOWN_VERSION = "unknown_version"
TOO_LARGE = "too_large"
TOPIC_MISMATCH = "topic_mismatch"
BAD_TOPIC = "bad_topic"
BAD_VALUE = "bad_value"
REASONS = (NOT_JSON, NOT_OBJECT, BAD_TYPE, MISSING_FIELD, NOT_FINITE, NEGATIVE_ENERGY,
           FUTURE_TS, OLD_TS, UNKNOWN_VERSION, TOO_LARGE, TOPIC_MISMATCH, BAD_TOPIC,
           BAD_VALUE)


class WireError(ValueError):
    """A payload or topic that breaks the contract; .reason is one of REASONS."""

    def __init__(self, reason, detail):
        super().__init__(reason + ": " + detail)
        self.reason = reason
        self.detail = detail


# Field tables: (name, kind, required). Kinds: "int", "num", "str", "bool", "list".
READING_FIELDS = (
    ("v", "int", True),          # contract version
    ("meter", "str", True),      # meter id, same as in the topic
    ("boot", "int", True),       # boot counter, persisted on the meter, +1 per start
    ("seq", "int", True),        # sequence number within this boot, from 0
    ("ts", "num", False),        # end of interval, UTC seconds since 1970; absent if unsynced
    ("up_ms", "int", True),      # meter uptime at the end of the interval, ms
    ("interval_s", "num", True), # length of the interval the means cover, s
    ("ch", "list", True),        # channels
)
CHANNEL_FIELDS = (
    ("id", "int", True),         # channel number on the board, 0..MAX_CHANNELS-1
    ("energy_wh", "num", True),  # cumulative energy, never decreasing
    ("power_w", "num", True),    # mean power over the interval (real or apparent)
    ("irms_a", "num", True),     # RMS current
    ("apparent", "bool", True),  # true: no voltage sensor, power = Irms x nominal V
    ("vrms_v", "num", False),    # RMS voltage, only with a voltage sensor
    ("pf", "num", False),        # power factor, only with a voltage sensor
)
# Version 2: a bidirectional channel (the mains clamp of a household with solar panels)
# also carries its exported energy counter, and its power_w is the mean net power (import
# - export), negative while the household exports. A consumption-only channel leaves
# export_wh out and reads as in version 1.
CHANNEL_FIELDS_V2 = CHANNEL_FIELDS + (
    ("export_wh", "num", False),  # cumulative energy sent to the grid, never decreasing
)


def _valid_meter_id(meter_id):
    if not isinstance(meter_id, str) or not 0 < len(meter_id) <= MAX_METER_ID:
        return False
    for c in meter_id:
        if not ("a" <= c <= "z" or "0" <= c <= "9" or c == "-" or c == "_"):
            return False
    return True


def check_meter_id(meter_id):
    if not _valid_meter_id(meter_id):
        raise WireError(BAD_VALUE, "meter id %r must be 1-%d characters among a-z 0-9 - _"
                        % (meter_id, MAX_METER_ID))
    return meter_id


def reading_topic(meter_id):
    return TOPIC_ROOT + "/" + check_meter_id(meter_id) + "/reading"


def status_topic(meter_id):
    return TOPIC_ROOT + "/" + check_meter_id(meter_id) + "/status"


# Subscriptions used by the collector.
READING_FILTER = TOPIC_ROOT + "/+/reading"
STATUS_FILTER = TOPIC_ROOT + "/+/status"


def parse_topic(topic):
    """Return (meter_id, kind) for a contract topic, kind being "reading" or "status"."""
    parts = topic.split("/")
    if len(parts) != 3 or parts[0] != TOPIC_ROOT or parts[2] not in ("reading", "status"):
        raise WireError(BAD_TOPIC, "topic %r is not %s/<meter>/reading or /status"
                        % (topic, TOPIC_ROOT))
    if not _valid_meter_id(parts[1]):
        raise WireError(BAD_TOPIC, "topic %r has an invalid meter id" % topic)
    return parts[1], parts[2]


def _check_fields(obj, fields, where):
    present = 0  # fields of the table that obj holds with a value
    for name, kind, required in fields:
        if name not in obj or obj[name] is None:
            if required:
                raise WireError(MISSING_FIELD, where + name + " is missing")
            continue
        present += 1
        value = obj[name]
        # bool is an int in CPython: check it first and keep the two apart.
        is_bool = value is True or value is False
        if kind == "bool":
            ok = is_bool
        elif kind == "int":
            ok = isinstance(value, int) and not is_bool
        elif kind == "num":
            ok = isinstance(value, (int, float)) and not is_bool
        elif kind == "str":
            ok = isinstance(value, str)
        else:
            ok = isinstance(value, list)
        if not ok:
            raise WireError(BAD_TYPE, "%s%s must be %s, got %r" % (where, name, kind, value))
        if kind == "int" and value > MAX_INT:
            raise WireError(BAD_VALUE, "%s%s %r is above 2^53 - 1" % (where, name, value))
        if kind == "num":
            try:
                finite = math.isfinite(value)
            except OverflowError:  # an integer too large for a float
                finite = False
            if not finite:
                raise WireError(NOT_FINITE, "%s%s is %r" % (where, name, value))
    # Each counted field is one key of obj, so no key is unknown unless obj has more keys
    # than that; only then (an unknown key, or a null optional one) look at every key.
    if len(obj) > present:
        _check_known(obj, fields, where)


def _check_known(obj, fields, where):
    for name in obj:
        known = False
        for f in fields:
            if f[0] == name:
                known = True
                break
        if not known:
            raise WireError(BAD_VALUE, "%sunknown field %r" % (where, name))


def validate_reading(obj, now_s=None):
    """Check a decoded reading dict against the contract; return it unchanged.

    now_s is the receiver's UTC clock (seconds), used to reject timestamps far in the
    future; pass None to skip that check (the meter itself does not know the truth).
    """
    return _validate(obj, now_s, None)


def _validate(obj, now_s, channel_fields):
    """channel_fields: the channel table to check against; None: the one of obj's version."""
    if not isinstance(obj, dict):
        raise WireError(NOT_OBJECT, "payload must be a JSON object")
    if "v" not in obj:
        raise WireError(MISSING_FIELD, "v is missing")
    if obj["v"] is True or obj["v"] is False or obj["v"] not in VERSIONS:
        raise WireError(UNKNOWN_VERSION, "version %r, this collector reads 1 and 2"
                        % (obj["v"],))
    if channel_fields is None:
        channel_fields = CHANNEL_FIELDS if obj["v"] == 1 else CHANNEL_FIELDS_V2
    _check_fields(obj, READING_FIELDS, "")
    check_meter_id(obj["meter"])
    if obj["boot"] < 0 or obj["seq"] < 0 or obj["up_ms"] < 0:
        raise WireError(BAD_VALUE, "boot, seq and up_ms must be >= 0")
    if not 0 < obj["interval_s"] <= 86400:
        raise WireError(BAD_VALUE, "interval_s %r must be in ]0, 86400]" % obj["interval_s"])
    ts = obj.get("ts")
    if ts is not None:
        if ts < MIN_TS:
            raise WireError(OLD_TS, "ts %r is before 2020: send no ts while unsynced" % ts)
        if now_s is not None and ts > now_s + MAX_FUTURE_S:
            raise WireError(FUTURE_TS, "ts %r is %d s ahead of the receiver's clock"
                            % (ts, ts - now_s))
    chans = obj["ch"]
    if not 0 < len(chans) <= MAX_CHANNELS:
        raise WireError(BAD_VALUE, "ch must hold 1 to %d channels" % MAX_CHANNELS)
    seen = []  # type: list
    for i in range(len(chans)):
        _check_channel(chans[i], channel_fields, "ch[%d]." % i, seen)
    return obj


def _check_channel(c, fields, where, seen):
    """Check one entry of ch; seen holds the ids of the entries before it and gets this one."""
    if not isinstance(c, dict):
        raise WireError(BAD_TYPE, where[:-1] + " must be an object")
    _check_fields(c, fields, where)
    if not 0 <= c["id"] < MAX_CHANNELS or c["id"] in seen:
        raise WireError(BAD_VALUE, where + "id %r is out of range or repeated" % c["id"])
    seen.append(c["id"])
    for name in ("energy_wh", "export_wh"):
        e = c.get(name)
        if e is None:
            continue  # export_wh: version 1
        if e < 0 or c.get(ENERGY_MWH, 0) < 0 or c.get(EXPORT_MWH, 0) < 0:
            raise WireError(NEGATIVE_ENERGY, where + "%s is %r" % (name, e))
        if e > MAX_ENERGY_WH:
            raise WireError(BAD_VALUE, where + "%s %r is beyond any meter" % (name, e))
    if not 0 <= c["irms_a"] <= MAX_IRMS_A:
        raise WireError(BAD_VALUE, where + "irms_a %r is outside [0, %d]" % (c["irms_a"], MAX_IRMS_A))
    if not -MAX_POWER_W <= c["power_w"] <= MAX_POWER_W:
        raise WireError(BAD_VALUE, where + "power_w %r is beyond +/-%d" % (c["power_w"], MAX_POWER_W))
    v = c.get("vrms_v")
    if v is not None and not 0 <= v <= MAX_VRMS_V:
        raise WireError(BAD_VALUE, where + "vrms_v %r is outside [0, %d]" % (v, MAX_VRMS_V))
    pf = c.get("pf")
    if pf is not None and not -1.0 <= pf <= 1.0:
        raise WireError(BAD_VALUE, where + "pf %r is outside [-1, 1]" % pf)


def channel(ch_id, energy_wh, power_w, irms_a, vrms_v=None, pf=None, energy_mwh=None,
            export_wh=None, export_mwh=None):
    """Build one channel entry; apparent is set when no voltage was measured.

    export_wh or export_mwh (a bidirectional channel) adds the export counter.
    energy_mwh, export_mwh: the meter's integer counters (pass energy_wh=None). The entry
    then keeps them under ENERGY_MWH and EXPORT_MWH and encode_reading() writes energy_wh
    and export_wh from them exactly ("%d.%03d"): a float, 32-bit on the ESP32, would step
    by 1 Wh and more past 10,000 kWh.
    """
    if energy_mwh is not None:
        energy_wh = energy_mwh / 1000
    if export_mwh is not None:
        export_wh = export_mwh / 1000
    c = {"id": ch_id, "energy_wh": round(energy_wh, 3), "power_w": round(power_w, 2),
         "irms_a": round(irms_a, 3), "apparent": vrms_v is None}
    if export_wh is not None:
        c["export_wh"] = round(export_wh, 3)
    if energy_mwh is not None:
        c[ENERGY_MWH] = energy_mwh
    if export_mwh is not None:
        c[EXPORT_MWH] = export_mwh
    if vrms_v is not None:
        c["vrms_v"] = round(vrms_v, 2)
        if pf is not None:
            c["pf"] = round(pf, 4)
    return c


# The exact counters a channel entry may carry to the encoder; never on the wire (the
# decoder refuses them as unknown fields).
ENERGY_MWH = "energy_mwh"
EXPORT_MWH = "export_mwh"
_ENCODE_CHANNEL_FIELDS = CHANNEL_FIELDS_V2 + ((ENERGY_MWH, "int", False),
                                              (EXPORT_MWH, "int", False))
# The integer counter behind each energy field.
_EXACT = {"energy_wh": ENERGY_MWH, "export_wh": EXPORT_MWH}


# Decimals written for float fields: those channel() rounds to. Fixed decimals give the
# same text on CPython, the VM and the ESP32 (no "9.999000000000001" from a repr).
_FLOAT_FORMAT = {"energy_wh": "%.3f", "export_wh": "%.3f", "power_w": "%.2f", "irms_a": "%.3f",
                 "vrms_v": "%.2f", "pf": "%.4f", "ts": "%.3f", "interval_s": "%.3f"}


def _num(x, name):
    """JSON text of a validated field: bool, int, float or a plain ASCII string."""
    if x is True:
        return "true"
    if x is False:
        return "false"
    if isinstance(x, int):
        return "%d" % x
    if isinstance(x, float):
        return _FLOAT_FORMAT[name] % x
    return '"' + x + '"'  # meter ids: a-z 0-9 - _ only (checked), nothing to escape


def encode_reading(meter_id, boot, seq, up_ms, interval_s, channels, ts=None):
    """Return the payload bytes for one reading; raises WireError if it breaks the contract.

    The JSON text is written here rather than by json.dumps so that a channel's integer
    mWh counters go out exactly as energy_wh and export_wh with 3 decimals.
    """
    obj = {"v": VERSION, "meter": meter_id, "boot": boot, "seq": seq, "up_ms": up_ms,
           "interval_s": interval_s, "ch": channels}
    if ts is not None:
        obj["ts"] = round(ts, 3)
    _validate(obj, None, _ENCODE_CHANNEL_FIELDS)
    parts = ['{"v": %d, "meter": ' % VERSION, _num(meter_id, "meter"),
             ', "boot": %d, "seq": %d' % (boot, seq)]
    if ts is not None:
        parts.append(', "ts": ' + _num(obj["ts"], "ts"))
    parts.append(', "up_ms": %d, "interval_s": ' % up_ms + _num(interval_s, "interval_s")
                 + ', "ch": [')
    for k in range(len(channels)):
        c = channels[k]
        parts.append(', {' if k else '{')
        first = True
        for f in CHANNEL_FIELDS_V2:
            name = f[0]
            if name not in c or c[name] is None:
                continue
            value = c[name]
            exact = _EXACT.get(name)
            if exact is not None and c.get(exact) is not None:
                mwh = c[exact]
                text = "%d.%03d" % (mwh // 1000, mwh % 1000)
            else:
                text = _num(value, name)
            parts.append(('"' if first else ', "') + name + '": ' + text)
            first = False
        parts.append('}')
    parts.append(']}')
    data = "".join(parts).encode()
    if len(data) > MAX_PAYLOAD_BYTES:
        raise WireError(TOO_LARGE, "%d bytes > %d" % (len(data), MAX_PAYLOAD_BYTES))
    return data


def decode_reading(topic, payload, now_s=None):
    """Decode and validate a reading received on topic; return the dict or raise WireError."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise WireError(TOO_LARGE, "%d bytes > %d" % (len(payload), MAX_PAYLOAD_BYTES))
    meter_id, kind = parse_topic(topic)
    if kind != "reading":
        raise WireError(BAD_TOPIC, "topic %r is not a reading topic" % topic)
    try:
        if isinstance(payload, (bytes, bytearray)):
            payload = payload.decode()
        obj = json.loads(payload)
    except Exception as e:  # UnicodeError or ValueError, named differently on MicroPython
        # from None: the detail already quotes e, and MicroPython warns on `from e`.
        raise WireError(NOT_JSON, "payload is not UTF-8 JSON (%s)" % e) from None
    validate_reading(obj, now_s)
    if obj["meter"] != meter_id:
        raise WireError(TOPIC_MISMATCH, "payload meter %r published on %r"
                        % (obj["meter"], topic))
    return obj


def encode_status(meter_id, state, fields=None):
    """Retained status payload: {"v", "meter", "state", ...fields}; state online/offline."""
    obj = {"v": STATUS_VERSION, "meter": check_meter_id(meter_id), "state": state}
    if fields:
        for k in fields:
            obj[k] = fields[k]
    return json.dumps(obj).encode()


# Status fields the meter sends (firmware/meter.py, status_payload) and their kinds. Any
# other key is kept only if its value is a short scalar: a status is shown to people and
# stored as it comes, so it is bounded like a reading (size, depth, keys, types).
STATUS_FIELDS = {"v": "int", "meter": "str", "state": "str", "fw": "str", "boot": "int",
                 "uptime_s": "num", "rssi": "num", "mem_free": "int", "queued": "int",
                 "dropped": "int", "synced": "bool", "faults": "channels", "labels": "channels",
                 # updates over Wi-Fi (firmware/update.py): state, version concerned, refusal
                 "update": "str", "update_to": "str", "update_error": "str"}
MAX_STATUS_FIELDS = 24
MAX_STATUS_TEXT = 64


def _scalar_problem(value, kind):
    is_bool = value is True or value is False
    if value is None:
        return None
    if kind == "bool":
        return None if is_bool else "must be true or false"
    if kind == "str":
        if not isinstance(value, str):
            return "must be text"
        return None if len(value) <= MAX_STATUS_TEXT else "is longer than %d" % MAX_STATUS_TEXT
    if kind in ("int", "num"):
        if is_bool or not isinstance(value, (int, float)) or (
                kind == "int" and not isinstance(value, int)):
            return "must be a number"
        try:
            ok = math.isfinite(value) and abs(value) <= MAX_INT
        except OverflowError:
            ok = False
        return None if ok else "is out of range"
    # an unknown field: any short scalar
    if is_bool or (isinstance(value, (int, float)) and _scalar_problem(value, "num") is None):
        return None
    if isinstance(value, str):
        return _scalar_problem(value, "str")
    return "must be a number, text, true/false or null (no list or object)"


def _status_problem(name, value):
    """Why the status field name: value breaks the contract, or None."""
    if len(name) > MAX_STATUS_TEXT:
        return "a field name is longer than %d" % MAX_STATUS_TEXT
    kind = STATUS_FIELDS.get(name, "any")
    if kind != "channels":  # faults and labels: channel id -> short text
        return _scalar_problem(value, kind)
    if not isinstance(value, dict) or len(value) > MAX_CHANNELS:
        return "must be an object of at most %d channels" % MAX_CHANNELS
    for k in value:
        if len(k) > 4 or _scalar_problem(value[k], "str") is not None or value[k] is None:
            return "must map channel ids to short texts"
    return None


def clean_status(obj):
    """The contract's part of a status dict: the fields that break it are left out (the
    reader's defence, for statuses stored before they were checked); None if not a dict."""
    if not isinstance(obj, dict):
        return None
    out = {}  # type: dict
    for name in obj:
        if len(out) < MAX_STATUS_FIELDS and isinstance(name, str) \
                and _status_problem(name, obj[name]) is None:
            out[name] = obj[name]
    return out


def decode_status(topic, payload):
    meter_id, kind = parse_topic(topic)
    if kind != "status":
        raise WireError(BAD_TOPIC, "topic %r is not a status topic" % topic)
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise WireError(TOO_LARGE, "%d bytes > %d" % (len(payload), MAX_PAYLOAD_BYTES))
    try:
        obj = json.loads(payload.decode() if isinstance(payload, (bytes, bytearray)) else payload)
    except Exception as e:  # RecursionError included: nesting deeper than the parser's stack
        raise WireError(NOT_JSON, "status is not UTF-8 JSON (%s)" % e) from None
    if not isinstance(obj, dict):
        raise WireError(NOT_OBJECT, "status must be a JSON object")
    if obj.get("state") not in (STATUS_ONLINE, STATUS_OFFLINE):
        raise WireError(BAD_VALUE, "status needs state online or offline")
    if obj.get("meter") != meter_id:
        raise WireError(TOPIC_MISMATCH, "status meter %r published on %r"
                        % (obj.get("meter"), topic))
    if len(obj) > MAX_STATUS_FIELDS:
        raise WireError(BAD_VALUE, "status has %d fields > %d" % (len(obj), MAX_STATUS_FIELDS))
    for name in obj:
        problem = _status_problem(name, obj[name])
        if problem is not None:
            raise WireError(BAD_VALUE, "status field %r %s" % (name[:MAX_STATUS_TEXT], problem))
    return obj


# -- Counters read back at boot, and commands (docs/firmware.md, "Counters that never step
# back" and "Updates over Wi-Fi"). Neither goes to the collector.
COMMAND_ROOT = "cwcmd"


def counters_topic(meter_id):
    """Retained: the meter's latest counters, written by the meter before the readings that
    carry them and read back by it at connect, so a restored checkpoint never steps back."""
    return TOPIC_ROOT + "/" + check_meter_id(meter_id) + "/counters"


def command_topic(meter_id, command):
    """Written by the server (staff) only: under its own root, which no meter may write."""
    return COMMAND_ROOT + "/" + check_meter_id(meter_id) + "/" + command


def encode_counters(meter_id, boot, mwh_by_id):
    """{"v", "meter", "boot", "mwh": {channel id: integer mWh}}, written exactly."""
    parts = ['{"v": %d, "meter": "%s", "boot": %d, "mwh": {' % (VERSION, check_meter_id(meter_id),
                                                               boot)]
    first = True
    for cid in mwh_by_id:
        parts.append(('"' if first else ', "') + "%d" % cid + '": %d' % mwh_by_id[cid])
        first = False
    parts.append("}}")
    return "".join(parts).encode()


def decode_counters(meter_id, payload):
    """(boot, {channel id: mWh}) from a counters payload of this meter, or None if it is
    not one."""
    try:
        obj = json.loads(payload)
    except Exception:  # UnicodeError or ValueError, named differently on MicroPython
        return None
    if not isinstance(obj, dict) or obj.get("meter") != meter_id or not isinstance(
            obj.get("mwh"), dict):
        return None
    boot = obj.get("boot")
    if not isinstance(boot, int) or isinstance(boot, bool) or not 0 <= boot <= MAX_INT:
        return None
    out = {}
    for k in obj["mwh"]:
        v = obj["mwh"][k]
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= MAX_INT:
            return None
        try:
            out[int(k)] = v
        except ValueError:
            return None
    return boot, out
