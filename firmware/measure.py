# Citizen Watt measurement core: from one window of current (and voltage) samples to Irms,
# Vrms, real and apparent power and power factor. A pure function, no I/O: it runs the same
# on the ESP32, on the MicroPython VM in tests and on CPython in the host simulator.
#
#   measure(i_samples, v_samples, scale, cal, n=0, bidirectional=False) -> dict
#
# i_samples, v_samples: sequences of numbers (ADC codes, or microvolts from read_uv), taken
#   in V/I pairs at a steady rate over a whole number of mains cycles; v_samples is None
#   when no voltage sensor is fitted. On the ESP32 they are array('i') buffers.
# scale: volts at the ADC pin per sample unit (1e-6 for read_uv).
# cal: dict from calib.channel_cal(): ical (A per pin volt), vcal (mains V per pin volt),
#   phasecal (emonLib PHASECAL, 1.0 = none), nominal_v, noise_a, floor_a, lo_v, hi_v.
# n: samples in the window (whole cycles); 0 means all of them.
# bidirectional: the channel may export (the mains of a solar household): negative power is
#   a reading, not a clamp on backwards. A consumption-only channel (False) reports
#   "reversed" when its power is clearly negative. The power stays signed either way.
# work: an array("i") of N_OUT slots the caller keeps for every call (the meter does), or
#   None for a new one each time.
# Returns {"irms_a", "vrms_v" (None without voltage), "real_w", "apparent_w",
#          "pf" (None without voltage), "fault" (None, "unplugged", "clipped", "reversed")}.
# Without voltage, real_w is apparent power at nominal_v and the wire payload says apparent.
#
# Memory: the per-sample loops (levels, sums) add small integers only, so a window
# allocates nothing per sample (a boxed float per sample would be 16 bytes on MicroPython);
# floats appear only in the few lines that scale the sums. measure_viper.py holds the same
# two loops as @micropython.viper native code, used where the port compiles it (the ESP32);
# these Python loops are the reference the tests run on CPython and on the VM.

import math
from array import array

try:
    from .measure_viper import levels as _levels_native
    from .measure_viper import sums as _sums_native
    NATIVE = True
except Exception:  # no viper emitter here (CPython, the VM, an .mpy of another arch)
    NATIVE = False

UNPLUGGED = "unplugged"
CLIPPED = "clipped"
REVERSED = "reversed"

# Partial sums carry into a high word at 2**29 (LIM). A sample unit is 2**shift sample
# units, chosen so that 3.6 V (the pin's absolute maximum) is at most MAX_UNITS of them:
# 64 uV for read_uv, fine enough that rounding to it biases nothing (256 uV read 1.3 % high
# at 100 W). Deviations from the offset are held within +/-32767 units (2.1 V: only a
# clipped window gets there), so a square or product is under 2**30 and a partial sum
# under 2**31, a viper native int. Within the design's swing (1.1 V, 17,000 units) every
# sum also stays under 2**30, a MicroPython small int: no allocation; a clipped window may
# make a long int for a moment, which is right, merely not allocation-free.
LIM = 536870912
LIM_F = 536870912.0
MAX_UNITS = 65536
# Significance, in standard errors of the window's own noise, for a reading to be non-zero:
# real power (with voltage: 5) and the current's power above the noise (4), kept squared
# (K^2, and 4^2 x 2 for the sqrt(2/n) of a noise power's standard error) so that no
# square root is taken.
K2_POWER = 25.0
K2_CURRENT = 32.0
# The rounding to a unit adds its own noise power, 1/12 unit^2.
ROUNDING = 1.0 / 12
# The window's noise power is believed up to 16 times the calibrated one (4 x its RMS).
NOISE_CAP = 16.0
# Out slots: 0-2 current sum/min/max, 3-5 voltage sum/min/max, then hi/lo pairs of
# sum di^2, sum e^2 (second differences), sum dv^2, sum dv*di, sum dv_prev*di,
# sum dv_prev*dv.
N_OUT = 18
_ZEROS = array("i", [0] * N_OUT)


def levels(buf, n, s, out, j):
    """Pass 1 over one channel: out[j] = sum of the samples in units of 2**s (rounded),
    out[j+1], out[j+2] = smallest and largest raw sample."""
    h = (1 << s) >> 1
    lo = buf[0]
    hi = lo
    acc = 0
    k = 0
    while k < n:
        x = buf[k]
        acc += (x + h) >> s
        if x < lo:
            lo = x
        elif x > hi:
            hi = x
        k += 1
    out[j] = acc
    out[j + 1] = lo
    out[j + 2] = hi


