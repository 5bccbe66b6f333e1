"""Host stand-ins for the ESP32 ADC: a model of its transfer curve and a machine.ADC-like
class wired to simulated clamp and voltage circuits on a simulated board.

The model: linear inside Espressif's stated span for the attenuation, non-linear beyond
(around 100 mV reads as 0, the top end compresses), Gaussian noise at the pin, 12-bit
quantisation, and read_uv() returning the calibrated microvolts of the code.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from citizenwatt.firmware import calib

FULL_SCALE_V = calib.ADC_FULL_SCALE_V
CODES = 1 << calib.ADC_BITS
DEAD_ZONE_V = 0.100


class Esp32Adc:
    """Transfer curve + noise + 12-bit quantisation of one ESP32 ADC1 channel."""

    def __init__(self, atten_db: float = 11, noise_v: float = 0.0012,
                 rng: random.Random | None = None, nonlinear: bool = True):
        self.lo, self.hi = calib.ADC_LINEAR_V[atten_db]
        self.full = FULL_SCALE_V[atten_db]
        self.lsb = self.full / CODES
        self.noise_v = noise_v
        self.rng = rng or random.Random(0)
        self.nonlinear = nonlinear

    def transfer(self, v: float) -> float:
        """What the calibrated ADC reports for a pin voltage, before quantisation."""
        if not self.nonlinear:
            return v
        if v <= DEAD_ZONE_V:
            return 0.0
        if v < self.lo:
            return self.lo * (v - DEAD_ZONE_V) / (self.lo - DEAD_ZONE_V)
        if v > self.hi:
            return self.hi + (v - self.hi) * 0.6
        return v

    def read_uv(self, v_pin: float) -> int:
        v = v_pin + (self.rng.gauss(0.0, self.noise_v) if self.noise_v else 0.0)
        code = int(round(self.transfer(v) / self.lsb))
        code = 0 if code < 0 else CODES - 1 if code >= CODES else code
        return int(code * self.lsb * 1e6)

    def read_u16(self, v_pin: float) -> int:
        return self.read_uv(v_pin) * 65535 // int(self.full * 1e6)


class Board:
    """Pins wired to signals: pin -> function of simulated time (s) giving pin volts."""

    def __init__(self, clock, adc_model: Esp32Adc, read_us: int = 25):
        self.clock = clock
        self.model = adc_model
        self.read_us = read_us  # time one ADC read takes on the ESP32
        self.signals: dict[int, Callable[[float], float]] = {}

    def wire(self, pin: int, signal: Callable[[float], float]) -> None:
        self.signals[pin] = signal


class ADC:
    """machine.ADC on the simulated board: read_uv() samples the pin's signal now."""

    ATTN_0DB, ATTN_2_5DB, ATTN_6DB, ATTN_11DB = 0, 1, 2, 3

    def __init__(self, pin: int, board: Board, atten: int = ATTN_11DB):
        if pin not in board.signals:
            raise ValueError(f"nothing is wired to pin {pin} on the simulated board")
        self.pin = pin
        self.board = board
        self._signal = board.signals[pin]

    def read_uv(self) -> int:
        b = self.board
        value = b.model.read_uv(self._signal(b.clock.now_us / 1e6))
        b.clock.advance_us(b.read_us)
        return value

    def read_u16(self) -> int:
        b = self.board
        value = b.model.read_u16(self._signal(b.clock.now_us / 1e6))
        b.clock.advance_us(b.read_us)
        return value


def current_signal(phasors_at: Callable[[float], tuple], bias_v: float, ical: float,
                   mains_hz: float, utc0: float) -> Callable[[float], float]:
    """Pin volts of a clamp on its burden: bias + i(t) / ICAL, i from RMS phasors
    (fundamental, 3rd, 5th) that the household gives at each simulated second."""
    w = 2 * math.pi * mains_hz
    r2 = math.sqrt(2)

    def signal(t: float) -> float:
        p1, p3, p5 = phasors_at(utc0 + t)
        i = r2 * (abs(p1) * math.sin(w * t + _arg(p1)) + abs(p3) * math.sin(3 * w * t + _arg(p3))
                  + abs(p5) * math.sin(5 * w * t + _arg(p5)))
        return bias_v + i / ical
    return signal


def voltage_signal(vrms: float, bias_v: float, vcal: float, mains_hz: float,
                   h3: float = 0.02) -> Callable[[float], float]:
    w = 2 * math.pi * mains_hz
    a = math.sqrt(2) * vrms

    def signal(t: float) -> float:
        return bias_v + a * (math.sin(w * t) + h3 * math.sin(3 * w * t)) / vcal
    return signal


def _arg(z: complex) -> float:
    return math.atan2(z.imag, z.real)
