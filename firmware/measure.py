# Citizen Watt measurement core: from one window of current (and voltage) samples to Irms,
# Vrms, real and apparent power and power factor. A pure function, no I/O: it runs the same
# on the ESP32, on the MicroPython VM in tests and on CPython in the host simulator.
#
#   measure(i_samples, v_samples, scale, cal, n=0) -> dict
#
# i_samples, v_samples: sequences of numbers (ADC codes, or microvolts from read_uv), taken
#   in V/I pairs at a steady rate over a whole number of mains cycles; v_samples is None
#   when no voltage sensor is fitted.
# scale: volts at the ADC pin per sample unit (1e-6 for read_uv).
# cal: dict from calib.channel_cal(): ical (A per pin volt), vcal (mains V per pin volt),
#   phasecal (emonLib PHASECAL, 1.0 = none), nominal_v, noise_a, floor_a, lo_v, hi_v.
# n: samples in the window (whole cycles); 0 means all of them.
# Returns {"irms_a", "vrms_v" (None without voltage), "real_w", "apparent_w",
#          "pf" (None without voltage), "fault" (None, "unplugged", "clipped", "reversed")}.
# Without voltage, real_w is apparent power at nominal_v and the wire payload says apparent.

import math

UNPLUGGED = "unplugged"
CLIPPED = "clipped"
REVERSED = "reversed"


def measure(i_samples, v_samples, scale, cal, n=0):  # noqa: C901  emonLib: numbered steps, one function
    # 1. The window: n samples covering whole mains cycles.
    if n <= 0 or n > len(i_samples):
        n = len(i_samples)
    if n < 2:
        raise ValueError("measure needs at least 2 samples")
    has_v = v_samples is not None
    lo = cal["lo_v"] / scale
    hi = cal["hi_v"] / scale

    # 2. DC bias removed over exactly that window: the mean of a periodic signal over whole
    #    cycles is its offset, with none of the lag of emonLib's low-pass filter.
    sum_i = 0
    sum_v = 0
    i_min = i_samples[0]
    i_max = i_min
    k = 0
    while k < n:
        x = i_samples[k]
        sum_i += x
        if x < i_min:
            i_min = x
        elif x > i_max:
            i_max = x
        if has_v:
            sum_v += v_samples[k]
        k += 1
    off_i = sum_i / n
    off_v = sum_v / n

    # 3. Faults seen on the raw levels: no bias at all means no clamp on the input (the
    #    switched jack pulls it to ground); samples beyond the linear span are distorted.
    fault = None
    if off_i < lo or off_i > hi:
        fault = UNPLUGGED
    elif i_min < lo or i_max > hi:
        fault = CLIPPED

    # 4. Accumulate squares and instantaneous power. The voltage is shifted by linear
    #    interpolation between consecutive samples (emonLib's PHASECAL); the sample before
    #    the first is the window's last one, as the window holds whole cycles.
    sq_i = 0.0
    sq_v = 0.0
    acc_p = 0.0
    phasecal = cal["phasecal"]
    if has_v:
        v_prev = v_samples[n - 1] - off_v
    k = 0
    while k < n:
        fi = i_samples[k] - off_i
        sq_i += fi * fi
        if has_v:
            fv = v_samples[k] - off_v
            sq_v += fv * fv
            acc_p += (v_prev + phasecal * (fv - v_prev)) * fi
            v_prev = fv
        k += 1

    # 5. Scale to amps, volts and watts.
    i_rms_pin = math.sqrt(sq_i / n) * scale
    irms_a = i_rms_pin * cal["ical"]

    # 6. Noise: the ADC's own noise adds in quadrature to the current; take its power
    #    out, and call anything under the floor zero so an idle clamp reads 0 W.
    #    The floor is 4 standard deviations of that noise-power estimate over n samples
    #    (relative deviation sqrt(2/n)), or the configured floor if higher.
    noise_a = cal["noise_a"]
    i2 = irms_a * irms_a - noise_a * noise_a
    irms_a = math.sqrt(i2) if i2 > 0 else 0.0
    floor_a = noise_a * (32.0 / n) ** 0.25
    if floor_a < cal["floor_a"]:
        floor_a = cal["floor_a"]
    if irms_a < floor_a or fault == UNPLUGGED:
        irms_a = 0.0

    # 7. Powers. Without voltage: apparent power at the nominal voltage.
    if not has_v:
        p = irms_a * cal["nominal_v"]
        return {"irms_a": irms_a, "vrms_v": None, "real_w": p, "apparent_w": p, "pf": None,
                "fault": fault}
    vrms_v = math.sqrt(sq_v / n) * scale * cal["vcal"]
    apparent_w = irms_a * vrms_v
    if irms_a == 0.0:
        return {"irms_a": 0.0, "vrms_v": vrms_v, "real_w": 0.0, "apparent_w": 0.0, "pf": 0.0,
                "fault": fault}
    real_w = acc_p / n * scale * scale * cal["ical"] * cal["vcal"]
    # The noise left in the real power is far below the floor's: keep it within apparent.
    if real_w > apparent_w:
        real_w = apparent_w
    elif real_w < -apparent_w:
        real_w = -apparent_w
    pf = real_w / apparent_w if apparent_w > 0 else 0.0
    # A clamp on backwards: clearly negative real power (not the noise of a reactive load).
    if pf < -0.2 and fault is None:
        fault = REVERSED
    return {"irms_a": irms_a, "vrms_v": vrms_v, "real_w": real_w, "apparent_w": apparent_w,
            "pf": pf, "fault": fault}
