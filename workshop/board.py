"""A connection to a MicroPython board through mpremote's serial transport.

mpremote does the talking (raw REPL, raw-paste, file transfer, hashing on the board); this
module only opens the port with a clear diagnosis and turns every transport failure into
a WorkshopError that says what to do next.
"""

from __future__ import annotations

import ast
import contextlib
import errno
import hashlib
import io
import os
from collections.abc import Callable, Iterator
from typing import Any

import serial
from mpremote.transport import TransportError, TransportExecError

from citizenwatt.i18n import N_
from citizenwatt.workshop.errors import BoardGone, WorkshopError

Progress = Callable[[int, int], None]


def open_error(port: str, exc: BaseException) -> WorkshopError:
    """Classify a failure to open a serial port."""
    code = getattr(exc, "errno", None)
    text = str(exc).lower()
    if code == errno.ENOENT or "no such file" in text or "could not open port" in text and \
            "[errno 2]" in text:
        return WorkshopError("board.not_found", N_("No board on {port}. Plug the board in, then check the "
                                                   "port name with `citizenwatt ports`."), port=port)
    if code in (errno.EACCES, errno.EPERM) or "permission denied" in text:
        return WorkshopError("ports.no_access", N_("You may not open {port}. On Linux, add your account to "
                                                   "the dialout group (`sudo usermod -aG dialout $USER`) "
                                                   "then log in again."), section="usb-serial", port=port)
    if code in (errno.EBUSY, errno.EAGAIN) or "busy" in text or "lock" in text:
        return WorkshopError("board.busy", N_("Port {port} is already used by another program (Thonny, "
                                              "screen, another terminal, the Arduino IDE). Close it, then "
                                              "run the command again."), port=port)
    return WorkshopError("board.not_found", N_("No board on {port}. Plug the board in, then check the port "
                                               "name with `citizenwatt ports`."), port=port)


def probe_port(port: str) -> None:
    """Open and close the port once, to name the problem before mpremote hides it."""
    if not os.path.exists(port) and not port.startswith(("socket://", "rfc2217://")):
        raise WorkshopError("board.not_found", N_("No board on {port}. Plug the board in, then check the "
                                                  "port name with `citizenwatt ports`."), port=port)
    try:
        s = serial.Serial(port, 115200, exclusive=True, timeout=0)
    except (serial.SerialException, OSError) as e:
        raise open_error(port, e.__cause__ or e) from None
    s.close()


