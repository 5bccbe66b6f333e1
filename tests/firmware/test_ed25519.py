"""Ed25519 verification (firmware/ed25519.py) against RFC 8032's test vectors, on CPython
(hashlib's SHA-512 and the module's own) and on the MicroPython VM, plus signatures made by
the server's library (`cryptography`) and tampered ones."""

from __future__ import annotations

import hashlib
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from citizenwatt.firmware import ed25519
from citizenwatt.host.mpvm import run_on_vm
from tests.firmware import vm

# RFC 8032, section 7.1: TEST 1, 2, 3 and SHA(abc): (secret, public, message, signature).
RFC8032 = [
    ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bac"
     "c61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
    ("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e"
     "458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
    ("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290"
     "ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"),
]


def cases() -> list[tuple[str, str, str, bool]]:
    """(public, message, signature, expected) hex cases: the RFC's, the same with one bit
    flipped in each part, and three signatures made by `cryptography` on a longer text."""
    out = []
    for _, pub, msg, sig in RFC8032:
        out.append((pub, msg, sig, True))
        bad_sig = bytearray.fromhex(sig)
        bad_sig[5] ^= 1
        out.append((pub, msg, bad_sig.hex(), False))
        bad_msg = (bytes.fromhex(msg) + b"x").hex()
        out.append((pub, bad_msg, sig, False))
        # S + L: same point equation, but not canonical (RFC 8032: S must be below L).
        s = int.from_bytes(bytes.fromhex(sig)[32:], "little") + ed25519.L
        out.append((pub, msg, (bytes.fromhex(sig)[:32] + s.to_bytes(32, "little")).hex(), False))
    for seed in (b"a" * 32, b"b" * 32):
        key = Ed25519PrivateKey.from_private_bytes(seed)
        pub = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        msg = b"citizenwatt-fw\n0.3.0\n" + hashlib.sha256(seed).hexdigest().encode()
        out.append((pub.hex(), msg.hex(), key.sign(msg).hex(), True))
        other = Ed25519PrivateKey.from_private_bytes(bytes(32)).sign(msg)
        out.append((pub.hex(), msg.hex(), other.hex(), False))
    out.append(("00" * 31, "", "00" * 64, False))          # short key
    return out


def test_rfc8032_vectors_match_the_server_library():
    # The vectors as written here are the RFC's: `cryptography` derives the same public key
    # and makes the same (deterministic) signature from each secret.
    for secret, pub, msg, sig in RFC8032:
        key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(secret))
        assert key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex() == pub
        assert key.sign(bytes.fromhex(msg)).hex() == sig


@pytest.mark.parametrize("own_sha512", [False, True])
def test_verify_on_cpython(monkeypatch, own_sha512):
    if own_sha512:  # the ESP32's hashlib has no sha512: the module's own is used there
        monkeypatch.setattr(ed25519, "_sha512", None)
    got = [ed25519.verify(bytes.fromhex(p), bytes.fromhex(m), bytes.fromhex(s))
           for p, m, s, _ in cases()]
    assert got == [c[3] for c in cases()]


def test_own_sha512_matches_hashlib(monkeypatch):
    monkeypatch.setattr(ed25519, "_sha512", None)
    for n in (0, 3, 111, 112, 127, 128, 129, 300):
        data = bytes((i * 7 + n) & 255 for i in range(n))
        assert ed25519.sha512(data) == hashlib.sha512(data).digest()


def test_verify_on_the_micropython_vm(tmp_path):
    cs = cases()
    code = ("from fw import ed25519\n"
            "import binascii\n"
            "cs = json.loads(" + repr(json.dumps([c[:3] for c in cs])) + ")\n"
            "out = []\n"
            "for c in cs:\n"
            "    p = binascii.unhexlify(c[0]); m = binascii.unhexlify(c[1])\n"
            "    s = binascii.unhexlify(c[2])\n"
            "    ok = ed25519.verify(p, m, s)\n"
            "    out.append(ok)\n"
            "print(json.dumps({'ok': out, 'own_sha': ed25519._sha512 is None,\n"
            "    'abc': binascii.hexlify(ed25519.sha512(b'abc')).decode()}))\n")
    # Big-integer work costs the VM more fuel than the helper's default allows.
    result = run_on_vm(vm.PRELUDE + code, vm.input_dir(tmp_path), fuel=50_000_000_000,
                       timeout_s=300, heap_bytes=vm.HEAP_BYTES)
    r = json.loads([x for x in result.lines() if x.startswith("{")][-1])
    assert r["ok"] == [c[3] for c in cs]
    assert r["abc"] == hashlib.sha512(b"abc").hexdigest()
