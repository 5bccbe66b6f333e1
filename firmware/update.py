# Citizen Watt updates over Wi-Fi: the update command, the firmware archive streamed into
# the slot that is not running (A/B), its SHA-256 and Ed25519 checks, and the decisions at
# boot (which slot runs, when a trial version is kept or rolled back). The decisions are
# pure functions of the small state in ota.json, so they run the same on the ESP32, the
# MicroPython VM and CPython; device.py, board/boot.py and meter.py only apply them.
#
# Slots: /ota/a and /ota/b each hold a `citizenwatt/` package; boot.py puts the running
# one first on sys.path. With no slot active the workshop's /lib copy runs ("factory").

import hashlib
import json

from . import ed25519

SLOTS = ("a", "b")
STATE_FILE = "ota.json"
ARCHIVE_MAGIC = b"CWFW1\n"
SIGNED_PREFIX = "citizenwatt-fw 1\n"
# A trial version has this many boots to come on line; the next boot runs the old one.
MAX_TRIAL_BOOTS = 2
# ... and this long (boot.py's timer): a version that hangs without crashing goes back too.
TRIAL_WINDOW_MS = 5 * 60 * 1000
MAX_ARCHIVE_BYTES = 1024 * 1024
MAX_VERSION = 24

# Update states reported in the status ("update" field; "update_to" names the version).
IDLE = "idle"
TRIAL = "trial"
UPDATED = "updated"
ROLLED_BACK = "rolled_back"
REFUSED = "refused"
# Reasons a command or a download is refused (also in the status, "update_error").
BAD_COMMAND = "bad_command"
NO_KEY = "no_key"
BAD_SIGNATURE = "bad_signature"
BAD_HASH = "bad_hash"
BAD_SIZE = "bad_size"
BAD_ARCHIVE = "bad_archive"
DOWNLOAD_FAILED = "download_failed"


def signed_message(version, sha256_hex, size):
    """The bytes the deployment's key signs for one firmware archive."""
    return ("%s%s\n%s\n%d\n" % (SIGNED_PREFIX, version, sha256_hex, size)).encode()


def _hex(s, n):
    if not isinstance(s, str) or len(s) != n:
        return None
    for c in s:
        if c not in "0123456789abcdef":
            return None
    return s


def _version_ok(v):
    if not isinstance(v, str) or not 0 < len(v) <= MAX_VERSION:
        return False
    for c in v:
        if not ("a" <= c <= "z" or "A" <= c <= "Z" or "0" <= c <= "9" or c in ".-+_"):
            return False
    return True


def parse_command(payload):
    """The update command as a dict (version, url, sha256, size, sig), or None when the
    payload is not one (an empty retained payload clears a command)."""
    try:
        cmd = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(cmd, dict) or cmd.get("v") != 1 or not _version_ok(cmd.get("version")):
        return None
    url = cmd.get("url")
    size = cmd.get("size")
    if not isinstance(url, str) or not url.startswith("https://") or len(url) > 256:
        return None
    if not isinstance(size, int) or isinstance(size, bool) or not 0 < size <= MAX_ARCHIVE_BYTES:
        return None
    if _hex(cmd.get("sha256"), 64) is None or _hex(cmd.get("sig"), 128) is None:
        return None
    return cmd


def wanted(cmd, running, state):
    """Should this command start a download? Not for the version running, nor for one that
    was already tried and rolled back or refused (staff publish a new version instead)."""
    if cmd is None or cmd["version"] == running:
        return False
    if state.get("trial") is not None:
        return False
    return state.get("failed_version") != cmd["version"]


def check_signature(cmd, key_hex):
    """None when cmd's signature is the deployment key's, else the reason."""
    if _hex(key_hex, 64) is None:
        return NO_KEY
    msg = signed_message(cmd["version"], cmd["sha256"], cmd["size"])
    ok = ed25519.verify(_unhex(key_hex), msg, _unhex(cmd["sig"]))
    return None if ok else BAD_SIGNATURE


