"""Rehearsing a workshop without hardware: `citizenwatt rehearse` keeps N simulated ESP32
boards plugged in (host/simboard.py, on pseudo-terminals) until Ctrl-C, and records them
where `citizenwatt ports` finds them, so every workshop command, and mpremote itself,
works on them as on real boards. After the workshop resets a board, its meter firmware
runs here and publishes to the broker written in its config.json."""

from __future__ import annotations

import json
import os
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from citizenwatt.host.simboard import SimBoard, SimBoardSpec, firmware_runner
from citizenwatt.i18n import N_
from citizenwatt.workshop.errors import WorkshopError

MAX_BOARDS = 16
# Espressif's OUI then 5e 00 NN: meter ids cw-5e0001, cw-5e0002... (workshop/config.py).
MAC_PREFIX = b"\x24\x0a\xc4\x5e\x00"
WIFI_SSID, WIFI_PASSWORD = "atelier", "motdepasse"


def registry_dir() -> Path:
    """Where the running rehearsals record their boards: the user's runtime folder."""
    base = os.environ.get("XDG_RUNTIME_DIR") or os.path.join(tempfile.gettempdir(),
                                                             "citizenwatt-%d" % os.getuid())
    return Path(base) / "citizenwatt-simboards"


@dataclass(frozen=True)
class SimPort:
    device: str
    number: int
    pid: int
    meter_id: str


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def registered() -> list[SimPort]:
    """The simulated boards of the rehearsals running now (a record left by a rehearsal
    that was killed is dropped)."""
    found = []
    folder = registry_dir()
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            entry = SimPort(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            continue
        if _alive(entry.pid) and os.path.exists(entry.device):
            found.append(entry)
        elif not _alive(entry.pid):
            path.unlink(missing_ok=True)
    return found


def _record(board: SimBoard, number: int, meter_id: str) -> Path:
    folder = registry_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / ("%d-%02d.json" % (os.getpid(), number))
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"device": board.port, "number": number, "pid": os.getpid(),
                               "meter_id": meter_id}))
    os.replace(tmp, path)
    return path


@dataclass
class Rehearsal:
    boards: list[SimBoard]
    meter_ids: list[str]
    records: list[Path]

    def close(self) -> None:
        for path in self.records:
            path.unlink(missing_ok=True)
        for board in self.boards:
            board.close()


def start(count: int, state_dir: Path, wifi_ssid: str = WIFI_SSID,
          wifi_password: str = WIFI_PASSWORD) -> Rehearsal:
    """Plug in `count` simulated boards (the reference board's three clamps, MicroPython
    answering, a Wi-Fi network `wifi_ssid`) and record them for `citizenwatt ports`."""
    if not 1 <= count <= MAX_BOARDS:
        raise WorkshopError("rehearse.count", N_(
            "A rehearsal runs 1 to {max} simulated boards (asked: {count}). Give --boards "
            "a number in that range, then try again."), max=MAX_BOARDS, count=count)
    if not wifi_ssid:
        raise WorkshopError("rehearse.wifi", N_(
            "The simulated Wi-Fi network needs a name. Give --wifi-ssid (for example "
            "atelier), then try again."))
    rehearsal = Rehearsal([], [], [])
    try:
        for number in range(1, count + 1):
            mac = MAC_PREFIX + bytes([number])
            spec = SimBoardSpec(mac=mac, seed=number, wifi={wifi_ssid: (wifi_password, -58)})
            board = SimBoard(spec, runner=firmware_runner(Path(state_dir), seed=number))
            board.plug()
            rehearsal.boards.append(board)
            meter_id = "cw-" + mac.hex()[-6:]
            rehearsal.meter_ids.append(meter_id)
            rehearsal.records.append(_record(board, number, meter_id))
    except BaseException:
        rehearsal.close()
        raise
    return rehearsal


def _broker(board: SimBoard) -> str:
    """host:port of the broker the board's config.json names."""
    try:
        raw = json.loads(board.fs.read("/config.json"))
        return "%s:%s" % (raw["mqtt_host"], raw["mqtt_port"])
    except (KeyError, ValueError):
        return "?"


def watch(rehearsal: Rehearsal, say, poll_s: float = 0.5) -> None:
    """Until Ctrl-C (or SIGTERM): tell when a board's firmware starts and publishes."""
    def _stop(signum, frame):
        raise KeyboardInterrupt
    previous = signal.signal(signal.SIGTERM, _stop)
    running = [False] * len(rehearsal.boards)
    published = [False] * len(rehearsal.boards)
    try:
        while True:
            for i, board in enumerate(rehearsal.boards):
                meter = getattr(board, "meter", None)
                now_running = board.firmware_running
                if now_running and not running[i]:
                    say("firmware", i + 1, rehearsal.meter_ids[i], _broker(board))
                    published[i] = False
                running[i] = now_running
                if now_running and meter is not None and meter.published and not published[i]:
                    published[i] = True
                    say("published", i + 1, rehearsal.meter_ids[i], _broker(board))
            time.sleep(poll_s)
    finally:
        signal.signal(signal.SIGTERM, previous)
