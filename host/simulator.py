"""A meter that runs on the host: the ESP32 firmware's own modules (config, measure,
energy, outbox, meter, wire) on CPython, with host adapters for the ADC (fed by a simulated
household through simulated clamps), Wi-Fi, time and the MQTT client.

    m = SimulatedMeter(meter_id="demo-01", host="127.0.0.1", port=1883,
                       state_dir=Path("data/meters/demo-01"), seed=1, interval_s=10.0,
                       speed=1.0, channels=2)
    m.start(); m.wait_published(3, timeout_s=30); m.stop()

state_dir is the meter's flash: config.json, the energy checkpoint and boot counter
(state.a/state.b) and the offline queue (outbox/); a second run continues the counters.
With speed > 1 the simulated clock starts (speed - 1) hours in the past so that its
timestamps reach the present only after one real hour (the collector refuses readings
from the future); pass start_utc to choose.
"""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import json
import logging
import random
import sys
import threading
import time
from pathlib import Path

from citizenwatt.firmware import calib, config, update
from citizenwatt.firmware import meter as meter_module
from citizenwatt.host.adc import Board, Esp32Adc, current_signal, voltage_signal
from citizenwatt.host.clock import SimClock
from citizenwatt.host.household import CHANNEL_LABELS, MAINS_V, Household
from citizenwatt.host.platform import HostPlatform, Reset

log = logging.getLogger("citizenwatt.simulator")

# The reference board's wiring, defined once in firmware/config.py.
CURRENT_PINS = config.CURRENT_PINS
VOLTAGE_PIN = config.VOLTAGE_PIN