def _unhex(s):
    out = bytearray(len(s) // 2)
    for i in range(len(out)):
        out[i] = int(s[2 * i:2 * i + 2], 16)
    return bytes(out)


# -- decisions at boot and once on line ---------------------------------------------------

def other_slot(state):
    return "b" if state.get("active") == "a" else "a"


def at_boot(state):
    """(slot to run or None for /lib, state to store). A trial version that used up its
    boots without coming on line is rolled back here, before anything of it runs."""
    st = dict(state)
    if st.get("trial") is not None:
        if st.get("tries", 0) >= MAX_TRIAL_BOOTS:
            st["failed_version"] = st.get("trial_version")
            st["trial"] = None
            st["tries"] = 0
            st["last"] = ROLLED_BACK
            return st.get("active"), st
        st["tries"] = st.get("tries", 0) + 1
        return st["trial"], st
    return st.get("active"), st


def installed(state, slot, version):
    """The state after a verified archive landed in slot: try it at the next boot."""
    st = dict(state)
    st["trial"] = slot
    st["trial_version"] = version
    st["tries"] = 0
    st["last"] = TRIAL
    return st


def confirm(state):
    """The state once the trial version came on line (status sent, a reading acknowledged):
    it becomes the active one. None when there is nothing to confirm."""
    if state.get("trial") is None:
        return None
    st = dict(state)
    st["active"] = st["trial"]
    st["active_version"] = st.get("trial_version")
    st["trial"] = None
    st["tries"] = 0
    st["last"] = UPDATED
    st["failed_version"] = None
    return st


def expire(state):
    """The state when the trial window passed without confirm (boot.py's timer): roll back
    at the next boot. None when nothing is on trial."""
    if state.get("trial") is None:
        return None
    st = dict(state)
    st["tries"] = MAX_TRIAL_BOOTS
    return st


def refused(state, version, reason):
    """The state after a refusal. A download cut short may be tried again (the retained
    command comes back at the next connection); anything else is not tried again."""
    st = dict(state)
    st["last"] = REFUSED
    st["failed_version"] = None if reason == DOWNLOAD_FAILED else version
    st["error"] = reason
    st["refused_version"] = version
    return st


def status_fields(state):
    """The status fields that tell the server where an update stands."""
    last = state.get("last") or IDLE
    out = {"update": last}
    v = state.get("trial_version") if last == TRIAL else (
        state.get("failed_version") if last == ROLLED_BACK else (
            state.get("refused_version") if last == REFUSED else None))
    if v:
        out["update_to"] = v
    if last == REFUSED and state.get("error"):
        out["update_error"] = state["error"]
    return out


# -- state file and archive ----------------------------------------------------------------

def load_state(path, opener=open):
    try:
        with opener(path, "r") as f:
            st = json.loads(f.read())
        return st if isinstance(st, dict) else {}
    except (OSError, ValueError):
        return {}


def save_state(path, state, opener=open, fs=None):
    """Written to a side file, then renamed over the old one: a power cut keeps one whole."""
    tmp = path + ".new"
    with opener(tmp, "w") as f:
        f.write(json.dumps(state))
    if fs is not None:
        fs.rename(tmp, path)
    else:
        import os
        os.rename(tmp, path)


def _safe_name(name):
    if not name or len(name) > 96 or name[0] == "/" or ".." in name:
        return False
    for c in name:
        if not ("a" <= c <= "z" or "A" <= c <= "Z" or "0" <= c <= "9" or c in "._-/"):
            return False
    return True


def _makedirs(fs, path):
    parts = path.split("/")
    cur = ""
    for p in parts:
        if not p:
            cur = "/" if not cur else cur
            continue
        cur = p if cur == "" else (cur + p if cur.endswith("/") else cur + "/" + p)
        try:
            fs.mkdir(cur)
        except OSError:
            pass


def wipe(fs, path):
    """Remove a slot directory and everything in it (a failed or old install)."""
    try:
        names = fs.listdir(path)
    except OSError:
        return
    for name in names:
        p = path + "/" + name
        try:
            fs.remove(p)
        except OSError:
            wipe(fs, p)
    try:
        fs.rmdir(path)
    except OSError:
        pass


class Installer:
    """Streams a firmware archive into a slot directory while hashing it.

    Archive: ARCHIVE_MAGIC, then per file "<name> <size>\\n" and its bytes. Files land in
    the slot that is not running; nothing switches until finish() has checked the size,
    the SHA-256 and the signature, so a torn or forged download is never run.
    """

    def __init__(self, slot_dir, cmd, opener=open, fs=None):
        self.dir = slot_dir
        self.cmd = cmd
        self._open = opener
        self._fs = fs
        self.hash = hashlib.sha256()
        self.size = 0
        self.error = None
        self.files = []
        self._buf = b""
        self._magic = False
        self._left = 0     # bytes still to write to the current file
        self._f = None
        wipe(fs, slot_dir)
        _makedirs(fs, slot_dir)

    def feed(self, chunk):
        """Take the next bytes of the download; False once it is refused (stop reading)."""
        if self.error is not None:
            return False
        self.size += len(chunk)
        if self.size > self.cmd["size"]:
            self._fail(BAD_SIZE)
            return False
        self.hash.update(chunk)
        self._buf += chunk
        while self._buf and self.error is None:
            if not self._magic:
                if len(self._buf) < len(ARCHIVE_MAGIC):
                    return True
                if self._buf[:len(ARCHIVE_MAGIC)] != ARCHIVE_MAGIC:
                    self._fail(BAD_ARCHIVE)
                    return False
                self._buf = self._buf[len(ARCHIVE_MAGIC):]
                self._magic = True
            elif self._f is None:
                nl = self._buf.find(b"\n")
                if nl < 0:
                    if len(self._buf) > 128:
                        self._fail(BAD_ARCHIVE)
                    return self.error is None
                if not self._open_file(self._buf[:nl]):
                    return False
                self._buf = self._buf[nl + 1:]
            else:
                part = self._buf[:self._left]
                self._f.write(part)
                self._left -= len(part)
                self._buf = self._buf[len(part):]
                if self._left == 0:
                    self._f.close()
                    self._f = None
        return self.error is None

    def _open_file(self, header):
        try:
            name, size = header.decode().split(" ")
            size = int(size)
        except ValueError:
            name, size = "", -1
        if not _safe_name(name) or size < 0:
            self._fail(BAD_ARCHIVE)
            return False
        path = self.dir + "/" + name
        k = path.rfind("/")
        _makedirs(self._fs, path[:k])
        self._f = self._open(path, "wb")
        self._left = size
        self.files.append(name)
        if size == 0:
            self._f.close()
            self._f = None
        return True

    def _fail(self, reason):
        self.error = reason
        if self._f is not None:
            self._f.close()
            self._f = None
        wipe(self._fs, self.dir)

    def finish(self):
        """None when the archive is whole and its size and SHA-256 are the signed ones
        (check_signature() checked the command before the download); else the reason
        (the slot is then wiped)."""
        if self.error is not None:
            return self.error
        if self.size != self.cmd["size"]:
            self._fail(BAD_SIZE)
        elif "".join("%02x" % b for b in self.hash.digest()) != self.cmd["sha256"]:
            self._fail(BAD_HASH)
        elif self._f is not None or self._buf or not self._magic or not self.files:
            self._fail(BAD_ARCHIVE)
        return self.error
