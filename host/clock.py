"""A simulated clock for the host meter: time only moves when the firmware sleeps or samples.

Simulated time is therefore deterministic (same seed, same readings) whatever the host's
load; `speed` only throttles it against the wall clock (simulated seconds per real second;
inf = as fast as possible). Sleeps wake early when the meter is asked to stop.
"""

from __future__ import annotations

import threading
import time


class SimClock:
    def __init__(self, speed: float = 1.0, start_utc: float | None = None):
        if speed <= 0:
            raise ValueError("speed must be > 0 (simulated seconds per real second)")
        self.speed = speed
        self.start_utc = time.time() if start_utc is None else float(start_utc)
        self.now_us = 0  # simulated uptime, microseconds
        self._real0 = time.monotonic()
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self.held = threading.Event()  # set while the meter waits in a paused sleep
        self._present_margin_s: float | None = None  # see keep_behind_present()
        self._stop_at_present = False

    # MicroPython's time API, on simulated time (no wrap-around: the firmware handles it).
    def ticks_us(self) -> int:
        return self.now_us

    def ticks_ms(self) -> int:
        return self.now_us // 1000

    @staticmethod
    def ticks_diff(a: int, b: int) -> int:
        return a - b

    def advance_us(self, us: int) -> None:
        self.now_us += int(us)

    def wait_until_us(self, t_us: int) -> None:
        if t_us > self.now_us:
            self.now_us = t_us

    def pause(self) -> None:
        """Hold the meter at its next sleep (tests: freeze it between two readings)."""
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def keep_behind_present(self, margin_s: float, *, stop: bool) -> None:
        """Never let simulated time pass the real present minus margin_s (the collector
        refuses readings from the future). There, either stop the meter (a replay of the
        past that must end before the present) or wait for real time (a fast clock that
        then runs at real time). Checked in the meter's own thread at each sleep, so a late
        watcher elsewhere can never let the clock run ahead."""
        self._present_margin_s = margin_s
        self._stop_at_present = stop

    def sleep_ms(self, ms: float) -> None:
        while not self._running.is_set() and not self._stop.is_set():
            self.held.set()
            self._running.wait(0.05)
        self.held.clear()
        margin = self._present_margin_s
        if margin is not None and self._stop_at_present:
            room_ms = (time.time() - margin - self.utc()) * 1000
            if ms > room_ms:
                self.stop()
                ms = max(0.0, room_ms)
        self.now_us += int(ms * 1000)
        if self.speed != float("inf"):
            # Throttle: simulated time may not run ahead of real time x speed.
            delay = self._real0 + self.now_us / 1e6 / self.speed - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
        if margin is not None and not self._stop_at_present:
            while not self._stop.is_set():
                ahead_s = self.utc() - (time.time() - margin)
                if ahead_s <= 0:
                    break
                self._stop.wait(min(ahead_s, 0.2))

    def utc(self) -> float:
        return self.start_utc + self.now_us / 1e6

    def stop(self) -> None:
        self._stop.set()
        self._running.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()
