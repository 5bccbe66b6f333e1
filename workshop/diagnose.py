"""Which part is at fault: the workshop's fault table and the pure decisions that read a
measurement and name one part, or say that the measurement cannot tell and what to ask.

Every fault has the symptom the tool measures, the part it names (a reference of
hardware/bom.csv) and the build-guide section that explains it; docs/workshop.md and the
guide's troubleshooting chapter carry the same table. No I/O here: check.py and
pipeline.py measure, these functions decide.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from citizenwatt.i18n import N_, _, format_number

# The guide's page and anchor for each section a message names, with the section's title
# (the English heading; the French one comes from the catalogue and must match the French
# guide's heading: tests/hardware/test_guide_pointers.py builds the guide and checks both).
GUIDE_PAGE = "troubleshooting.html"
SECTION_TITLES = {
    "usb-serial": N_("The computer does not see the board"),
    "adc-input": N_("The ADC always reads 0 or always the maximum"),
    "bias-network": N_("The bias voltage is wrong"),
    "clamp-unplugged": N_('"Clamp unplugged" although it is plugged in'),
    "burden-resistor": N_('"Clipped" or readings far too high'),
    "noise-floor": N_("A few tens of watts with everything off"),
    "bias-capacitor": N_("A noisy input with no current"),
    "load-during-test": N_("A current during the noise test"),
    "clamp-orientation": N_("Negative power"),
    "voltage-adapter": N_("No mains voltage, or every clamp negative"),
    "adc2-pin": N_("An input that floats, or works only without Wi-Fi"),
    "calibration": N_("The reading is right but off by the same percentage"),
    "wifi": N_("No Wi-Fi"),
    "broker": N_("Readings do not reach the server"),
    "fault-table": N_("Fault table of the workshop tool"),
}


def guide_pointer(section: str, lang: str | None = None) -> str:
    """Where to read more: the section's title and its address in the built guide."""
    return _('Guide: "{title}" ({page}#{section}).', lang=lang,
             title=_(SECTION_TITLES[section], lang=lang), page=GUIDE_PAGE, section=section)


@dataclass(frozen=True)
class Fault:
    key: str
    section: str
    symptom: str  # what the tool measures (English msgid)
    part: str     # the part it names, in words (English msgid); BOM references in messages


# The fault table (docs/workshop.md and the guide's "fault-table" section show it).
FAULTS = {f.key: f for f in (
    Fault("clamp-unplugged", "clamp-unplugged",
          N_("the input sits at 0 V with no signal (the empty socket's switch ties it to GND)"),
          N_("the clamp's plug in its socket J1-J3")),
    Fault("clamp-reversed", "clamp-orientation",
          N_("negative power on this clamp while another reads positive, or you said its arrow "
             "points away from the appliance"),
          N_("the clamp CT1 of that channel, turned over")),
    Fault("real-load", "load-during-test",
          N_("a current under 1 A that follows the mains (a sine, not noise) during the noise test"),
          N_("no part: the tool asks you to take the clamp off the wire")),
    Fault("no-load-calibration", "calibration",
          N_("during calibration, no current or far less than the reference"),
          N_("no part: the tool asks you to switch the kettle on")),
    Fault("burden-missing", "burden-resistor",
          N_("with a load, the input swings to both rails (0 V and 3.1 V)"),
          N_("the burden resistor R1-R3, missing or not soldered")),
    Fault("burden-wrong", "burden-resistor",
          N_("with a load, the signal clips, or calibration finds a factor outside 0.8-1.25 that "
             "stays with the kettle on (the factor gives the resistor's value)"),
          N_("the burden resistor R1-R3, wrong value")),
    Fault("bias-capacitor", "bias-capacitor",
          N_("no current, but a broadband noise of several mV on the input (not a mains sine)"),
          N_("the 10 uF capacitor C1-C3 of the bias point")),
    Fault("bias-off", "bias-network",
          N_("the input's mean voltage more than 8 % away from the design's bias"),
          N_("the bias divider R4-R6 / R7-R9")),
    Fault("adapter-absent", "voltage-adapter",
          N_("no mains on the voltage input (under 30 % of the nominal voltage)"),
          N_("the AC-AC adapter TR1, not plugged in")),
    Fault("adapter-reversed", "voltage-adapter",
          N_("every clamp carrying a load reads a negative power, or you said the clamp's arrow "
             "points the right way"),
          N_("the AC-AC adapter TR1, its plug turned round")),
    Fault("adc2-pin", "adc2-pin",
          N_("the configured input floats, and the bias shows on an ADC2 pin with Wi-Fi off"),
          N_("the wire W1 of that channel, on an ADC2 pin")),
    Fault("floating-input", "adc-input",
          N_("the configured input floats (readings all over the range) and no other pin has the bias"),
          N_("the wire W1 to the input, not soldered")),
)}


# --------------------------------------------------------------------------------------
# Parts of a channel (hardware/pinout.csv: current_n -> Jn Rn R(n+3) R(n+6) Cn)
# --------------------------------------------------------------------------------------

VOLTAGE_PARTS = {"adapter": "TR1", "jack": "J4"}


def channel_parts(channel: int) -> dict[str, str]:
    """The BOM references of a channel of the reference board (channels 0-2); channels 3-4,
    not on the reference board, are named by their channel only."""
    if 0 <= channel <= 2:
        n = channel + 1
        return {"jack": f"J{n}", "burden": f"R{n}", "bias_top": f"R{n + 3}",
                "bias_bottom": f"R{n + 6}", "cap": f"C{n}", "clamp": "CT1", "wire": "W1"}
    label = _("channel {channel}", channel=channel)
    return {k: label for k in ("jack", "burden", "bias_top", "bias_bottom", "cap")} | {
        "clamp": "CT1", "wire": "W1"}


