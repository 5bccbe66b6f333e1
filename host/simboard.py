"""A simulated ESP32 running MicroPython, on a pseudo-terminal, for tests and rehearsals.

It speaks MicroPython's raw REPL the way mpremote expects it (Ctrl-A raw mode, Ctrl-D to
execute or soft-reset, raw-paste with flow control, Ctrl-B back to the friendly REPL) and
runs what it receives with CPython in a namespace that looks like the board: an in-memory
flash (os, open), machine.ADC fed by simulated clamps, network.WLAN, time ticks,
sys.implementation._mpy, vfs.mount() and os.statvfs for `mpremote df`. `import` finds
modules in the flash as MicroPython does (the root, then /lib; .py, .mpy, packages); an
.mpy runs from the source it was compiled from (the path mpy-cross wrote into it, else
the host's module of that name), its native code (viper) is not simulated.
unplug()/replug() stand for the USB cable; flash survives both.

It is not a security sandbox: it only runs code the workshop tool itself sends.
"""

from __future__ import annotations

import builtins
import errno
import importlib
import importlib.util
import io
import math
import os
import random
import select
import struct
import sys
import threading
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType

from citizenwatt.firmware import config as fwconfig

MICROPYTHON_VERSION = "1.24.1"
MPY_VERSION = 6  # sys.implementation._mpy & 0xFF on MicroPython 1.22+
BANNER = (f"MicroPython v{MICROPYTHON_VERSION} on 2024-11-29; Generic ESP32 module with ESP32\r\n"
          'Type "help()" for more information.\r\n')
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n>"
RAW_PASTE_WINDOW = 512

S_IFDIR = 0x4000
S_IFREG = 0x8000

# Modules the board code may import from the host as they are (MicroPython has them too).
_PASSTHROUGH = {"hashlib", "binascii", "json", "struct", "math", "array", "errno", "io",
                "select", "random", "collections", "re", "socket", "ubinascii", "uhashlib",
                "ujson", "ustruct", "usocket", "uerrno", "uio", "uselect", "urandom",
                "ucollections", "ure"}


class _Reset(BaseException):
    """machine.reset() called: the board reboots without answering the command."""


# --------------------------------------------------------------------------------------
# Flash: a tiny littlefs stand-in
# --------------------------------------------------------------------------------------

