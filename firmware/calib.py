# Citizen Watt hardware design calculator: from a clamp, a maximum current, an ADC range and
# a supply to the parts to solder (burden, bias divider, voltage divider) and the firmware's
# calibration constants. The firmware, the build guide and the workshop tool all call
# design(); nothing else computes these numbers. Runs on MicroPython and CPython.
#
# Stable signature (the build guide imports it):
#   design(clamp="SCT-013-000", max_current_a=100.0, atten_db=11, supply_v=3.3,
#          mains_v=230.0, mains_hz=50, adapter_v=9.0, sample_rate_hz=4000,
#          adapter_phase_deg=0.0, margin=0.05, adc_noise_v=0.0008) -> dict
# Every key of the result carries its unit; see DESIGN_KEYS below and docs/firmware.md.

import math

# Clamps: name -> (kind, ratio). "current": secondary amps per primary amp (needs a burden on
# the board); "voltage": output volts RMS at the rated current (burden inside the clamp).
CLAMPS = {
    "SCT-013-000": ("current", 100.0, 0.050),  # 100 A : 50 mA, 2000 turns
    "SCT-013-005": ("voltage", 5.0, 1.0),
    "SCT-013-010": ("voltage", 10.0, 1.0),
    "SCT-013-015": ("voltage", 15.0, 1.0),
    "SCT-013-020": ("voltage", 20.0, 1.0),
    "SCT-013-030": ("voltage", 30.0, 1.0),
    "SCT-013-050": ("voltage", 50.0, 1.0),
    "SCT-013-060": ("voltage", 60.0, 1.0),
}

# ESP32 ADC1 linear span per attenuation (volts at the pin), from Espressif's figures.
ADC_LINEAR_V = {0: (0.100, 0.950), 2.5: (0.100, 1.250), 6: (0.150, 1.750), 11: (0.150, 2.450)}
ADC_BITS = 12
# Full-scale input for one code step at each attenuation (approximate, for the LSB figure).
ADC_FULL_SCALE_V = {0: 1.10, 2.5: 1.50, 6: 2.20, 11: 3.10}

# E24 series: standard resistor values per decade.
E24 = (1.0, 1.1, 1.2, 1.3, 1.5, 1.6, 1.8, 2.0, 2.2, 2.4, 2.7, 3.0, 3.3, 3.6, 3.9, 4.3, 4.7,
       5.1, 5.6, 6.2, 6.8, 7.5, 8.2, 9.1)

BIAS_R_BOTTOM_OHM = 10000.0
BIAS_C_UF = 10.0
VDIV_R_BOTTOM_OHM = 10000.0
MAINS_TOLERANCE = 0.10  # EN 50160: 230 V +/- 10 %

DESIGN_KEYS = (
    "clamp", "clamp_kind", "turns", "max_current_a", "peak_current_a", "atten_db",
    "adc_lo_v", "adc_hi_v", "bias_v", "bias_r_top_ohm", "bias_r_bottom_ohm", "bias_c_uf",
    "swing_v", "burden_ideal_ohm", "burden_ohm", "burden_power_mw", "ical_a_per_v",
    "measurable_current_a", "pin_min_v", "pin_max_v", "lsb_v", "lsb_a", "noise_a",
    "floor_a", "vdiv_r_top_ohm", "vdiv_r_bottom_ohm", "vcal_v_per_v", "phasecal",
    "warnings",
)


class DesignError(ValueError):
    pass


def _e24_down(value):
    """Largest E24 value <= value (value > 0)."""
    decade = 10.0 ** math.floor(math.log10(value))
    best = None
    for d in (decade / 10, decade, decade * 10):
        for m in E24:
            r = m * d
            if r <= value * (1 + 1e-9) and (best is None or r > best):
                best = r
    return best


