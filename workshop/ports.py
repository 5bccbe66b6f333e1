"""Which serial ports are ESP32 boards: pyserial's list_ports plus the USB bridges we know,
and the simulated boards of a running `citizenwatt rehearse`."""

from __future__ import annotations

from dataclasses import dataclass

from serial.tools import list_ports

from citizenwatt.i18n import _

# (VID, PID) -> USB-serial chip. Boards for the meter carry one of these bridges, or the
# ESP32-S2/S3/C3 native USB (not a classic ESP32: esptool's chip check then says so).
KNOWN_BRIDGES: dict[tuple[int, int], str] = {
    (0x10C4, 0xEA60): "CP210x",
    (0x10C4, 0xEA70): "CP210x",
    (0x10C4, 0xEA71): "CP210x",
    (0x1A86, 0x7523): "CH340",
    (0x1A86, 0x5523): "CH341",
    (0x1A86, 0x55D4): "CH9102",
    (0x1A86, 0x55D3): "CH343",
    (0x0403, 0x6001): "FTDI",
    (0x0403, 0x6010): "FTDI",
    (0x0403, 0x6014): "FTDI",
    (0x0403, 0x6015): "FTDI",
    (0x303A, 0x1001): "USB natif (ESP32-S3/C3)",
    (0x303A, 0x0002): "USB natif (ESP32-S2)",
    (0x303A, 0x4001): "USB natif (MicroPython)",
}
KNOWN_VIDS = {0x10C4: "CP210x", 0x1A86: "CH34x", 0x0403: "FTDI", 0x303A: "USB natif"}


@dataclass(frozen=True)
class BoardPort:
    device: str
    vid: int | None
    pid: int | None
    chip: str | None          # None: not a USB-serial bridge we know
    description: str
    serial_number: str | None = None
    simulated: bool = False   # a board of `citizenwatt rehearse`, on a pseudo-terminal

    @property
    def vid_pid(self) -> str:
        return f"{self.vid:04X}:{self.pid:04X}" if self.vid is not None else "-"


def identify(vid: int | None, pid: int | None) -> str | None:
    if vid is None:
        return None
    return KNOWN_BRIDGES.get((vid, pid or 0)) or KNOWN_VIDS.get(vid)


def list_boards(include_unknown: bool = False) -> list[BoardPort]:
    """Connected USB serial ports, known bridges first; unknown ones only if asked."""
    found = []
    for p in list_ports.comports():
        chip = identify(p.vid, p.pid)
        if chip is None and not include_unknown:
            continue
        if p.vid is None and not p.device.startswith(("/dev/ttyUSB", "/dev/ttyACM", "COM",
                                                      "/dev/cu.")):
            continue  # built-in serial lines (ttyS0...) are never a board
        found.append(BoardPort(p.device, p.vid, p.pid, chip, p.description or "",
                               p.serial_number))
    found.extend(simulated_boards())
    return sorted(found, key=lambda b: (b.chip is None, b.simulated, b.device))


def simulated_boards() -> list[BoardPort]:
    """The boards a running `citizenwatt rehearse` keeps plugged in."""
    from citizenwatt.workshop.rehearse import registered

    return [BoardPort(s.device, None, None, _("simulated"),
                      _("Simulated board no. {number}, meter {meter_id} (citizenwatt rehearse)",
                        number=s.number, meter_id=s.meter_id), simulated=True)
            for s in registered()]
