"""Every file the workshop writes to a board is read back by its SHA-256: one that comes
back different (a failing USB cable) stops the command with the same sentence, naming the
file, whichever step wrote it."""

from __future__ import annotations

import hashlib

import pytest

from citizenwatt.i18n import lang_scope
from citizenwatt.workshop import config, pipeline
from citizenwatt.workshop.errors import ReadBackMismatch


class GarblingBoard:
    """Stores every file with its last byte changed, as a cable that drops a bit would."""

    def __init__(self):
        self.files: dict[str, bytes] = {}

    def write_file(self, path, data, progress=None):
        self.files[path] = data[:-1] + bytes([data[-1] ^ 1])

    def sha256(self, path):
        return hashlib.sha256(self.files[path]).hexdigest() if path in self.files else None

    def remove_leftovers(self, folder="/"):
        return 0


@pytest.mark.parametrize("step, path", [
    (lambda b: config.write_ca(b, b"-----BEGIN CERTIFICATE-----\n"), config.CA_PATH),
    (lambda b: pipeline.install(b, {"/lib/x.mpy": b"M\x06abc"}, cache_dir=None, packages=()), "/lib/x.mpy"),
])
def test_a_file_read_back_different_stops_with_its_name(step, path):
    board = GarblingBoard()
    with pytest.raises(ReadBackMismatch) as e:
        step(board)
    assert e.value.key == "install.hash_mismatch"
    with lang_scope("fr"):
        assert str(e.value) == (f"Le fichier {path} relu sur la carte ne correspond pas à l'original. "
                                "Relancez `citizenwatt flash` ; si cela se répète, changez de câble USB.")
    with lang_scope("en"):
        assert str(e.value).startswith(f"The file {path} read back from the board does not match")