def sums(bi, bv, n, s, oi, ov, has_v, out):  # noqa: C901  one flat loop, as viper needs it
    """Pass 2: integer sums of the window, each kept as a (high, low) pair of small ints
    worth high * 2**29 + low, in units of 2**s about the integer offsets oi, ov:
    out[6:8] sum di^2, out[8:10] sum e^2 with e the current's second difference (the noise
    estimate), out[10:12] sum dv^2, out[12:14] sum dv*di, out[14:16] sum dv_prev*di,
    out[16:18] sum dv_prev*dv."""
    h = (1 << s) >> 1
    lim = LIM
    sii_h = 0
    sii = 0
    see_h = 0
    see = 0
    svv_h = 0
    svv = 0
    p1_h = 0
    p1 = 0
    p0_h = 0
    p0 = 0
    c1_h = 0
    c1 = 0
    # The second difference starts on the first two samples (no wrap: the window may not
    # hold exactly whole cycles); measure() divides by its expectation, 6n - 2 noise powers.
    q1 = (bi[1] + h) >> s
    q2 = (bi[0] + h) >> s
    dv1 = 0
    if has_v:
        dv1 = ((bv[n - 1] + h) >> s) - ov
    k = 0
    while k < n:
        q = (bi[k] + h) >> s
        di = q - oi
        if di > 32767:
            di = 32767
        elif di < -32767:
            di = -32767
        sii += di * di
        while sii >= lim:
            sii -= lim
            sii_h += 1
        e = q - q1 - q1 + q2
        if e > 16383:
            e = 16383
        elif e < -16383:
            e = -16383
        see += e * e
        while see >= lim:
            see -= lim
            see_h += 1
        q2 = q1
        q1 = q
        if has_v:
            dv = ((bv[k] + h) >> s) - ov
            if dv > 32767:
                dv = 32767
            elif dv < -32767:
                dv = -32767
            svv += dv * dv
            while svv >= lim:
                svv -= lim
                svv_h += 1
            p1 += dv * di
            while p1 >= lim:
                p1 -= lim
                p1_h += 1
            while p1 <= -lim:
                p1 += lim
                p1_h -= 1
            p0 += dv1 * di
            while p0 >= lim:
                p0 -= lim
                p0_h += 1
            while p0 <= -lim:
                p0 += lim
                p0_h -= 1
            c1 += dv1 * dv
            while c1 >= lim:
                c1 -= lim
                c1_h += 1
            while c1 <= -lim:
                c1 += lim
                c1_h -= 1
            dv1 = dv
        k += 1
    out[6] = sii_h
    out[7] = sii
    out[8] = see_h
    out[9] = see
    out[10] = svv_h
    out[11] = svv
    out[12] = p1_h
    out[13] = p1
    out[14] = p0_h
    out[15] = p0
    out[16] = c1_h
    out[17] = c1


def _current_counts(sig2, noise2, n, floor):
    """Whether the current's power above the noise (sig2, units^2) is K_CURRENT standard
    errors of the noise power (noise2 sqrt(2/n)) above zero, and above the floor (units).
    Only asked when the real power has not already decided (floats cost heap)."""
    if sig2 <= 0:
        return False
    return sig2 * sig2 > noise2 * noise2 * K2_CURRENT / n and sig2 > floor * floor


def unit_shift(scale):
    """Bits to drop from a sample so that 3.6 V at the pin is at most MAX_UNITS units."""
    span = 3.6 / scale
    s = 0
    while span > MAX_UNITS * (1 << s):
        s += 1
    return s