class MemFS:
    """Files and directories in memory. Paths are absolute; the cwd is always '/'."""

    def __init__(self, capacity_bytes: int = 1_400_000):
        self.files: dict[str, bytearray] = {}
        self.dirs: set[str] = {"/", "/lib"}
        self.capacity_bytes = capacity_bytes
        self.lock = threading.RLock()

    @staticmethod
    def norm(path: str) -> str:
        if not path.startswith("/"):
            path = "/" + path
        parts = []
        for p in path.split("/"):
            if p in ("", "."):
                continue
            if p == "..":
                if parts:
                    parts.pop()
            else:
                parts.append(p)
        return "/" + "/".join(parts)

    def used_bytes(self) -> int:
        return sum(len(b) for b in self.files.values())

    def _parent_ok(self, path: str) -> None:
        parent = path.rsplit("/", 1)[0] or "/"
        if parent not in self.dirs:
            raise OSError(errno.ENOENT, "ENOENT")

    def read(self, path: str) -> bytes:
        return bytes(self.files[self.norm(path)])

    def write(self, path: str, data: bytes) -> None:
        path = self.norm(path)
        with self.lock:
            self._parent_ok(path)
            self.files[path] = bytearray(data)

    # os module functions --------------------------------------------------------------

    def stat(self, path):
        path = self.norm(path)
        if path in self.dirs:
            return (S_IFDIR, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        if path in self.files:
            return (S_IFREG, 0, 0, 0, 0, 0, len(self.files[path]), 0, 0, 0)
        raise OSError(errno.ENOENT, "ENOENT")

    def ilistdir(self, path="/"):
        path = self.norm(path)
        if path not in self.dirs:
            raise OSError(errno.ENOENT, "ENOENT")
        prefix = path.rstrip("/") + "/"
        out = []
        for d in sorted(self.dirs):
            if d != path and d.startswith(prefix) and "/" not in d[len(prefix):]:
                out.append((d[len(prefix):], S_IFDIR, 0, 0))
        for f in sorted(self.files):
            if f.startswith(prefix) and "/" not in f[len(prefix):]:
                out.append((f[len(prefix):], S_IFREG, 0, len(self.files[f])))
        return iter(out)

    def listdir(self, path="/"):
        return [e[0] for e in self.ilistdir(path)]

    def mkdir(self, path):
        path = self.norm(path)
        with self.lock:
            if path in self.dirs or path in self.files:
                raise OSError(errno.EEXIST, "EEXIST")
            self._parent_ok(path)
            self.dirs.add(path)

    def rmdir(self, path):
        path = self.norm(path)
        with self.lock:
            if path not in self.dirs:
                raise OSError(errno.ENOENT, "ENOENT")
            if any(self.ilistdir(path)):
                raise OSError(errno.EACCES, "EACCES")
            self.dirs.discard(path)

    def remove(self, path):
        path = self.norm(path)
        with self.lock:
            if path not in self.files:
                raise OSError(errno.ENOENT, "ENOENT")
            del self.files[path]

    def rename(self, old, new):
        old, new = self.norm(old), self.norm(new)
        with self.lock:
            if old not in self.files:
                raise OSError(errno.ENOENT, "ENOENT")
            self._parent_ok(new)
            self.files[new] = self.files.pop(old)

    def statvfs(self, path="/"):
        free_blocks = max(0, self.capacity_bytes - self.used_bytes()) // 4096
        return (4096, 4096, self.capacity_bytes // 4096, free_blocks, free_blocks, 0, 0, 0, 0, 255)

    def open(self, path, mode="r", *args, **kwargs):
        path = self.norm(path)
        binary = "b" in mode
        if "r" in mode and "+" not in mode:
            if path not in self.files:
                raise OSError(errno.ENOENT, "ENOENT")
            data = bytes(self.files[path])
            return io.BytesIO(data) if binary else io.StringIO(data.decode())
        with self.lock:
            self._parent_ok(path)
            if "w" in mode or path not in self.files:
                self.files[path] = bytearray()
        return _FlashFile(self, path, binary)


class _FlashFile:
    """A file open for writing: each write lands in flash at once, as on littlefs with
    small buffers, so an interrupted transfer leaves a truncated file behind."""

    def __init__(self, fs: MemFS, path: str, binary: bool):
        self.fs, self.path, self.binary = fs, path, binary

    def write(self, data):
        if not self.binary and isinstance(data, str):
            data = data.encode()
        with self.fs.lock:
            if self.fs.used_bytes() + len(data) > self.fs.capacity_bytes:
                raise OSError(errno.ENOSPC, "ENOSPC")
            self.fs.files[self.path].extend(data)
        return len(data)

    def flush(self):
        pass

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --------------------------------------------------------------------------------------
# Electrical model: clamps on ADC pins
# --------------------------------------------------------------------------------------

@dataclass
class SimChannel:
    """One clamp input. load_w is the appliance power (at nominal_v, unity power factor)."""
    pin: int
    load_w: float = 0.0
    reversed: bool = False
    gain: float = 1.0            # true sensitivity / design sensitivity: what calibration finds
    bias_v: float = 1.2692       # calib.design() for an SCT-013-000 at 11 dB: 10k/16k divider
    noise_v: float = 0.0008      # RMS noise at the ADC pin (as the firmware's host ADC)
    turns: int = 2000
    burden_ohm: float = 15.0     # calib.design()'s burden for 100 A
    stuck_uv: int | None = None  # a broken solder joint: the pin reads a constant
    # Build faults the workshop's diagnosis must name (docs/workshop.md, "Fault table"):
    plugged: bool = True         # False: no clamp in the socket, its switch ties the input to GND
    bias_cap: bool = True        # False: the 10 uF midpoint capacitor is missing (noisy bias)
    wired_pin: int | None = None  # the clamp's wire soldered to another GPIO (e.g. 25, on ADC2)
    # burden_ohm None: no burden resistor, the clamp's open secondary drives the pin to the rails


# What the bias point picks up without its 10 uF capacitor (supply ripple, Wi-Fi bursts):
# broadband, tens of times the ADC's own noise.
NO_CAP_NOISE_V = 0.012
# ESP32 GPIOs on ADC2: readable only while Wi-Fi is off (the radio owns that converter).
ADC2_PINS = (0, 2, 4, 12, 13, 14, 15, 25, 26, 27)


@dataclass
class SimBoardSpec:
    mac: bytes = b"\x24\x0a\xc4\x12\x34\x56"
    # The reference board's three clamps (firmware/config.py CURRENT_PINS).
    channels: list[SimChannel] = field(default_factory=lambda: [
        SimChannel(p) for p in fwconfig.CURRENT_PINS[:3]])
    voltage_pin: int | None = None  # AC-AC adapter input, if fitted (fwconfig.VOLTAGE_PIN)
    mains_v: float = 230.0
    mains_hz: float = 50.0
    voltage_scale: float = 357.778  # mains volts per pin volt: calib.design()'s vcal, 9 V adapter
    wifi: dict[str, tuple[str, int]] = field(default_factory=lambda: {"atelier": ("motdepasse", -58)})
    seed: int = 1
    # The AC-AC adapter: "ok", "absent" (not plugged in the wall: the pin sits at its bias),
    # or "reversed" (its plug turned round in a non-polarised socket: the voltage is inverted).
    adapter: str = "ok"


class SimBoard:
    """A simulated board on a pty; `port` is the device path to give mpremote."""

    def __init__(self, spec: SimBoardSpec | None = None,
                 runner: Callable[[SimBoard, threading.Event], None] | None = None):
        self.spec = spec or SimBoardSpec()
        self.fs = MemFS()
        self.runner = runner          # the meter firmware stand-in, started by reset
        self.on_exec: Callable[[str], bool] | None = None  # True: unplug instead of running
        self.exec_count = 0
        self.resets = 0
        self.port: str | None = None
        self._rng = random.Random(self.spec.seed)
        self._t0 = time.monotonic()
        self._vclock_us = 0
        self._master = self._slave = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._cable = threading.RLock()  # plug/unplug, from the test or the board's thread
        self._runner_stop = threading.Event()
        self._runner_thread: threading.Thread | None = None
        self.wlan_connected_ssid: str | None = None
        self.wlan_active = False  # the radio is on: ADC2 cannot be read

    # --- USB cable --------------------------------------------------------------------

    def plug(self) -> str:
        with self._cable:
            self._master, self._slave = os.openpty()
            tty.setraw(self._slave)
            tty.setraw(self._master)
            self.port = os.ttyname(self._slave)
            # A new event and fd per plug: the serving thread of an earlier plug (it may still
            # be finishing the command that pulled the cable) must never serve the new port.
            self._stop = threading.Event()
            self._reset_state()
            self._thread = threading.Thread(target=self._serve, args=(self._stop, self._master),
                                            name="simboard-" + self.port, daemon=True)
            self._thread.start()
            return self.port

    def unplug(self) -> None:
        """Pull the cable: the port vanishes, the host's reads and writes fail."""
        # Under the lock: when the board's own thread pulls the cable (on_exec) while the
        # test already replugs, this must not close or forget the new port's descriptors.
        with self._cable:
            self._stop.set()
            self._stop_runner()
            for fd in (self._master, self._slave):
                if fd is not None:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            self._master = self._slave = None
            thread = self._thread
        if thread and thread is not threading.current_thread():
            thread.join(2)

    replug = plug

    def close(self) -> None:
        self.unplug()

    def __enter__(self):
        self.plug()
        return self

    def __exit__(self, *exc):
        self.close()

    # --- electrical model ---------------------------------------------------------------

    def now_s(self) -> float:
        return time.monotonic() - self._t0

    def ticks_us(self) -> int:
        # A virtual microsecond clock for the sampling loops: it moves by fixed steps per
        # call and per ADC read, so a sampling window is perfectly regular whatever the
        # host's load (a real ESP32 loop is steady; a preempted host thread is not).
        self._vclock_us += 3
        return self._vclock_us & 0x3FFFFFFF

    def pin_uv(self, pin: int) -> int:
        self._vclock_us += 12
        t = self._vclock_us / 1e6
        s = self.spec
        w = 2 * math.pi * s.mains_hz * t
        if pin == s.voltage_pin:
            sign = {"ok": 1, "absent": 0, "reversed": -1}[s.adapter]
            v = 1.2692 + sign * math.sqrt(2) * s.mains_v * math.sin(w) / s.voltage_scale \
                + self._rng.gauss(0, 0.0008)
        else:
            # The clamp whose wire reaches this pin (its own, unless soldered elsewhere).
            ch = next((c for c in s.channels if (c.pin if c.wired_pin is None else c.wired_pin) == pin),
                      None)
            if ch is None:
                return self._rng.randint(0, 3_100_000)  # a floating input
            if ch.stuck_uv is not None:
                return ch.stuck_uv
            if not ch.plugged:  # the empty socket's switch contact holds the input at GND
                return int(abs(self._rng.gauss(0, 0.0004)) * 1e6)
            irms = ch.load_w / s.mains_v
            i = math.sqrt(2) * irms * math.sin(w) * (-1 if ch.reversed else 1)
            # No burden: the open secondary's voltage is only limited by the pin's diodes.
            burden = 1e6 if ch.burden_ohm is None else ch.burden_ohm
            noise = math.hypot(ch.noise_v, 0 if ch.bias_cap else NO_CAP_NOISE_V)
            v = ch.bias_v + i / ch.turns * burden * ch.gain + self._rng.gauss(0, noise)
        return int(min(max(v, 0.0), 3.1) * 1e6)

    # --- the serial line ---------------------------------------------------------------

    def _reset_state(self) -> None:
        self.mode = "friendly"
        self.line = bytearray()
        self.paste: bytearray | None = None
        self.paste_count = 0
        self.globals = {"__name__": "__main__"}
        self.flash_modules: dict[str, ModuleType] = {}  # sys.modules of the board's own files

    def _write(self, data: bytes) -> None:
        if self._master is None:
            return
        try:
            os.write(self._master, data)
        except OSError:
            pass

    def _serve(self, stop: threading.Event, fd: int) -> None:
        while not stop.is_set():
            try:
                ready, _, _ = select.select([fd], [], [], 0.05)
                if not ready:
                    continue
                data = os.read(fd, 4096)
            except (OSError, ValueError):
                return
            for c in data:
                if stop.is_set():
                    return
                self._on_byte(c)

    def _on_byte(self, c: int) -> None:
        if self.paste is not None:
            self._on_paste_byte(c)
        elif self.mode == "friendly":
            self._on_friendly_byte(c)
        else:
            self._on_raw_byte(c)

    def _on_friendly_byte(self, c: int) -> None:
        if c == 0x01:                      # Ctrl-A: raw REPL
            self.mode = "raw"
            self.line = bytearray()
            self._write(b"\r\n" + RAW_BANNER)
        elif c == 0x03:                    # Ctrl-C: stop the running program
            if self._stop_runner():
                self._write(b"\r\nKeyboardInterrupt: \r\n")
            self._write(b"\r\n>>> ")
        elif c == 0x04:                    # Ctrl-D: soft reboot, runs main.py
            self._write(b"MPY: soft reboot\r\n" + BANNER.encode() + b">>> ")
            self.globals = {"__name__": "__main__"}
            self.flash_modules = {}
            self._start_runner()
        elif c == 0x02:
            self._write(b"\r\n" + BANNER.encode() + b">>> ")
        elif c == 0x0D:
            self._write(b"\r\n>>> ")
        else:
            self._write(bytes([c]))

    def _on_raw_byte(self, c: int) -> None:
        if c == 0x01:
            if self.line == b"\x05A":      # raw-paste request: Ctrl-E 'A' Ctrl-A
                self.line = bytearray()
                self._write(b"R\x01" + struct.pack("<H", RAW_PASTE_WINDOW))
                self.paste = bytearray()
                self.paste_count = 0
                return
            self.line = bytearray()
            self._write(b"\r\n" + RAW_BANNER)
        elif c == 0x02:                    # Ctrl-B: friendly REPL
            self.mode = "friendly"
            self.line = bytearray()
            self._write(b"\r\n" + BANNER.encode() + b">>> ")
        elif c == 0x03:
            self.line = bytearray()
            self._stop_runner()
        elif c == 0x04:
            if not self.line:              # Ctrl-D on an empty line: soft reset
                self._write(b"OK\r\nMPY: soft reboot\r\n" + RAW_BANNER)
                self.globals = {"__name__": "__main__"}
                self.wlan_active = False
                self.flash_modules = {}
                return
            code, self.line = bytes(self.line), bytearray()
            self._write(b"OK")
            self._run(code)
        else:
            self.line.append(c)

    def _on_paste_byte(self, c: int) -> None:
        if c == 0x04:
            code, self.paste = bytes(self.paste), None
            self._write(b"\x04")           # end of data acknowledged
            self._run(code)
            return
        self.paste.append(c)
        self.paste_count += 1
        if self.paste_count % RAW_PASTE_WINDOW == 0:
            self._write(b"\x01")           # room for another window

    # --- execution ----------------------------------------------------------------------

    def _run(self, code: bytes) -> None:
        self.exec_count += 1
        text = code.decode("utf-8", "replace")
        if self.on_exec is not None and self.on_exec(text):
            self.unplug()
            return
        out = io.StringIO()
        err = ""
        try:
            compiled = compile(text, "<stdin>", "exec")
            exec(compiled, self._namespace(out))
        except _Reset:
            self._do_reset()
            return
        except BaseException as e:  # noqa: BLE001 - the board reports every error as text
            err = _traceback_text(e)
        self._write(out.getvalue().replace("\n", "\r\n").encode() + b"\x04"
                    + err.encode() + b"\x04>")

    def _do_reset(self) -> None:
        self.resets += 1
        self._reset_state()
        self._write(b"\r\nets Jun  8 2016 00:22:57\r\n\r\nrst:0xc (SW_CPU_RESET),boot:0x13 "
                    b"(SPI_FAST_FLASH_BOOT)\r\n" + BANNER.encode() + b">>> ")
        self._start_runner()

    def _start_runner(self) -> None:
        self._stop_runner()
        if self.runner is None or "/main.py" not in self.fs.files and "/main.mpy" not in self.fs.files:
            return
        self._runner_stop = threading.Event()
        self._runner_thread = threading.Thread(target=self.runner, args=(self, self._runner_stop),
                                               name="simboard-firmware", daemon=True)
        self._runner_thread.start()

    def _stop_runner(self) -> bool:
        th = self._runner_thread
        if th is None:
            return False
        self._runner_stop.set()
        if th is not threading.current_thread():
            th.join(5)
        self._runner_thread = None
        return True

    @property
    def firmware_running(self) -> bool:
        return self._runner_thread is not None and self._runner_thread.is_alive()

    def _namespace(self, out: io.StringIO) -> dict:
        g = self.globals
        if "__builtins__" not in g:
            b = dict(vars(builtins))
            b["open"] = self.fs.open
            b["__import__"] = self._import
            g["__builtins__"] = b

        def _print(*args, sep=" ", end="\n", file=None, flush=False):
            (file or out).write(sep.join(str(a) for a in args) + end)
        g["__builtins__"]["print"] = _print
        return g

    def _import(self, name, globals=None, locals=None, fromlist=(), level=0):
        if level:  # from . import x, inside a module of the flash
            package = (globals or {}).get("__package__") or ""
            base = package.rsplit(".", level - 1)[0] if level > 1 else package
            name = base + ("." + name if name else "")
        mods = self._modules()
        root = name.split(".")[0]
        if root in mods:
            return mods[root]
        if root in _PASSTHROUGH:
            real = importlib.import_module(root[1:] if root.startswith("u") and root[1:] in
                                           _PASSTHROUGH else root)
            return real
        module = self._import_flash(name)
        for item in fromlist or ():
            if item != "*" and not hasattr(module, item) and "__path__" in vars(module):
                self._import_flash(name + "." + item)
        return module if fromlist else self.flash_modules[root]

    def _import_flash(self, name: str) -> ModuleType:
        """Import `name` (and its parent packages) from the flash, as MicroPython does:
        each folder of sys.path, then <name>.py, <name>.mpy, <name>/__init__.(m)py or a
        bare folder (a namespace package)."""
        parts = name.split(".")
        module = None
        for i in range(len(parts)):
            full = ".".join(parts[:i + 1])
            if full in self.flash_modules:
                module = self.flash_modules[full]
                continue
            folders = module.__path__ if module is not None else ["/", "/lib"]
            module = self._load_from(full, parts[i], folders)
            if i:
                setattr(self.flash_modules[".".join(parts[:i])], parts[i], module)
        assert module is not None
        return module

    def _load_from(self, full: str, leaf: str, folders) -> ModuleType:
        fs = self.fs
        for folder in folders:
            base = folder.rstrip("/") + "/" + leaf
            for path, package in ((base + ".py", None), (base + ".mpy", None),
                                  (base + "/__init__.py", base), (base + "/__init__.mpy", base)):
                if path in fs.files:
                    return self._exec_module(full, path, package)
            if base in fs.dirs:
                return self._exec_module(full, None, base)
        raise ImportError(f"no module named '{full}'")

    def _exec_module(self, full: str, path: str | None, package: str | None) -> ModuleType:
        module = ModuleType(full)
        module.__file__ = path or package
        module.__package__ = full if package else full.rpartition(".")[0]
        if package:
            module.__path__ = [package]
        if "__builtins__" not in self.globals:
            self._namespace(io.StringIO())  # the board's builtins, print included
        module.__builtins__ = self.globals["__builtins__"]
        self.flash_modules[full] = module
        if path is None:
            return module
        data = self.fs.read(path)
        source = _mpy_source(data, full) if path.endswith(".mpy") else data.decode()
        try:
            exec(compile(source, path, "exec"), vars(module))
        except BaseException:
            del self.flash_modules[full]
            raise
        return module

    def _modules(self) -> dict[str, ModuleType]:
        if getattr(self, "_mods", None) is None:
            self._mods = _board_modules(self)
        return self._mods


def _vuint(data: bytes, i: int) -> tuple[int, int]:
    """MicroPython's variable-length unsigned integer (7 bits a byte, big-endian)."""
    n = 0
    while True:
        b = data[i]
        i += 1
        n = (n << 7) | (b & 0x7F)
        if not b & 0x80:
            return n, i


def _mpy_source(data: bytes, name: str) -> str:
    """The source to run for an .mpy: checked as MicroPython checks it (magic, version),
    then read from the file its first qstr names (mpy-cross writes the source path there),
    else from the host's module of the same name."""
    if len(data) < 4 or data[0] != ord("M") or data[1] != MPY_VERSION:
        raise ValueError("incompatible .mpy file")
    if data[2] >> 2:  # an architecture: native code, which a CPython board cannot run
        raise ImportError(f"native code in {name}.mpy is not simulated")
    try:
        _n_qstr, i = _vuint(data, 4)
        _n_obj, i = _vuint(data, i)
        length, i = _vuint(data, i)
        source_name = data[i:i + (length >> 1)].decode() if not length & 1 else ""
    except (IndexError, UnicodeDecodeError):
        raise ValueError("incompatible .mpy file") from None
    if source_name and os.path.isfile(source_name):
        with open(source_name, encoding="utf-8") as f:
            return f.read()
    spec = importlib.util.find_spec(name)
    if spec is not None and spec.origin and spec.origin.endswith(".py"):
        with open(spec.origin, encoding="utf-8") as f:
            return f.read()
    raise ImportError(f"the source of {name}.mpy ({source_name}) is not on this computer")


def _traceback_text(e: BaseException) -> str:
    if isinstance(e, OSError) and e.errno in errno.errorcode:
        msg = f"OSError: [Errno {e.errno}] {errno.errorcode[e.errno]}"
    else:
        text = str(e)
        msg = type(e).__name__ + (": " + text if text else "")
    return ('Traceback (most recent call last):\r\n  File "<stdin>", line 1, in <module>\r\n'
            + msg + "\r\n")


# --------------------------------------------------------------------------------------
# The board's own modules
# --------------------------------------------------------------------------------------

def _board_modules(board: SimBoard) -> dict[str, ModuleType]:
    """Stand-ins for the ESP32 port's own modules, imported by name by the code the board runs."""
    os_mod = _os_module(board.fs)
    sys_mod = _sys_module()
    time_mod = _time_module(board)
    machine = _machine_module(board)
    network = _network_module(board)

    gc = ModuleType("gc")
    gc.collect = lambda: None
    gc.mem_free = lambda: 112_000
    gc.mem_alloc = lambda: 8_000

    micropython = ModuleType("micropython")
    micropython.const = lambda x: x
    micropython.alloc_emergency_exception_buf = lambda n: None
    micropython.native = micropython.viper = lambda f: f

    esp32 = ModuleType("esp32")
    esp32.mcu_temperature = lambda: 42

    vfs = _vfs_module(board.fs)

    return {"vfs": vfs, "os": os_mod, "uos": os_mod, "sys": sys_mod, "usys": sys_mod, "time": time_mod,
            "utime": time_mod, "machine": machine, "network": network, "gc": gc,
            "micropython": micropython, "esp32": esp32}


def _os_module(fs: MemFS) -> ModuleType:
    os_mod = ModuleType("os")
    for name in ("stat", "ilistdir", "listdir", "mkdir", "rmdir", "remove", "rename", "statvfs"):
        setattr(os_mod, name, getattr(fs, name))
    os_mod.uname = lambda: ("esp32", "esp32", MICROPYTHON_VERSION,
                            f"v{MICROPYTHON_VERSION} on 2024-11-29",
                            "Generic ESP32 module with ESP32")
    os_mod.getcwd = lambda: "/"
    os_mod.sync = lambda: None
    return os_mod


def _vfs_module(fs: MemFS) -> ModuleType:
    """vfs.mount() lists the one littlefs partition at /, as on an ESP32 (`mpremote df`)."""
    vfs = ModuleType("vfs")

    class VfsLfs2:
        def __repr__(self):
            return "<VfsLfs2>"

        def statvfs(self, path):
            return fs.statvfs(path)

    root = VfsLfs2()
    vfs.VfsLfs2 = VfsLfs2
    vfs.mount = lambda *a, **k: [(root, "/")] if not a else None
    return vfs


def _sys_module() -> ModuleType:
    sys_mod = ModuleType("sys")
    sys_mod.implementation = type(sys)("implementation")
    sys_mod.implementation.name = "micropython"
    sys_mod.implementation.version = tuple(int(x) for x in MICROPYTHON_VERSION.split("."))
    sys_mod.implementation._mpy = MPY_VERSION | (3 << 8) | (9 << 10)  # v6.3, xtensawin
    sys_mod.platform = "esp32"
    sys_mod.path = ["", ".frozen", "/lib"]
    sys_mod.version = "3.4.0; MicroPython v" + MICROPYTHON_VERSION
    sys_mod.byteorder = "little"
    sys_mod.maxsize = 2**31 - 1
    sys_mod.modules = {}
    sys_mod.exit = sys.exit
    return sys_mod


def _time_module(board: SimBoard) -> ModuleType:
    time_mod = ModuleType("time")
    time_mod.time = time.time
    time_mod.sleep = time.sleep
    time_mod.sleep_ms = lambda ms: time.sleep(ms / 1000)
    time_mod.sleep_us = lambda us: time.sleep(us / 1e6)
    time_mod.ticks_ms = lambda: int(board.now_s() * 1000) & 0x3FFFFFFF
    time_mod.ticks_us = board.ticks_us
    time_mod.ticks_add = lambda t, d: (t + d) & 0x3FFFFFFF

    def ticks_diff(a, b):
        d = (a - b) & 0x3FFFFFFF
        return d - 0x40000000 if d >= 0x20000000 else d
    time_mod.ticks_diff = ticks_diff
    time_mod.localtime = time.gmtime
    time_mod.gmtime = time.gmtime
    return time_mod


def _machine_module(board: SimBoard) -> ModuleType:
    machine = ModuleType("machine")

    class Pin:
        IN, OUT, PULL_UP, PULL_DOWN = 1, 3, 2, 1

        def __init__(self, pin_id, *a, **k):
            self.id = pin_id

        def value(self, v=None):
            return 0 if v is None else None

    class ADC:
        ATTN_0DB, ATTN_2_5DB, ATTN_6DB, ATTN_11DB = 0, 1, 2, 3
        WIDTH_9BIT, WIDTH_10BIT, WIDTH_11BIT, WIDTH_12BIT = 0, 1, 2, 3

        def __init__(self, pin, atten=None):
            self.pin = pin.id if isinstance(pin, Pin) else int(pin)
            if self.pin not in (32, 33, 34, 35, 36, 37, 38, 39) + ADC2_PINS:
                raise ValueError("invalid Pin for ADC")

        def _check(self):
            if self.pin in ADC2_PINS and board.wlan_active:
                raise OSError(errno.ETIMEDOUT, "ADC2 is in use by Wi-Fi")

        def atten(self, a):
            pass

        def width(self, w):
            pass

        def read_uv(self):
            self._check()
            return board.pin_uv(self.pin)

        def read_u16(self):
            self._check()
            return min(65535, board.pin_uv(self.pin) * 65535 // 3_100_000)

        def read(self):
            return self.read_u16() >> 4

    class WDT:
        def __init__(self, *a, **k):
            pass

        def feed(self):
            pass

    def reset():
        raise _Reset()

    machine.Pin, machine.ADC, machine.WDT = Pin, ADC, WDT
    machine.reset = reset
    machine.soft_reset = reset
    machine.unique_id = lambda: board.spec.mac
    machine.freq = lambda f=None: 240_000_000 if f is None else None
    machine.reset_cause = lambda: 4
    machine.SOFT_RESET = 5
    return machine


# network.WLAN.status() codes, as on the ESP32 port.
_STAT_IDLE, _STAT_CONNECTING, _STAT_GOT_IP = 1000, 1001, 1010
_STAT_WRONG_PASSWORD, _STAT_NO_AP_FOUND = 202, 201


def _network_module(board: SimBoard) -> ModuleType:
    network = ModuleType("network")
    network.STA_IF, network.AP_IF = 0, 1
    network.STAT_IDLE, network.STAT_CONNECTING = _STAT_IDLE, _STAT_CONNECTING
    network.STAT_GOT_IP = _STAT_GOT_IP
    network.STAT_WRONG_PASSWORD, network.STAT_NO_AP_FOUND = _STAT_WRONG_PASSWORD, _STAT_NO_AP_FOUND

    class WLAN(_SimWLAN):
        _board = board

    network.WLAN = WLAN
    return network


class _SimWLAN:
    """network.WLAN on a simulated board: it joins the networks of the board's spec.wifi."""

    _board: SimBoard  # set by the subclass _network_module makes for each board

    def __init__(self, iface=0):
        self._active = False
        self._status = _STAT_IDLE

    def active(self, on=None):
        if on is None:
            return self._active
        self._active = bool(on)
        self._board.wlan_active = self._active

    def connect(self, ssid=None, key=None, **kw):
        if not self._active:
            raise OSError("Wifi Not Started")
        known = self._board.spec.wifi.get(ssid)
        if known is None:
            self._status = _STAT_NO_AP_FOUND
        elif known[0] != key:
            self._status = _STAT_WRONG_PASSWORD
        else:
            self._status = _STAT_GOT_IP
            self._board.wlan_connected_ssid = ssid

    def disconnect(self):
        self._board.wlan_connected_ssid = None
        self._status = _STAT_IDLE

    def isconnected(self):
        return self._status == _STAT_GOT_IP

    def status(self, param=None):
        if param == "rssi":
            ssid = self._board.wlan_connected_ssid
            if ssid is None:
                raise OSError("STA is not connected")
            return self._board.spec.wifi[ssid][1]
        return self._status

    def ifconfig(self):
        return ("127.0.0.1", "255.0.0.0", "127.0.0.1", "127.0.0.1")

    def config(self, name=None, **kw):
        if name == "mac":
            return self._board.spec.mac
        return None

    def scan(self):
        return [(s.encode(), self._board.spec.mac, 6, rssi, 3, False)
                for s, (_, rssi) in self._board.spec.wifi.items()]


def firmware_runner(state_root, seed: int = 1):
    """A board runner that starts the meter firmware after a reset: the firmware's own
    modules on CPython (host/simulator.py), with the identity and credentials
    that provisioning wrote to this board's config.json."""
    import json
    from pathlib import Path

    def run(board: SimBoard, stop: threading.Event) -> None:
        from citizenwatt.host.simulator import SimulatedMeter

        raw = json.loads(board.fs.read("/config.json"))
        meter = SimulatedMeter(
            meter_id=raw["meter_id"], host=raw["mqtt_host"], port=raw["mqtt_port"],
            state_dir=Path(state_root) / raw["meter_id"], seed=seed,
            interval_s=raw.get("interval_s", 10.0), channels=len(raw["channels"]),
            voltage=bool(raw.get("voltage")),
            extra_config={"mqtt_user": raw["mqtt_user"], "mqtt_password": raw["mqtt_password"]})
        board.meter = meter
        meter.start()
        stop.wait()
        meter.stop()

    return run
