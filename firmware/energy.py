# Citizen Watt energy: per-channel cumulative counters integrated from power (trapezoid
# rule), and the small persistent state (counters, boot counter, crash strikes) kept on
# flash in two checksummed slots so that a power cut during a write loses nothing older.
#
# Counters are integers in milliwatt-hours plus a fractional carry: the ESP32 port computes
# in 32-bit floats, which would stop adding 0.3 Wh to 3,000,000 Wh; integers never do.

import json


def adler32(data, a=1, b=0):
    """Adler-32 of bytes (same value as CPython's zlib.adler32)."""
    for x in data:
        a += x
        if a >= 65521:
            a -= 65521
        b += a
        if b >= 65521:
            b -= 65521
    return (b << 16) | a


class Integrator:
    """Cumulative energy per channel, in mWh, from signed power samples at known times.

    Two counters per channel, both integers that never decrease: mwh (imported, power > 0)
    and export_mwh (exported, power < 0). A channel is bidirectional (the mains clamp of a
    solar household) or consumption-only (the default): there a negative power is a clamp
    on backwards or noise, not energy, and counts as 0 in both counters.
    """

    def __init__(self, channels, mwh=None, export_mwh=None, bidirectional=None):
        self.mwh = list(mwh) if mwh else [0] * channels
        self.export_mwh = list(export_mwh) if export_mwh else [0] * channels
        self.bidirectional = list(bidirectional) if bidirectional else [False] * channels
        self._carry = [0.0] * channels
        self._xcarry = [0.0] * channels
        self._last_p = None
        self._last_ms = 0

    def add(self, powers_w, t_ms):
        """Integrate from the previous sample to this one (t_ms: a monotonic uptime in ms).

        The first sample starts the integration. Between two samples the power is taken as
        a straight line (trapezoid rule); when it changes sign, the part above zero goes to
        the import counter and the part below to the export counter, split where the line
        crosses zero, so import - export is the trapezoid of the signed power.
        """
        if self._last_p is None:
            self._last_p = [self._signed(c, powers_w[c]) for c in range(len(self.mwh))]
            self._last_ms = t_ms
            return
        dt_ms = t_ms - self._last_ms
        if dt_ms <= 0:
            return
        last = self._last_p
        for c in range(len(self.mwh)):
            p = self._signed(c, powers_w[c])
            p0 = last[c]
            # W x ms / 3600 = mWh; areas of the straight line above and below zero.
            if p0 >= 0 and p >= 0:
                imp = (p0 + p) * 0.5 * dt_ms / 3600.0
                exp = 0.0
            elif p0 <= 0 and p <= 0:
                imp = 0.0
                exp = -(p0 + p) * 0.5 * dt_ms / 3600.0
            else:
                hi = p0 if p0 > 0 else p
                lo = p if p0 > 0 else p0
                imp = hi * hi / (hi - lo) * 0.5 * dt_ms / 3600.0
                exp = lo * lo / (hi - lo) * 0.5 * dt_ms / 3600.0
            if imp > 0:
                inc = imp + self._carry[c]
                whole = int(inc)
                self.mwh[c] += whole
                self._carry[c] = inc - whole
            if exp > 0:
                inc = exp + self._xcarry[c]
                whole = int(inc)
                self.export_mwh[c] += whole
                self._xcarry[c] = inc - whole
            last[c] = p
        self._last_ms = t_ms

    def _signed(self, c, p):
        """The power that counts: negative only on a bidirectional channel."""
        if p < 0 and not self.bidirectional[c]:
            return 0.0
        return p

    def raise_to(self, mwh, export_mwh=None):
        """Never go below mwh and export_mwh (newer floors found on flash at boot)."""
        for c in range(len(self.mwh)):
            if c < len(mwh) and mwh[c] > self.mwh[c]:
                self.mwh[c] = mwh[c]
            if export_mwh and c < len(export_mwh) and export_mwh[c] > self.export_mwh[c]:
                self.export_mwh[c] = export_mwh[c]


class StateStore:
    """A small dict persisted in two slots (A/B), each "CW1 <json> <adler32 hex>\\n".

    write() always overwrites the slot that does not hold the newest valid copy, so a
    power cut at any byte of a write leaves that copy intact; load() takes the valid slot
    with the highest generation. Flash wear: one small file write per call.
    """

    MAGIC = b"CW1 "

    def __init__(self, path_a, path_b, opener=open):
        self.paths = (path_a, path_b)
        self._open = opener
        self.gen = 0
        self._slot = 1  # slot holding the newest valid copy; next write goes to the other

    def _read(self, path):
        try:
            with self._open(path, "rb") as f:
                raw = f.read()
        except OSError:
            return None
        if not raw.startswith(self.MAGIC) or not raw.endswith(b"\n") or len(raw) < 15:
            return None
        body = raw[4:-10]
        try:
            if int(raw[-9:-1], 16) != adler32(body):
                return None
            obj = json.loads(body)
        except ValueError:
            return None
        if not isinstance(obj, dict) or not isinstance(obj.get("gen"), int):
            return None
        return obj

    def load(self):
        """The newest valid state dict, or None on a fresh flash."""
        best = None
        for i in range(2):
            obj = self._read(self.paths[i])
            if obj is not None and (best is None or obj["gen"] > best["gen"]):
                best = obj
                self._slot = i
        if best is not None:
            self.gen = best["gen"]
        return best

    def write(self, state):
        self.gen += 1
        state["gen"] = self.gen
        body = json.dumps(state).encode()
        data = self.MAGIC + body + (" %08x\n" % adler32(body)).encode()
        slot = 1 - self._slot
        with self._open(self.paths[slot], "wb") as f:
            f.write(data)
        self._slot = slot
        return len(data)


class CheckpointPolicy:
    """When to write the counters to flash: rarely, and bounded in loss.

    Write when a channel gained at least step_mwh since the last checkpoint and min_gap_ms
    passed, or max_gap_ms passed with any gain; always on a clean stop (the caller).
    Defaults: 20 Wh / 120 s / 1 h. Worst-case loss on a power cut: max(20 Wh, power x
    120 s) per channel; writes per day: at most 720, one per hour with no consumption.
    """

    def __init__(self, step_mwh=20000, min_gap_ms=120000, max_gap_ms=3600000):
        self.step_mwh = step_mwh
        self.min_gap_ms = min_gap_ms
        self.max_gap_ms = max_gap_ms
        self.saved_mwh = None
        self.saved_ms = 0

    def saved(self, mwh, t_ms):
        self.saved_mwh = list(mwh)
        self.saved_ms = t_ms

    def due(self, mwh, t_ms):
        if self.saved_mwh is None:
            return True
        gap = t_ms - self.saved_ms
        gain = 0
        for c in range(len(mwh)):
            d = mwh[c] - (self.saved_mwh[c] if c < len(self.saved_mwh) else 0)
            if d > gain:
                gain = d
        if gain <= 0:
            return False
        return (gain >= self.step_mwh and gap >= self.min_gap_ms) or gap >= self.max_gap_ms