def measure(i_samples, v_samples, scale, cal, n=0, bidirectional=False, work=None):  # noqa: C901  emonLib: numbered steps
    # 1. The window: n samples covering whole mains cycles, in units of 2**s samples
    #    (64 uV for read_uv: far below the ADC's 0.76 mV step and its noise).
    if n <= 0 or n > len(i_samples):
        n = len(i_samples)
    if n < 2:
        raise ValueError("measure needs at least 2 samples")
    has_v = v_samples is not None
    s = unit_shift(scale)
    out = work if work is not None else array("i", _ZEROS)
    # The native loops read 32-bit ints through pointers: array('i') buffers only.
    native = (NATIVE and isinstance(i_samples, array) and isinstance(out, array)
              and (v_samples is None or isinstance(v_samples, array)))

    # 2. DC bias: the mean over exactly that window (a periodic signal's mean over whole
    #    cycles is its offset, with none of the lag of emonLib's low-pass filter), as an
    #    integer offset for the loop; the remainder (di, dv: the sums about it, under half
    #    a unit per sample) comes out of the squares below.
    if native:
        _levels_native(i_samples, n, s, out, 0)
        if has_v:
            _levels_native(v_samples, n, s, out, 3)
    else:
        levels(i_samples, n, s, out, 0)
        if has_v:
            levels(v_samples, n, s, out, 3)
    oi = (2 * out[0] + n) // (2 * n)
    ov = (2 * out[3] + n) // (2 * n)
    di = out[0] - n * oi
    dv = out[3] - n * ov

    # 3. Faults seen on the raw levels: no bias at all means no clamp on the input (the
    #    switched jack pulls it to ground); samples beyond the linear span are distorted.
    fault = None
    lo = cal["lo_v"] / scale
    hi = cal["hi_v"] / scale
    if (oi << s) < lo or (oi << s) > hi:
        fault = UNPLUGGED
    elif out[1] < lo or out[2] > hi:
        fault = CLIPPED

    # 4. Accumulate squares, second differences and instantaneous power, all integers.
    #    The voltage is shifted by linear interpolation between consecutive samples
    #    (emonLib's PHASECAL): v_prev + phasecal * (v - v_prev) times i sums to
    #    (1 - phasecal) * sum(v_prev * i) + phasecal * sum(v * i); the sample before the
    #    first is the window's last one, as the window holds whole cycles.
    if native:
        _sums_native(i_samples, v_samples if has_v else i_samples, n, s, oi, ov,
                     1 if has_v else 0, out)
    else:
        sums(i_samples, v_samples, n, s, oi, ov, has_v, out)

    # 5. Scale: u pin volts per unit, a_unit amps per unit. (Few float operations from
    #    here on: each one is a 16-byte object on MicroPython.)
    u = scale * (1 << s)
    a_unit = u * cal["ical"]
    var_i = (out[6] * LIM_F + out[7] - di * di / n) / n

    # 6. Noise, from the window itself: white ADC noise of power sigma^2 gives second
    #    differences of power 6 sigma^2, while the mains waveform barely changes from one
    #    sample to the next. Take the larger of that and the workshop's calibration
    #    (plus the unit's rounding), so a noisier board or cable still reads 0 at no load.
    #    Its power is taken out of the current's; the current counts when what is left
    #    is K_CURRENT standard errors (sigma^2 sqrt(2/n)) above zero, and above floor_a.
    noise2 = (out[8] * LIM_F + out[9]) / (6 * n - 2)
    x = cal["noise_a"] / a_unit
    x = x * x + ROUNDING
    if noise2 < x:
        noise2 = x
    elif noise2 > NOISE_CAP * x:
        # Harmonics at a low sample rate also show in second differences: past four times
        # the calibrated noise, call the rest signal (it costs a large current nothing).
        noise2 = NOISE_CAP * x
    sig2 = var_i - noise2
    irms_a = math.sqrt(sig2) * a_unit if sig2 > 0 and fault != UNPLUGGED else 0.0

    # 7. Powers. Without voltage: apparent power at the nominal voltage.
    if not has_v:
        if not _current_counts(sig2, noise2, n, cal["floor_a"] / a_unit):
            irms_a = 0.0
        p = irms_a * cal["nominal_v"]
        return {"irms_a": irms_a, "vrms_v": None, "real_w": p, "apparent_w": p, "pf": None,
                "fault": fault}
    svv = out[10] * LIM_F + out[11]
    var_v = (svv - dv * dv / n) / n
    v_unit = u * cal["vcal"]
    vrms_v = math.sqrt(var_v) * v_unit if var_v > 0 else 0.0
    # The offsets' remainders change sum(dv * di) by under n/4 units^2: far below 1 mW.
    a = cal["phasecal"]
    p0 = out[14] * LIM_F + out[15]
    pm = p0 + a * (out[12] * LIM_F + out[13] - p0)
    # Interpolating between samples also shrinks the voltage a little (0.08 % at 4 kHz,
    # more at lower rates): divide by that gain, found from the window's own voltage
    # (sum of v_prev * v against sum of v^2).
    x = svv - 2 * a * (1 - a) * ((out[10] - out[16]) * LIM_F + (out[11] - out[17]))
    if x > 0:
        pm = pm * math.sqrt(svv / x)
    # With voltage, zero is decided on the real power: its standard error is the current's
    # noise times the voltage's RMS over sqrt(n) (noise is uncorrelated with the voltage;
    # a load's reactive and harmonic currents average out over whole cycles).
    real_w = 0.0
    if fault != UNPLUGGED and pm * pm > K2_POWER * n * var_v * noise2:
        real_w = pm / n * a_unit * v_unit
        # The current carries at least that power (a load under the current's own floor).
        x = abs(real_w)
        if vrms_v > 0 and irms_a * vrms_v < x:
            irms_a = x / vrms_v
    elif not _current_counts(sig2, noise2, n, cal["floor_a"] / a_unit):
        irms_a = 0.0
    apparent_w = irms_a * vrms_v
    if apparent_w <= 0:
        return {"irms_a": 0.0, "vrms_v": vrms_v, "real_w": 0.0, "apparent_w": 0.0, "pf": 0.0,
                "fault": fault}
    # The noise left in the real power is far below the apparent's: keep it within.
    if real_w > apparent_w:
        real_w = apparent_w
    elif -real_w > apparent_w:
        real_w = -apparent_w
    pf = real_w / apparent_w
    # A clamp on backwards: clearly negative real power (not the noise of a reactive load)
    # on a channel that only consumes; a bidirectional channel exports.
    if pf < -0.2 and fault is None and not bidirectional:
        fault = REVERSED
    return {"irms_a": irms_a, "vrms_v": vrms_v, "real_w": real_w, "apparent_w": apparent_w,
            "pf": pf, "fault": fault}