def _e24_up(value):
    """Smallest E24 value >= value."""
    decade = 10.0 ** math.floor(math.log10(value))
    best = None
    for d in (decade / 10, decade, decade * 10):
        for m in E24:
            r = m * d
            if r >= value * (1 - 1e-9) and (best is None or r < best):
                best = r
    return best


def _round(x, n):
    return float("%.*g" % (n, x))


def design(clamp="SCT-013-000", max_current_a=100.0, atten_db=11, supply_v=3.3,
           mains_v=230.0, mains_hz=50, adapter_v=9.0, sample_rate_hz=4000,
           adapter_phase_deg=0.0, margin=0.05, adc_noise_v=0.0008, read_skew_us=0.0):
    """Turn a hardware design into parts and calibration constants (a dict, units in keys).

    clamp: a key of CLAMPS. max_current_a: largest RMS current to measure (sine).
    atten_db: ESP32 ADC attenuation (0, 2.5, 6, 11). supply_v: the rail feeding the bias
    divider. mains_v/mains_hz: nominal mains. adapter_v: AC-AC adapter RMS output at
    mains_v (0 for no voltage sensor). sample_rate_hz: V/I pairs per second, for phasecal.
    adapter_phase_deg: the adapter's phase lead, measured at the workshop (0 if unknown).
    margin: head-room kept below the linear ADC span (resistor tolerance, clamp error).
    adc_noise_v: RMS noise of the ADC at the pin, measured with the clamp unplugged.
    read_skew_us: time from the voltage read to the current read of a pair (the firmware
    measures it at boot; the current is sampled that much later than the voltage).
    Raises DesignError with a sentence saying what to change.
    """
    if clamp not in CLAMPS:
        raise DesignError("Pince %r inconnue : choisissez parmi %s." % (clamp, ", ".join(sorted(CLAMPS))))
    if atten_db not in ADC_LINEAR_V:
        raise DesignError("Atténuation %r dB impossible : choisissez 0, 2.5, 6 ou 11." % atten_db)
    if not 0 < max_current_a <= 200:
        raise DesignError("Courant maximal %r A hors limites : donnez une valeur entre 0 et 200 A."
                          % max_current_a)
    if not 0 <= margin < 0.5:
        raise DesignError("Marge %r invalide : donnez une valeur entre 0 et 0.5." % margin)
    lo, hi = ADC_LINEAR_V[atten_db]
    if supply_v <= hi:
        raise DesignError("Alimentation %r V trop basse pour cette plage ADC : il faut plus de %.2f V."
                          % (supply_v, hi))
    warnings = []

    # 1. Bias at the middle of the linear span, made with a bottom resistor of 10 kohm and
    #    the nearest E24 top resistor; the swing is what is left on the tighter side.
    r_top = _e24_up(BIAS_R_BOTTOM_OHM * (supply_v / ((lo + hi) / 2) - 1))
    bias_v = supply_v * BIAS_R_BOTTOM_OHM / (BIAS_R_BOTTOM_OHM + r_top)
    swing_v = min(bias_v - lo, hi - bias_v)
    usable_v = swing_v * (1 - margin)
    peak_a = max_current_a * math.sqrt(2)

    # 2. Burden: the peak current must land inside the usable swing; round down to E24.
    kind, rated_a, rated_out = CLAMPS[clamp]
    if kind == "current":
        turns = rated_a / rated_out
        burden_ideal = usable_v * turns / peak_a
        burden = _e24_down(burden_ideal)
        ical = turns / burden
        burden_mw = (max_current_a / turns) ** 2 * burden * 1000
    else:
        turns = 0.0
        burden_ideal = 0.0
        burden = 0.0
        ical = rated_a / rated_out
        burden_mw = 0.0
        if max_current_a > rated_a:
            warnings.append("La pince %s est prévue pour %g A au plus." % (clamp, rated_a))
    measurable_a = usable_v * ical / math.sqrt(2)
    if measurable_a < max_current_a * 0.999:
        warnings.append("Au-delà de %.0f A la tension sort de la plage linéaire de l'ADC : "
                        "prenez une pince de plus fort calibre ou une atténuation plus grande."
                        % measurable_a)
    pin_min = bias_v - peak_a / ical
    pin_max = bias_v + peak_a / ical

    # 3. Resolution and noise floor in amps.
    lsb_v = ADC_FULL_SCALE_V[atten_db] / (1 << ADC_BITS)
    # The workshop's noise: the ADC's own plus 12-bit quantisation (LSB^2/12). measure()
    # subtracts this or the noise it finds in the window itself, whichever is larger.
    noise_a = math.sqrt(adc_noise_v * adc_noise_v + lsb_v * lsb_v / 12) * ical
    # The least current counted without voltage (or with no significant real power);
    # measure() raises it to 4 standard errors of the noise power for the window's sample
    # count (0.38 x the noise at 1600 samples). With voltage, a load whose real power is
    # significant counts even under it.
    floor_a = 0.02

    # 4. Voltage divider for the AC-AC adapter: its peak at +10 % mains fits the swing.
    vdiv_top = 0.0
    vcal = 0.0
    if adapter_v > 0:
        peak_adapter = adapter_v * math.sqrt(2) * (1 + MAINS_TOLERANCE)
        vdiv_top = _e24_up(VDIV_R_BOTTOM_OHM * (peak_adapter / usable_v - 1))
        vcal = (mains_v / adapter_v) * (vdiv_top + VDIV_R_BOTTOM_OHM) / VDIV_R_BOTTOM_OHM

    # 5. Phase correction (emonLib PHASECAL, 1.0 = none): the voltage is interpolated at
    #    (phasecal - 1) sample periods after its sample, to meet the current read
    #    read_skew_us later, minus the adapter's lead.
    phasecal = 1.0 + (read_skew_us * 1e-6 - adapter_phase_deg / 360.0 / mains_hz) * sample_rate_hz

    return {
        "clamp": clamp, "clamp_kind": kind, "turns": turns,
        "max_current_a": max_current_a, "peak_current_a": _round(peak_a, 5),
        "atten_db": atten_db, "adc_lo_v": lo, "adc_hi_v": hi,
        "bias_v": _round(bias_v, 4), "bias_r_top_ohm": r_top,
        "bias_r_bottom_ohm": BIAS_R_BOTTOM_OHM, "bias_c_uf": BIAS_C_UF,
        "swing_v": _round(swing_v, 4), "burden_ideal_ohm": _round(burden_ideal, 4),
        "burden_ohm": burden, "burden_power_mw": _round(burden_mw, 3),
        "ical_a_per_v": _round(ical, 6), "measurable_current_a": _round(measurable_a, 4),
        "pin_min_v": _round(pin_min, 4), "pin_max_v": _round(pin_max, 4),
        "lsb_v": _round(lsb_v, 4), "lsb_a": _round(lsb_v * ical, 4),
        "noise_a": _round(noise_a, 4), "floor_a": _round(floor_a, 3),
        "vdiv_r_top_ohm": vdiv_top, "vdiv_r_bottom_ohm": VDIV_R_BOTTOM_OHM if adapter_v > 0 else 0.0,
        "vcal_v_per_v": _round(vcal, 6), "phasecal": _round(phasecal, 6),
        "warnings": warnings,
    }


def channel_cal(d, trim=1.0, voltage=True, nominal_v=230.0, vtrim=1.0):
    """Calibration dict for measure.measure() from a design() result and workshop trims."""
    return {
        "ical": d["ical_a_per_v"] * trim,
        "vcal": d["vcal_v_per_v"] * vtrim if voltage else 0.0,
        "phasecal": d["phasecal"],
        "nominal_v": nominal_v,
        "noise_a": d["noise_a"] * trim,
        "floor_a": d["floor_a"],
        "lo_v": d["adc_lo_v"],
        "hi_v": d["adc_hi_v"],
        "bias_v": d["bias_v"],
    }