# --------------------------------------------------------------------------------------
# What a window of samples looks like
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Signal:
    mean_v: float
    lo_v: float
    hi_v: float
    ac_rms_v: float
    mains_fraction: float  # share of the AC power at the mains frequency and its harmonics


def signal_of(volts: list[float], rate_hz: float, mains_hz: float, harmonics: int = 7) -> Signal:
    """Level, spread and how much of the AC part follows the mains (a load's current is
    mains-locked; the noise of a floating or badly decoupled input is not)."""
    n = len(volts)
    mean = sum(volts) / n
    ac = [v - mean for v in volts]
    var = sum(x * x for x in ac) / n
    locked = 0.0
    for h in range(1, harmonics + 1):
        w = 2 * math.pi * h * mains_hz / rate_hz
        a = sum(x * math.cos(w * k) for k, x in enumerate(ac)) * 2 / n
        b = sum(x * math.sin(w * k) for k, x in enumerate(ac)) * 2 / n
        locked += (a * a + b * b) / 2
    frac = min(1.0, locked / var) if var > 0 else 0.0
    return Signal(mean, min(volts), max(volts), math.sqrt(var), frac)


# --------------------------------------------------------------------------------------
# Decisions (pure)
# --------------------------------------------------------------------------------------

UNPLUGGED_MAX_V = 0.10       # an input held at GND by the empty socket's switch
FLOATING_RMS_V = 0.25        # far beyond any clamp's signal at the design's burden
RAIL_LO_V, RAIL_HI_V = 0.05, 3.0
BIAS_TOLERANCE = 0.08        # of the design bias: two 1 % resistors stay well within it
STUCK_HIGH_V = 2.95
MAINS_LOCKED = 0.6           # above: a real current; below: noise
ADAPTER_MIN = 0.3            # of the nominal voltage: below, no adapter on the input
ADC2_BIAS_TOLERANCE = 0.15


def input_fault(sig: Signal, bias_v: float, adc_lo_v: float, adc_hi_v: float) -> str | None:
    """The fault the input's levels show (a key of FAULTS), or None. Order matters: a
    clipped signal's mean is not its bias, a floating input's spread is not a clip."""
    if sig.mean_v < UNPLUGGED_MAX_V and sig.hi_v - sig.lo_v < 0.05:
        return "clamp-unplugged"
    if sig.ac_rms_v > FLOATING_RMS_V and sig.mains_fraction < MAINS_LOCKED:
        return "floating-input"
    if sig.lo_v < adc_lo_v or sig.hi_v > adc_hi_v:
        if sig.mains_fraction >= MAINS_LOCKED:  # a clipped load current, not a level
            return "burden-missing" if sig.lo_v < RAIL_LO_V and sig.hi_v > RAIL_HI_V else "burden-wrong"
    if sig.mean_v > STUCK_HIGH_V or abs(sig.mean_v - bias_v) > BIAS_TOLERANCE * bias_v:
        return "bias-off"
    return None


def noise_fault(sig: Signal, irms_a: float) -> str | None:
    """At rest the firmware reads 0 A; a current above its floor is a real load (a mains sine:
    ask to take the clamp off) or the bias point's noise (its capacitor)."""
    if irms_a <= 0:
        return None
    return "real-load" if sig.mains_fraction >= MAINS_LOCKED else "bias-capacitor"


def orientation_faults(powers_w: dict[int, float], min_w: float) -> tuple[str | None, list[int]]:
    """From the real power of each channel carrying a load: ("clamp-reversed", channels),
    ("adapter-reversed", all), ("ask", [channel]) when one lone clamp reads negative (its
    arrow or the adapter: only a look at the clamp tells), or (None, [])."""
    loaded = {c: p for c, p in powers_w.items() if abs(p) >= min_w}
    negative = sorted(c for c, p in loaded.items() if p < 0)
    if not negative:
        return None, []
    if len(negative) < len(loaded):
        return "clamp-reversed", negative
    if len(negative) >= 2:
        return "adapter-reversed", negative
    return "ask", negative


def adapter_fault(vrms_v: float | None, nominal_v: float) -> str | None:
    if vrms_v is not None and vrms_v < ADAPTER_MIN * nominal_v:
        return "adapter-absent"
    return None


def adc2_candidate(probes: list[tuple[int, float, float]], bias_v: float) -> int | None:
    """The ADC2 pin (gpio, mean V, spread V) that carries a channel's bias, if exactly one does."""
    found = [p for p, mean, spread in probes
             if mean >= 0 and abs(mean - bias_v) <= ADC2_BIAS_TOLERANCE * bias_v and spread < 0.3]
    return found[0] if len(found) == 1 else None


def burden_estimate_ohm(burden_ohm: float, trim: float) -> float:
    """The burden actually fitted, from the calibration factor: the reading scales with the
    resistor, so trim = design / fitted."""
    return burden_ohm / trim


def bias_top_estimate_ohm(bias_v: float, supply_v: float, bottom_ohm: float) -> float | None:
    """The top resistor that would give this bias with the design's bottom one."""
    if not 0 < bias_v < supply_v:
        return None
    return bottom_ohm * (supply_v / bias_v - 1)


def ohms(value: float) -> str:
    """1 600 -> "1,6 kΩ" / "1.6 kΩ"; 2.2 -> "2,2 Ω"."""
    if value >= 1000:
        return format_number(value / 1000, 1) + "\u00a0kΩ"
    return format_number(value, 1 if value < 100 else 0) + "\u00a0Ω"


def volts(value: float) -> str:
    return format_number(value, 2) + "\u00a0V"
