# Citizen Watt: Ed25519 signature verification (RFC 8032, section 5.1.7) in plain Python,
# so that a meter can check a firmware update against the deployment's public key with
# nothing but MicroPython's integers. Verify only: the meter never signs. SHA-512, which
# Ed25519 needs and the ESP32's hashlib lacks, is written out here too (FIPS 180-4).
#
# Not constant-time: verification handles only public data (key, message, signature).

import hashlib

_sha512 = getattr(hashlib, "sha512", None)  # CPython and the VM have it; the ESP32 does not

P = 2 ** 255 - 19
L = 2 ** 252 + 27742317777372353535851937790883648493  # the group order


def _pow(b, e, m):
    """b ** e mod m by square-and-multiply (three-argument pow is optional on MicroPython)."""
    r = 1
    b %= m
    while e:
        if e & 1:
            r = r * b % m
        b = b * b % m
        e >>= 1
    return r


def _inv(x):
    return _pow(x, P - 2, P)


D = -121665 * _inv(121666) % P
SQRT_M1 = _pow(2, (P - 1) // 4, P)

# -- SHA-512 --------------------------------------------------------------------------
_K = None
M64 = 0xFFFFFFFFFFFFFFFF


def _k():
    global _K
    if _K is None:
        # The first 64 bits of the fractional parts of the cube roots of the first 80 primes.
        _K = [int(h, 16) for h in (
            "428a2f98d728ae22 7137449123ef65cd b5c0fbcfec4d3b2f e9b5dba58189dbbc "
            "3956c25bf348b538 59f111f1b605d019 923f82a4af194f9b ab1c5ed5da6d8118 "
            "d807aa98a3030242 12835b0145706fbe 243185be4ee4b28c 550c7dc3d5ffb4e2 "
            "72be5d74f27b896f 80deb1fe3b1696b1 9bdc06a725c71235 c19bf174cf692694 "
            "e49b69c19ef14ad2 efbe4786384f25e3 0fc19dc68b8cd5b5 240ca1cc77ac9c65 "
            "2de92c6f592b0275 4a7484aa6ea6e483 5cb0a9dcbd41fbd4 76f988da831153b5 "
            "983e5152ee66dfab a831c66d2db43210 b00327c898fb213f bf597fc7beef0ee4 "
            "c6e00bf33da88fc2 d5a79147930aa725 06ca6351e003826f 142929670a0e6e70 "
            "27b70a8546d22ffc 2e1b21385c26c926 4d2c6dfc5ac42aed 53380d139d95b3df "
            "650a73548baf63de 766a0abb3c77b2a8 81c2c92e47edaee6 92722c851482353b "
            "a2bfe8a14cf10364 a81a664bbc423001 c24b8b70d0f89791 c76c51a30654be30 "
            "d192e819d6ef5218 d69906245565a910 f40e35855771202a 106aa07032bbd1b8 "
            "19a4c116b8d2d0c8 1e376c085141ab53 2748774cdf8eeb99 34b0bcb5e19b48a8 "
            "391c0cb3c5c95a63 4ed8aa4ae3418acb 5b9cca4f7763e373 682e6ff3d6b2b8a3 "
            "748f82ee5defb2fc 78a5636f43172f60 84c87814a1f0ab72 8cc702081a6439ec "
            "90befffa23631e28 a4506cebde82bde9 bef9a3f7b2c67915 c67178f2e372532b "
            "ca273eceea26619c d186b8c721c0c207 eada7dd6cde0eb1e f57d4f7fee6ed178 "
            "06f067aa72176fba 0a637dc5a2c898a6 113f9804bef90dae 1b710b35131c471b "
            "28db77f523047d84 32caab7b40c72493 3c9ebe0a15c9bebc 431d67c49c100d4c "
            "4cc5d4becb3e42b6 597f299cfc657e2a 5fcb6fab3ad6faec 6c44198c4a475817").split()]
    return _K


def _rotr(x, n):
    return ((x >> n) | (x << (64 - n))) & M64


def sha512(data):
    """SHA-512 digest of bytes (hashlib's where the port has it)."""
    if _sha512 is not None:
        return _sha512(data).digest()
    k = _k()
    h = [0x6a09e667f3bcc908, 0xbb67ae8584caa73b, 0x3c6ef372fe94f82b, 0xa54ff53a5f1d36f1,
         0x510e527fade682d1, 0x9b05688c2b3e6c1f, 0x1f83d9abfb41bd6b, 0x5be0cd19137e2179]
    n = len(data)
    pad = (111 - n) % 128
    msg = bytes(data) + b"\x80" + bytes(pad) + (n * 8).to_bytes(16, "big")
    w = [0] * 80
    for off in range(0, len(msg), 128):
        for t in range(16):
            w[t] = int.from_bytes(msg[off + 8 * t:off + 8 * t + 8], "big")
        for t in range(16, 80):
            x = w[t - 15]
            y = w[t - 2]
            s0 = _rotr(x, 1) ^ _rotr(x, 8) ^ (x >> 7)
            s1 = _rotr(y, 19) ^ _rotr(y, 61) ^ (y >> 6)
            w[t] = (w[t - 16] + s0 + w[t - 7] + s1) & M64
        a, b, c, d, e, f, g, hh = h
        for t in range(80):
            s1 = _rotr(e, 14) ^ _rotr(e, 18) ^ _rotr(e, 41)
            ch = (e & f) ^ (~e & M64 & g)
            t1 = (hh + s1 + ch + k[t] + w[t]) & M64
            s0 = _rotr(a, 28) ^ _rotr(a, 34) ^ _rotr(a, 39)
            maj = (a & b) ^ (a & c) ^ (b & c)
            t2 = (s0 + maj) & M64
            hh = g
            g = f
            f = e
            e = (d + t1) & M64
            d = c
            c = b
            b = a
            a = (t1 + t2) & M64
        h = [(h[0] + a) & M64, (h[1] + b) & M64, (h[2] + c) & M64, (h[3] + d) & M64,
             (h[4] + e) & M64, (h[5] + f) & M64, (h[6] + g) & M64, (h[7] + hh) & M64]
    out = b""
    for x in h:
        out += x.to_bytes(8, "big")
    return out


# -- the curve (extended coordinates X, Y, Z, T with x = X/Z, y = Y/Z, xy = T/Z) ---------

def _add(p, q):
    a = (p[1] - p[0]) * (q[1] - q[0]) % P
    b = (p[1] + p[0]) * (q[1] + q[0]) % P
    c = 2 * p[3] * q[3] * D % P
    d = 2 * p[2] * q[2] % P
    e = b - a
    f = d - c
    g = d + c
    h = b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _mul(s, p):
    q = (0, 1, 1, 0)  # the neutral element
    while s > 0:
        if s & 1:
            q = _add(q, p)
        p = _add(p, p)
        s >>= 1
    return q


def _equal(p, q):
    # x1/z1 == x2/z2 and y1/z1 == y2/z2
    return (p[0] * q[2] - q[0] * p[2]) % P == 0 and (p[1] * q[2] - q[1] * p[2]) % P == 0


def _recover_x(y, sign):
    if y >= P:
        return None
    x2 = (y * y - 1) * _inv(D * y * y + 1)
    if x2 == 0:
        return None if sign else 0
    x = _pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P != 0:
        return None
    if (x & 1) != sign:
        x = P - x
    return x


def _decompress(s):
    if len(s) != 32:
        return None
    y = int.from_bytes(s, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % P)


_G = None


def _base():
    global _G
    if _G is None:
        gy = 4 * _inv(5) % P
        gx = _recover_x(gy, 0)
        _G = (gx, gy, 1, gx * gy % P)
    return _G


def verify(public_key, message, signature):
    """True when signature (64 bytes) is public_key's (32 bytes) Ed25519 signature of
    message; False for any malformed input. RFC 8032's cofactorless check [S]B = R + [k]A."""
    if len(public_key) != 32 or len(signature) != 64:
        return False
    a = _decompress(public_key)
    if a is None:
        return False
    r_bytes = signature[:32]
    r = _decompress(r_bytes)
    if r is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= L:
        return False
    k = int.from_bytes(sha512(bytes(r_bytes) + bytes(public_key) + bytes(message)), "little") % L
    return _equal(_mul(s, _base()), _add(r, _mul(k, a)))