class Board:
    """A MicroPython board in raw REPL. Use as a context manager."""

    def __init__(self, port: str, *, timeout_s: float = 5.0, soft_reset: bool = True):
        self.port = port
        self.timeout_s = timeout_s
        self.soft_reset = soft_reset
        self.transport: Any = None  # mpremote's SerialTransport while the board is open

    # --- connection ---------------------------------------------------------------------

    def open(self) -> Board:
        from mpremote.transport_serial import SerialTransport

        probe_port(self.port)
        with self.guard():
            try:
                self.transport = SerialTransport(self.port, timeout=self.timeout_s)
            except TransportError as e:
                raise open_error(self.port, e) from None
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    self.transport.enter_raw_repl(soft_reset=self.soft_reset,
                                                  timeout_overall=self.timeout_s)
            except TransportError:
                if not os.path.exists(self.port):
                    raise BoardGone(self.port) from None
                raise WorkshopError("board.no_repl", N_("The board on {port} does not answer like "
                                                        "MicroPython. If it is new, write MicroPython first "
                                                        "with `citizenwatt flash {port} --micropython "
                                                        "FILE.bin`; otherwise press the EN (reset) button "
                                                        "and try again."), port=self.port) from None
        return self

    def close(self) -> None:
        t, self.transport = self.transport, None
        if t is None:
            return
        try:
            if t.in_raw_repl:
                t.exit_raw_repl()
            t.close()
        except Exception:  # noqa: BLE001 - the board may already be gone; nothing to do
            try:
                t.serial.close()
            except Exception:  # noqa: BLE001
                pass

    def __enter__(self) -> Board:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        """Turn serial and transport failures into sentences."""
        try:
            yield
        except WorkshopError:
            raise
        except TransportExecError as e:
            if "ENOSPC" in e.error_output or "[Errno 28]" in e.error_output:
                raise WorkshopError(
                    "board.full",
                    N_(
                        "The board's flash is full. Erase it with `citizenwatt "
                        "flash {port} --erase --micropython FILE.bin`, then "
                        "start again."
                    ),
                    port=self.port,
                ) from None
            last = (e.error_output.strip().splitlines() or ["?"])[-1]
            raise WorkshopError(
                "board.exec_failed",
                N_(
                    "The board refused a command ({detail}). Press EN "
                    "(reset), then try again; if it happens again, "
                    "rewrite the firmware with `citizenwatt flash`."
                ),
                detail=last,
            ) from None
        except serial.SerialException:
            raise BoardGone(self.port) from None
        except OSError as e:
            if e.errno in (errno.EIO, errno.ENXIO, errno.EBADF, errno.ENODEV, None):
                raise BoardGone(self.port) from None
            if e.errno == errno.ENOSPC:
                raise WorkshopError(
                    "board.full",
                    N_(
                        "The board's flash is full. Erase it with `citizenwatt "
                        "flash {port} --erase --micropython FILE.bin`, then "
                        "start again."
                    ),
                    port=self.port,
                ) from None
            # A file-system error reported by the board (mpremote converts it to OSError).
            raise WorkshopError(
                "board.exec_failed",
                N_(
                    "The board refused a command ({detail}). Press EN "
                    "(reset), then try again; if it happens again, "
                    "rewrite the firmware with `citizenwatt flash`."
                ),
                detail=f"OSError {errno.errorcode.get(e.errno, e.errno)}",
            ) from None
        except (TransportError, ValueError, SyntaxError):
            # A read that timed out or a reply cut in the middle: the cable or the board
            # went away during the exchange.
            raise BoardGone(self.port) from None

    # --- commands -----------------------------------------------------------------------

    def exec(self, code: str) -> str:
        with self.guard():
            return self.transport.exec(code).decode("utf-8", "replace")

    def eval(self, expr: str):
        with self.guard():
            return self.transport.eval(expr)

    def eval_code(self, code: str):
        """Run a snippet whose last printed line is a Python literal; return that value."""
        out = self.exec(code).strip().splitlines()
        try:
            return ast.literal_eval(out[-1])
        except (IndexError, ValueError, SyntaxError):
            raise WorkshopError(
                "board.exec_failed",
                N_(
                    "The board refused a command ({detail}). Press EN "
                    "(reset), then try again; if it happens again, "
                    "rewrite the firmware with `citizenwatt flash`."
                ),
                detail=(out or ["?"])[-1][:80],
            ) from None

    def exists(self, path: str) -> bool:
        with self.guard():
            return self.transport.fs_exists(path)

    def read_file(self, path: str) -> bytes | None:
        with self.guard():
            try:
                return bytes(self.transport.fs_readfile(path))
            except OSError as e:
                if e.errno == errno.ENOENT:
                    return None
                raise

    def sha256(self, path: str) -> str | None:
        with self.guard():
            try:
                return self.transport.fs_hashfile(path, "sha256").hex()
            except OSError as e:
                if e.errno == errno.ENOENT:
                    return None
                raise

    def makedirs(self, path: str) -> None:
        """mkdir -p for the parent folders of `path` (a file path)."""
        parts = path.strip("/").split("/")[:-1]
        prefix = ""
        with self.guard():
            for p in parts:
                prefix += "/" + p
                if not self.transport.fs_exists(prefix):
                    self.transport.fs_mkdir(prefix)

    def write_file(self, path: str, data: bytes, progress: Progress | None = None) -> None:
        """Write through a temporary name then rename, so a cut transfer never leaves a
        half-written module under its real name (the board would crash importing it)."""
        tmp = path + ".part"
        self.makedirs(path)
        with self.guard():
            self.transport.fs_writefile(tmp, data, progress_callback=progress)
            self.transport.exec(
                f"import os\ntry:\n os.remove({path!r})\nexcept OSError:\n pass\nos.rename({tmp!r}, {path!r})"
            )

    def remove_leftovers(self, folder: str = "/") -> int:
        """Delete *.part files a cut transfer left behind; return how many."""
        code = (
            "import os\nn=0\ndef _w(d):\n global n\n for e in os.ilistdir(d):\n"
            "  p=(d.rstrip('/')+'/'+e[0])\n  if e[1]&0x4000:\n   _w(p)\n"
            f"  elif p.endswith('.part'):\n   os.remove(p)\n   n+=1\n_w({folder!r})\nprint(n)"
        )
        return int(self.exec(code).strip() or 0)

    def micropython_version(self) -> str:
        version = self.eval("tuple(__import__('sys').implementation.version[:3])")
        return ".".join(str(x) for x in version)

    def unique_id(self) -> str:
        return self.eval("__import__('machine').unique_id()").hex()

    def reset(self) -> None:
        """Hard-reset the board (it then runs main.py) and close the connection."""
        with self.guard():
            try:
                self.transport.exec_raw_no_follow("import machine\nmachine.reset()")
            except (serial.SerialException, TransportError, OSError):
                pass  # the board reboots while answering: expected
        self.close()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
