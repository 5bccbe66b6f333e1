"""Raw samples from the board's ADC pins, measured on the host with the firmware's maths.

The board only samples (a short snippet over the raw REPL, paced by ticks_us); the
figures come from firmware/measure.py's measure(), the same function the meter runs, so
the workshop sees exactly what the meter will report.
"""

from __future__ import annotations

import array
import binascii
from dataclasses import dataclass

from citizenwatt.firmware import measure as fwmeasure
from citizenwatt.firmware.meter import oriented
from citizenwatt.workshop import config as wconfig

# Samples travel as 16-bit units of 100 uV (read_uv() // 100): half the bytes of 32-bit
# microvolts, still finer than the ADC's ~0.8 mV step.
UNIT_UV = 100
SCALE_V = UNIT_UV * 1e-6

_SNIPPET = """\
import machine, time, array, binascii
_a=[machine.ADC(machine.Pin(p), atten=machine.ADC.ATTN_11DB) for p in {pins!r}]
_m=len(_a)
_b=array.array('H', bytes(2*_m*{n}))
_t0=time.ticks_us()
for _k in range({n}):
    _due=time.ticks_add(_t0, _k*{period_us})
    while time.ticks_diff(time.ticks_us(), _due) < 0:
        pass
    for _j in range(_m):
        _b[_k*_m+_j]=_a[_j].read_uv()//{unit}
_dt=time.ticks_diff(time.ticks_us(), _t0)
print(_dt)
print(binascii.b2a_base64(bytes(_b)).decode().strip())
del _a, _b
"""


@dataclass
class Window:
    pins: list[int]
    samples: dict[int, list[int]]  # pin -> samples in UNIT_UV
    n: int                          # samples per pin covering whole mains cycles
    rate_hz: float                  # achieved sample rate

    def volts(self, pin: int) -> list[float]:
        return [x * SCALE_V for x in self.samples[pin][: self.n]]


def sample(board, pins: list[int], mains_hz: int = 50, cycles: int = 10,
           rate_hz: int = 2000) -> Window:
    """Sample `pins` together for `cycles` mains cycles at about rate_hz."""
    period_us = int(1e6 / rate_hz)
    n = int(round(cycles / mains_hz * 1e6 / period_us))
    out = board.exec(_SNIPPET.format(pins=list(pins), n=n, period_us=period_us, unit=UNIT_UV))
    lines = out.strip().splitlines()
    elapsed_us = int(lines[0])
    flat = array.array("H", binascii.a2b_base64(lines[1]))
    m = len(pins)
    samples = {p: list(flat[j::m]) for j, p in enumerate(pins)}
    rate = n / (elapsed_us / 1e6) if elapsed_us > 0 else rate_hz
    # Keep whole cycles at the rate the board actually reached (it may lag its pacing).
    whole = max(1, int(n / rate * mains_hz)) if rate < rate_hz * 0.98 else cycles
    n_whole = min(n, int(round(whole / mains_hz * rate)))
    return Window(list(pins), samples, n_whole, rate)


def measure_config(board, cfg: dict, trims: dict | None = None
                   ) -> tuple[dict[int, Window], dict[int, dict]]:
    """Measure every channel as the meter does: one window per channel (its clamp and the
    voltage input together) at the configured rate and length, then the firmware's
    measure() with the configured trims or the ones given (channel id -> trim)."""
    vpin = cfg["voltage"]["pin"] if cfg.get("voltage") else None
    windows, results = {}, {}
    for ch in cfg["channels"]:
        pins = [ch["pin"]] + ([vpin] if vpin is not None else [])
        w = sample(board, pins, cfg["mains_hz"], cfg["cycles"], cfg["sample_rate_hz"])
        cal = wconfig.channel_cal(cfg, ch, None if trims is None else trims.get(ch["id"]))
        v = w.samples[vpin] if vpin is not None else None
        r = fwmeasure.measure(w.samples[ch["pin"]], v, SCALE_V, cal, w.n)
        if ch.get("reverse") and r["pf"] is not None:
            # A clamp known to sit backwards: the meter turns its power round, so do we.
            r["real_w"], r["fault"] = oriented(r, True)
            r["pf"] = -r["pf"]
        windows[ch["id"]], results[ch["id"]] = w, r
    return windows, results


def mean_v(window: Window, pin: int) -> float:
    xs = window.volts(pin)
    return sum(xs) / len(xs)


def rms_noise_v(window: Window, pin: int) -> float:
    xs = window.volts(pin)
    m = sum(xs) / len(xs)
    return (sum((x - m) ** 2 for x in xs) / len(xs)) ** 0.5
