"""The collector's defences of the store: per-meter quotas, the plausibility of each
reading's (boot, seq) and the rate-limited reporting of rejections (docs/collector.md,
"Defending the store").

Everything here runs in the writer thread, on the messages of one batch, with times taken
from the messages (the collector's clock): no I/O but one store.latest() per meter the first
time it is seen, and no clock of its own, so tests pin time through the messages.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from citizenwatt.i18n import _
from citizenwatt.store.port import ChannelReading
from citizenwatt.store.rules import key_is_plausible

log = logging.getLogger("citizenwatt.collector")

# Reasons the collector adds to the wire contract's.
SUSPECT_KEY = "suspect_key"
OVER_QUOTA = "over_quota"
# Meters tracked at once: beyond it the tables start afresh (junk on made-up meter ids
# cannot grow memory; a forgotten meter's key is read again from the store).
MAX_METERS = 100_000
# A suspect chain is trusted (promoted) once it holds this many consecutive readings,
# received over at least CONFIRM_S, with no trusted reading of the meter in between.
CONFIRM_READINGS = 3
CONFIRM_S = 60.0
# Suspect readings held per meter while they wait for confirmation (also dead letters).
HELD_PER_METER = 16


def meter_of(topic: str) -> str:
    """The meter part of a topic (cw/<meter>/...), whatever it holds, for quotas."""
    parts = topic.split("/", 2)
    return parts[1][:64] if len(parts) > 1 else ""


class Quota:
    """Per-meter token buckets: `burst` messages at once, refilled at per_minute."""

    def __init__(self, burst: int, per_minute: int):
        self.burst, self.rate_per_s = float(burst), per_minute / 60.0
        self._buckets: dict[str, list[float]] = {}

    def admit(self, meter: str, now_s: float) -> bool:
        b = self._buckets.get(meter)
        if b is None:
            if len(self._buckets) >= MAX_METERS:
                self._buckets.clear()
            b = self._buckets[meter] = [self.burst, now_s]
        tokens = min(self.burst, b[0] + max(0.0, now_s - b[1]) * self.rate_per_s)
        b[1] = max(b[1], now_s)
        if tokens < 1.0:
            b[0] = tokens
            return False
        b[0] = tokens - 1.0
        return True


@dataclass
class _Held:
    """A meter's suspect readings waiting for confirmation: key -> (rows, received_s)."""

    readings: dict[tuple[int, int], tuple[list[ChannelReading], float]] = field(
        default_factory=dict)


class KeyGuard:
    """The newest trusted (boot, seq) of each meter and the suspect readings held for it.

    verdict() says whether a reading's key is trusted (store it) or suspect (keep it as a
    dead letter, do not store it as a reading). A suspect chain that the meter confirms
    (CONFIRM_READINGS consecutive keys over CONFIRM_S, while no trusted reading comes)
    is promoted: its readings are returned to be stored and its key becomes the trusted
    one, so that a meter whose counter really jumped is followed again.
    """

    def __init__(self, known_key: Callable[[str], tuple[tuple[int, int], float] | None]):
        # known_key(meter): the stored newest (boot, seq) and its time, or None
        self.known_key = known_key
        self._known: dict[str, tuple[tuple[int, int], float] | None] = {}
        self._held: dict[str, _Held] = {}

    def verdict(self, meter: str, key: tuple[int, int], rows: list[ChannelReading],
                now_s: float) -> tuple[bool, list[ChannelReading]]:
        """(trusted, rows to store now): rows themselves when trusted; when suspect,
        nothing, or the whole chain's rows once it is confirmed."""
        if meter not in self._known:
            if len(self._known) >= MAX_METERS:
                self._known.clear()
                self._held.clear()
            self._known[meter] = self.known_key(meter)
        known = self._known[meter]
        if known is None or key_is_plausible(known[0], key, now_s - known[1]):
            if known is None or key > known[0]:
                self._known[meter] = (key, now_s)
            self._held.pop(meter, None)  # the meter goes on: what was held stays suspect
            return True, rows
        held = self._held.setdefault(meter, _Held())
        if len(held.readings) >= HELD_PER_METER:
            del held.readings[next(iter(held.readings))]
        held.readings[key] = (rows, now_s)
        chain = [key]
        while (chain[-1][0], chain[-1][1] - 1) in held.readings:
            chain.append((chain[-1][0], chain[-1][1] - 1))
        first_s = min(held.readings[k][1] for k in chain)
        if len(chain) < CONFIRM_READINGS or now_s - first_s < CONFIRM_S:
            return False, []
        out: list[ChannelReading] = []
        for k in reversed(chain):
            out.extend(held.readings.pop(k)[0])
        self._known[meter] = (key, now_s)
        log.warning(_("meter {meter}: its keys jumped to boot {boot} seq {seq} and it went on "
                      "from there for {seconds} s; that key is now trusted",
                      meter=meter, boot=key[0], seq=key[1], seconds=round(now_s - first_s)))
        return False, out


class RejectLog:
    """Rejections reported without costing more than the readings they stand beside: one
    log line per reason per interval (the first at once, then a count), and at most
    `kept_per_minute` dead letters per meter and reason per minute (the rest counted)."""

    ALWAYS_KEPT = frozenset({"key_conflict", SUSPECT_KEY})  # they hold readings

    def __init__(self, interval_s: float, kept_per_minute: int):
        self.interval_s, self.kept_per_minute = interval_s, kept_per_minute
        self._window_start: float | None = None
        self._logged: set[str] = set()
        self._quiet: Counter = Counter()  # counted, not yet logged, this interval
        self._last: dict[str, tuple[str, str]] = {}  # reason -> (topic, detail)
        self._kept_minute: float | None = None
        self._kept: Counter = Counter()
        self.unkept: Counter = Counter()  # dead letters counted but not stored, by reason

    def reject(self, reason: str, topic: str, detail: str, now_s: float) -> bool:
        """Report one rejection; True if its dead letter is to be stored."""
        self.flush(now_s)
        topic, detail = topic[:100], detail[:200]  # a log line stays a line
        if reason in self._logged:
            self._quiet[reason] += 1
            self._last[reason] = (topic, detail)
        else:
            self._logged.add(reason)
            log.warning(_("message rejected ({reason}) on {topic!r}: {detail}", reason=reason,
                          topic=topic, detail=detail))
        if reason in self.ALWAYS_KEPT:
            return True
        minute = now_s // 60
        if minute != self._kept_minute:
            self._kept_minute = minute
            self._kept.clear()
        k = (meter_of(topic), reason)
        if self._kept[k] >= self.kept_per_minute:
            self.unkept[reason] += 1
            return False
        self._kept[k] += 1
        return True

    def flush(self, now_s: float, force: bool = False) -> None:
        """At the end of an interval, one line per reason that was rejected quietly."""
        if self._window_start is None:
            self._window_start = now_s
        if not force and now_s - self._window_start < self.interval_s:
            return
        for reason, n in sorted(self._quiet.items()):
            topic, detail = self._last[reason]
            log.warning(_("{count} more messages rejected ({reason}) in {seconds} s, the last "
                          "on {topic!r}: {detail}", count=n, reason=reason,
                          seconds=round(now_s - self._window_start), topic=topic,
                          detail=detail))
        self._quiet.clear()
        self._last.clear()
        self._logged.clear()
        self._window_start = now_s
