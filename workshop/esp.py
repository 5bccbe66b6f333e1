"""Writing MicroPython with esptool, through its own command line.

esptool runs as a child process (`python -m esptool ...`): its output is parsed for the
chip type, the MAC address and the write progress, and its failures are turned into
sentences. The chip is checked before anything is written.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from citizenwatt.i18n import N_
from citizenwatt.workshop.errors import WorkshopError

# MicroPython images for the classic ESP32 start at 0x1000 (bootloader offset).
MICROPYTHON_OFFSET = 0x1000
EXPECTED_CHIP = "ESP32"
ESPTOOL_TIMEOUT_S = 300


@dataclass(frozen=True)
class ChipInfo:
    name: str          # "ESP32", "ESP32-S3"...
    description: str   # "ESP32-D0WD-V3 (revision v3.1)"
    mac: str | None


def esptool_command() -> list[str]:
    """How to run esptool: the [workshop] esptool setting (a command line,
    CITIZENWATT_WORKSHOP__ESPTOOL) or this Python's module."""
    from citizenwatt.config import workshop_settings

    env = workshop_settings().esptool
    if env:
        return env.split()
    return [sys.executable, "-m", "esptool"]


def classify(port: str, output: str, returncode: int) -> WorkshopError:
    """Turn esptool's failure output into a sentence."""
    text = output
    low = text.lower()
    m = re.search(r"This chip is (ESP32[-\w]*)", text)
    if m or "wrong --chip" in low:
        return WorkshopError(
            "esptool.wrong_chip",
            N_(
                "This board carries a {found} chip, not an ESP32: the "
                "Citizen Watt meter needs a classic ESP32 "
                "(ESP32-WROOM/ESP32-D0WD). Use another board."
            ),
            found=m.group(1) if m else "?",
        )
    if "no module named esptool" in low:
        return WorkshopError(
            "esptool.missing",
            N_("esptool is not installed. Install it with `pip install esptool`, then try again."),
        )
    if "permission denied" in low or "[errno 13]" in low:
        return WorkshopError(
            "ports.no_access",
            N_(
                "You may not open {port}. On Linux, add your account to "
                "the dialout group (`sudo usermod -aG dialout $USER`) "
                "then log in again."
            ),
            section="usb-serial",
            port=port,
        )
    if "could not open" in low and ("[errno 2]" in low or "no such file" in low):
        return WorkshopError(
            "board.not_found",
            N_("No board on {port}. Plug the board in, then check the port name with `citizenwatt ports`."),
            port=port,
        )
    if "could not open" in low or "port is busy" in low or "[errno 16]" in low:
        return WorkshopError(
            "board.busy",
            N_(
                "Port {port} is already used by another program (Thonny, "
                "screen, another terminal, the Arduino IDE). Close it, then "
                "run the command again."
            ),
            port=port,
        )
    if (
        "failed to connect" in low
        or "no serial data received" in low
        or "wrong boot mode" in low
        or "invalid head of packet" in low
    ):
        return WorkshopError(
            "esptool.no_answer",
            N_(
                "The board on {port} does not answer the flasher. Hold "
                "the BOOT button, press EN briefly, release BOOT, then "
                "try again. Also check that {port} is the board "
                "(`citizenwatt ports`)."
            ),
            port=port,
        )
    if (
        "serial data stream stopped" in low
        or "packet content transfer stopped" in low
        or "device disconnected" in low
        or "read failed" in low
        or "write failed" in low
        or "timed out waiting for packet" in low
    ):
        return WorkshopError(
            "esptool.stream",
            N_(
                "The serial link broke while writing to {port}. Change "
                "the USB cable or socket (avoid USB hubs), then try "
                "again: writing starts over from the beginning."
            ),
            port=port,
        )
    last = [ln for ln in text.strip().splitlines() if ln.strip()]
    detail = last[-1].strip() if last else "code %d" % returncode
    detail = re.sub(r"^(ERROR: )?A fatal error occurred: ", "", detail)
    return WorkshopError(
        "esptool.failed",
        N_(
            "Writing MicroPython failed ({detail}). Unplug and replug the "
            "board, then run `citizenwatt flash` again."
        ),
        detail=detail[:160],
    )


