"""The InfluxDB shipper in its own process: it reads the collector's ledger (SQLite, WAL
mode), writes the spooled points to InfluxDB and marks them shipped, on the second core and
under its own interpreter lock, while the collector's writer thread keeps the first.

The collector starts it through ShipperProcess (store/backends.py, `open_store`), hands it
its settings on stdin (the token stays out of the process list), reads its gauges from its
stdout, starts it again if it dies, and stops it on shutdown. The spool's guarantees are the
ledger's, not the process's: a point leaves the spool only once InfluxDB accepted it, and
the lease keeps one shipper per ledger, so a shipper killed mid-write loses nothing (its
successor writes the same points again, which InfluxDB takes as the same points).
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import IO

from citizenwatt.i18n import _, format_number

log = logging.getLogger("citizenwatt.store.shipper")

GAUGES = ("shipped_points", "ship_errors", "rejected_points")
# A shipper that ran this long before it stopped is started again at once; one that stops
# sooner waits longer each time (up to MAX_RESTART_DELAY_S), not a tight loop of crashes.
STEADY_S = 10.0
MAX_RESTART_DELAY_S = 10.0


class ShipperProcess:
    """The parent's side: `python -m citizenwatt.store.shipper`, supervised by one thread."""

    def __init__(self, store, restart_delay_s: float = 0.5):
        self.store = store
        self.config = store.shipper_config()
        self.restart_delay_s = restart_delay_s
        self.restarts = 0
        self.proc: subprocess.Popen | None = None
        self._stopping = threading.Event()
        self._started = threading.Event()
        self._thread: threading.Thread | None = None
        self._base = dict.fromkeys(GAUGES, 0)  # the counters of the shippers before this one
        self._last = dict.fromkeys(GAUGES, 0)

    def start(self) -> ShipperProcess:
        self.store._process = self
        self._thread = threading.Thread(target=self._supervise, name="influx-shipper-supervisor",
                                        daemon=True)
        self._thread.start()
        self._started.wait(30)
        return self

    def _spawn(self) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-m", "citizenwatt.store.shipper"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert proc.stdin is not None
        # stdin stays open: its end (this process gone, even by kill -9) stops the shipper
        proc.stdin.write(json.dumps(self.config).encode() + b"\n")
        proc.stdin.flush()
        return proc

    def _supervise(self) -> None:
        delay = self.restart_delay_s
        while not self._stopping.is_set():
            began = time.monotonic()
            try:
                self.proc = self._spawn()
            except OSError as e:
                log.error(_("cannot start the InfluxDB shipper ({error}): trying again in "
                            "{seconds} s", error=e, seconds=format_number(delay, 1)))
                self._started.set()
                self._stopping.wait(delay)
                delay = min(delay * 2, MAX_RESTART_DELAY_S)
                continue
            self._started.set()
            assert self.proc.stdout is not None
            self._read_gauges(self.proc.stdout)
            code = self.proc.wait()
            for k in GAUGES:
                self._base[k] += self._last[k]
                self._last[k] = 0
            if self._stopping.is_set():
                return
            self.restarts += 1
            if time.monotonic() - began > STEADY_S:
                delay = self.restart_delay_s
            log.error(_("the InfluxDB shipper stopped (exit status {code}): starting it again "
                        "in {seconds} s; the spool keeps every point meanwhile", code=code,
                        seconds=format_number(delay, 1)))
            self._stopping.wait(delay)
            delay = min(delay * 2, MAX_RESTART_DELAY_S)

    def _read_gauges(self, out: IO[bytes]) -> None:
        store = self.store
        for line in out:
            try:
                g = json.loads(line)
            except ValueError:
                continue
            for k in GAUGES:
                self._last[k] = g[k]
                setattr(store, k, self._base[k] + g[k])
            store.influx_up = g["influx_up"]
            store.spool_depth = g["spool_depth"]
            store.spool_oldest_age_s = g["spool_oldest_age_s"]

    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the shipper: the end of its stdin asks it to finish the chunk in hand and
        give the lease back; past timeout_s it is terminated."""
        self._stopping.set()
        proc = self.proc
        if proc is not None:
            try:
                assert proc.stdin is not None
                proc.stdin.close()
            except OSError:
                pass
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if self._thread is not None:
            self._thread.join(timeout_s)


def _reporter(out: IO[str], every_s: float = 0.1) -> Callable:
    """The ship loop's report hook: the gauges as one JSON line when they changed, at most
    every every_s (and always once stopping)."""
    last: list = [None, 0.0]

    def report(store) -> None:
        now = time.monotonic()
        if now - last[1] < every_s and not store._stop.is_set():
            return
        store._update_depth()  # the depth after this turn's chunk, not before it
        g = {"shipped_points": store.shipped_points, "ship_errors": store.ship_errors,
             "rejected_points": store.rejected_points, "influx_up": store.influx_up,
             "spool_depth": store.spool_depth,
             "spool_oldest_age_s": round(store.spool_oldest_age_s, 3)}
        if g != last[0]:
            last[0], last[1] = g, now
            out.write(json.dumps(g) + "\n")
            out.flush()

    return report


def main() -> None:
    """The child: its settings on the first line of stdin, then ship until stdin ends or
    SIGTERM."""
    from .influx import InfluxStore
    from .tiers import Tiers

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s",
                        stream=sys.stderr)
    config = json.loads(sys.stdin.readline())
    if config.get("tiers"):
        config["tiers"] = Tiers(**config["tiers"])
    store = InfluxStore(**config, ship=False)
    store._connect_writer()
    store.idle_wait_s = 0.05  # no writer in this process to wake it: look more often
    store.take_ahead = True
    store.report = _reporter(sys.stdout)
    # Ctrl-C reaches the whole process group: the collector stops us itself, after its
    # last batch is spooled and flushed
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: store._stop.set())

    def watch_parent() -> None:
        sys.stdin.buffer.read()  # returns at EOF: the collector closed it, or is gone
        store._stop.set()

    threading.Thread(target=watch_parent, name="parent-watch", daemon=True).start()
    try:
        store._ship_loop()
    finally:
        try:
            store._require_ledger().release(store.owner)
        except Exception:
            pass
        store.report(store)
        store.close()


if __name__ == "__main__":
    main()