class SimulatedMeter:
    def __init__(self, meter_id: str = "demo-01", host: str = "127.0.0.1", port: int = 1883,
                 state_dir: Path | str = Path("meter-flash"), seed: int = 1,
                 interval_s: float = 10.0, speed: float = 1.0, channels: int = 2, *,
                 voltage: bool = True, start_utc: float | None = None, hass: bool = False,
                 queue_hours: float = 26, extra_config: dict | None = None,
                 solar_kw: float = 0.0, firmware=None):
        if not 1 <= channels <= len(CURRENT_PINS):
            raise ValueError(f"channels must be 1 to {len(CURRENT_PINS)}")
        self.meter_id = meter_id
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if start_utc is None:
            now = time.time()
            start_utc = now - (max(speed, 1.0) - 1.0) * 3600 if speed != float("inf") \
                else now - 400 * 86400
            # The simulated RTC goes on from where the last run stopped, never into the future.
            try:
                saved = json.loads((self.state_dir / "sim_clock.json").read_text())["utc"]
                start_utc = min(max(start_utc, saved), now)
            except (OSError, ValueError, KeyError):
                pass
        self.clock = SimClock(speed, start_utc)
        self.household = Household(seed, channels, solar_kw)
        per = max(1, int(interval_s // 2))
        raw = {
            "meter_id": meter_id, "wifi_ssid": "simulated", "wifi_password": "",
            "mqtt_host": host, "mqtt_port": port, "interval_s": interval_s,
            "measure_period_s": interval_s / per, "sample_rate_hz": 2000, "cycles": 4,
            "channels": [{"id": k, "pin": CURRENT_PINS[k], "max_current_a": 100.0 if k == 0 else 30.0,
                          "label": CHANNEL_LABELS[k] if k < len(CHANNEL_LABELS) else ""}
                         for k in range(channels)],
            "voltage": {"pin": VOLTAGE_PIN, "adapter_v": 9.0} if voltage else None,
            "hass": hass, "queue_hours": queue_hours, "backoff_max_s": 120,
        }
        if solar_kw > 0:
            # Solar panels behind the mains clamp: it counts both directions.
            raw["channels"][0]["direction"] = "bidirectional"
        raw.update(extra_config or {})
        (self.state_dir / "config.json").write_text(json.dumps(raw, indent=1))
        self.cfg = config.load(str(self.state_dir / "config.json"))
        board = Board(self.clock, Esp32Adc(self.cfg["atten_db"], 0.0008, random.Random(seed * 7 + 3)))
        utc0 = self.clock.start_utc
        for k, ch in enumerate(self.cfg["channels"]):
            d = calib.design(clamp=ch["clamp"], max_current_a=ch["max_current_a"])
            board.wire(ch["pin"], current_signal(
                lambda t, k=k: self.household.phasors(t)[k], d["bias_v"], d["ical_a_per_v"],
                self.cfg["mains_hz"], utc0))
        if voltage:
            d = calib.design()
            board.wire(VOLTAGE_PIN, voltage_signal(MAINS_V, d["bias_v"], d["vcal_v_per_v"],
                                                   self.cfg["mains_hz"]))
        self.hw = HostPlatform(str(self.state_dir), self.clock, board, seed, self._on_ack)
        # firmware: the meter module to run (an installed update's, see boot()).
        self.firmware = firmware or meter_module
        self.meter = self.firmware.Meter(self.cfg, self.hw)
        self.reset_requested = False
        self._cond = threading.Condition()
        self._published = 0
        self._last = None
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.readings: list[tuple] = []  # every acknowledged reading tuple, in order

    # -- the lead's interface -----------------------------------------------------------
    def start(self) -> SimulatedMeter:
        self._thread = threading.Thread(target=self._run, name="meter-" + self.meter_id,
                                        daemon=True)
        self._thread.start()
        return self

    def wait_published(self, n: int, timeout_s: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._published >= n or self.error is not None,
                                       timeout_s) and self._published >= n

    def stop(self, timeout_s: float = 10) -> bool:
        self.clock.stop()
        done = True
        if self._thread is not None:
            self._thread.join(timeout_s)
            done = not self._thread.is_alive()
        (self.state_dir / "sim_clock.json").write_text(json.dumps({"utc": self.clock.utc()}))
        return done

    @property
    def counted_wh(self) -> dict[int, float]:
        r = self._last
        if r is None:
            return {}
        return {c[0]: round(c[1] / 1000, 3) for c in r[5]}

    @property
    def counted_export_wh(self) -> dict[int, float]:
        """The export counters of the last acknowledged reading (bidirectional channels)."""
        r = self._last
        if r is None:
            return {}
        return {c[0]: round(c[6] / 1000, 3) for c in r[5] if len(c) > 6 and c[6] is not None}

    @property
    def published(self) -> int:
        return self._published

    # -- internals ----------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self.meter.run()
        except Reset:
            with self._cond:
                self.reset_requested = True
                self._cond.notify_all()
        except BaseException as e:  # the thread must report, not die silently
            log.exception("simulated meter %s stopped on an error", self.meter_id)
            with self._cond:
                self.error = e
                self._cond.notify_all()

    def _on_ack(self, reading) -> None:
        with self._cond:
            self._published += 1
            self._last = reading
            self.readings.append(reading)
            self._cond.notify_all()


_LOADS = itertools.count(1)


def boot(state_dir: Path | str):
    """What board/boot.py does at power-up, on the host: the update decision on the flash's
    ota.json (stored before anything of the chosen version runs), then the meter module of
    the chosen slot (a source bundle, see bundle.build(mpy=False)) or this package's own.
    Returns (meter module, slot or None)."""
    path = str(Path(state_dir) / update.STATE_FILE)
    slot, st = update.at_boot(update.load_state(path))
    if st:
        update.save_state(path, st)
    if slot is None:
        return meter_module, None
    pkg_dir = Path(state_dir) / "ota" / slot / "citizenwatt" / "firmware"
    # A fresh name per load: each boot imports the slot's files as they are now.
    name = f"citizenwatt_slot_{slot}_{next(_LOADS)}"
    spec = importlib.util.spec_from_file_location(name, pkg_dir / "__init__.py",
                                                  submodule_search_locations=[str(pkg_dir)])
    if spec is None or spec.loader is None:
        raise ImportError(f"no firmware in slot {slot}")
    pkg = importlib.util.module_from_spec(spec)
    sys.modules[name] = pkg
    spec.loader.exec_module(pkg)
    return importlib.import_module(name + ".meter"), slot