def run_esptool(
    port: str,
    args: list[str],
    *,
    chip: str = "auto",
    connect_attempts: int = 3,
    progress: Callable[[float], None] | None = None,
    baud: int | None = None,
    timeout_s: float = ESPTOOL_TIMEOUT_S,
) -> str:
    """Run one esptool command; return its output or raise a WorkshopError."""
    cmd = esptool_command() + ["--port", port, "--chip", chip, "--connect-attempts", str(connect_attempts)]
    if baud:
        cmd += ["--baud", str(baud)]
    cmd += args
    env = dict(os.environ, PYTHONUNBUFFERED="1", NO_COLOR="1", TERM="dumb")
    try:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
    except FileNotFoundError:
        raise WorkshopError(
            "esptool.missing",
            N_("esptool is not installed. Install it with `pip install esptool`, then try again."),
        ) from None
    out = []
    deadline = time.monotonic() + timeout_s
    assert proc.stdout is not None
    buf = b""
    while True:
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise WorkshopError(
                "esptool.timeout",
                N_(
                    "The flasher did not finish within {seconds} s. "
                    "Unplug and replug the board, then try again."
                ),
                seconds=int(timeout_s),
            )
        chunk = proc.stdout.read1(4096)  # type: ignore[attr-defined]  # a BufferedReader
        if not chunk:
            break
        buf += chunk
        # esptool redraws its progress bar with \r: split on both.
        *lines, buf = re.split(rb"[\r\n]", buf)
        for raw in lines:
            line = raw.decode("utf-8", "replace")
            out.append(line)
            m = re.search(r"(\d+(?:\.\d+)?)\s?%", line)
            if progress and m and "Writing at" in line:
                progress(float(m.group(1)))
    out.append(buf.decode("utf-8", "replace"))
    rc = proc.wait()
    text = "\n".join(out)
    if rc != 0:
        raise classify(port, text, rc)
    return text


def parse_chip(output: str) -> ChipInfo:
    name = None
    m = re.search(r"Connected to (ESP32[-\w]*)", output) or re.search(
        r"Detecting chip type\.*\s*(ESP32[-\w]*)", output
    )
    if m:
        name = m.group(1)
    desc = re.search(r"Chip (?:type:|is)\s*(.+)", output)
    mac = re.search(r"MAC:\s*([0-9a-fA-F:]{17})", output)
    description = desc.group(1).strip() if desc else (name or "?")
    if name is None:
        m = re.match(r"(ESP32[-\w]*)", description)
        name = m.group(1) if m else "?"
    if name.startswith("ESP32-") and not re.match(r"ESP32-(S|C|H|P)\d", name):
        name = "ESP32"  # ESP32-D0WD... is a classic ESP32
    return ChipInfo(name=name, description=description, mac=mac.group(1).lower() if mac else None)


def detect_chip(port: str, connect_attempts: int = 3) -> ChipInfo:
    """Ask the ROM bootloader which chip this is; refuse anything but a classic ESP32."""
    chip = parse_chip(run_esptool(port, ["read-mac"], connect_attempts=connect_attempts))
    if chip.name != EXPECTED_CHIP:
        raise WorkshopError(
            "esptool.wrong_chip",
            N_(
                "This board carries a {found} chip, not an ESP32: the "
                "Citizen Watt meter needs a classic ESP32 "
                "(ESP32-WROOM/ESP32-D0WD). Use another board."
            ),
            found=chip.name,
        )
    return chip


def check_image(path: Path) -> None:
    try:
        head = Path(path).read_bytes()[:1]
    except OSError:
        raise WorkshopError(
            "mp.no_image",
            N_(
                "No MicroPython file (.bin) given and none in the cache "
                "{cache}. Pass --micropython ESP32_GENERIC-xxx.bin "
                "(downloaded from micropython.org/download/ESP32_GENERIC), or "
                "copy it into {cache}."
            ),
            cache=str(Path(path).parent),
        ) from None
    if head != b"\xe9":
        raise WorkshopError(
            "mp.bad_image",
            N_(
                "{path} is not a MicroPython image for ESP32 (it must start "
                "with byte 0xE9). Download the ESP32_GENERIC .bin from "
                "micropython.org."
            ),
            path=str(path),
        )


def find_image(given: Path | None, cache_dir: Path) -> Path:
    """The MicroPython .bin to write: the one given, else the newest in <cache>/micropython."""
    if given is not None:
        check_image(given)
        return given
    folder = Path(cache_dir) / "micropython"
    images = sorted(folder.glob("ESP32_GENERIC*.bin")) or sorted(folder.glob("*.bin"))
    if not images:
        raise WorkshopError(
            "mp.no_image",
            N_(
                "No MicroPython file (.bin) given and none in the cache "
                "{cache}. Pass --micropython ESP32_GENERIC-xxx.bin "
                "(downloaded from micropython.org/download/ESP32_GENERIC), or "
                "copy it into {cache}."
            ),
            cache=str(folder),
        )
    check_image(images[-1])
    return images[-1]


def write_micropython(
    port: str,
    image: Path,
    *,
    erase: bool = True,
    baud: int = 460800,
    progress: Callable[[float], None] | None = None,
) -> None:
    check_image(image)
    if erase:
        run_esptool(port, ["erase-flash"], chip="esp32")
    run_esptool(
        port,
        ["write-flash", "-z", hex(MICROPYTHON_OFFSET), str(image)],
        chip="esp32",
        baud=baud,
        progress=progress,
    )
