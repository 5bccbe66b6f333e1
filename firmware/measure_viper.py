# The two per-sample loops of measure.py as @micropython.viper native code, for the ESP32:
# the same integer steps, line for line, as measure.levels and measure.sums (the tested
# reference), on 32-bit machine ints. measure.py imports this module only where it loads;
# elsewhere (CPython, the wasm VM, an .mpy built for another arch) the import fails and the
# Python loops run. The bundle compiles it with mpy-cross -march=xtensawin.
#
# Every intermediate stays under 2**31 (see measure.LIM, measure.MAX_UNITS), so a native
# int never wraps. Buffers must be array('i'); out is measure's array('i') of 18 slots.

import micropython


@micropython.viper
def levels(buf, n: int, s: int, out, j: int):
    b = ptr32(buf)  # type: ignore  # noqa: F821  viper's pointer cast, a compiler builtin
    o = ptr32(out)  # type: ignore  # noqa: F821  as above
    h = (1 << s) >> 1
    lo = b[0]
    hi = lo
    acc = 0
    k = 0
    while k < n:
        x = b[k]
        acc += (x + h) >> s
        if x < lo:
            lo = x
        elif x > hi:
            hi = x
        k += 1
    o[j] = acc
    o[j + 1] = lo
    o[j + 2] = hi


@micropython.viper
def sums(bi, bv, n: int, s: int, oi: int, ov: int, has_v: int, out):  # noqa: C901  one flat loop, as measure.sums
    pi = ptr32(bi)  # type: ignore  # noqa: F821  viper's pointer cast, a compiler builtin
    pv = ptr32(bv)  # type: ignore  # noqa: F821  as above
    o = ptr32(out)  # type: ignore  # noqa: F821  as above
    h = (1 << s) >> 1
    lim = 536870912
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
    q1 = (pi[1] + h) >> s
    q2 = (pi[0] + h) >> s
    dv1 = 0
    if has_v:
        dv1 = ((pv[n - 1] + h) >> s) - ov
    k = 0
    while k < n:
        q = (pi[k] + h) >> s
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
            dv = ((pv[k] + h) >> s) - ov
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
    o[6] = sii_h
    o[7] = sii
    o[8] = see_h
    o[9] = see
    o[10] = svv_h
    o[11] = svv
    o[12] = p1_h
    o[13] = p1
    o[14] = p0_h
    o[15] = p0
    o[16] = c1_h
    o[17] = c1
