"""Board detection from pyserial's port list."""

from __future__ import annotations

from serial.tools.list_ports_common import ListPortInfo
from typer.testing import CliRunner

from citizenwatt.cli import app
from citizenwatt.workshop import ports


def _port(device, vid=None, pid=None, desc="n/a"):
    p = ListPortInfo(device)
    p.vid, p.pid, p.description = vid, pid, desc
    return p


def test_known_bridges_are_recognised(monkeypatch):
    monkeypatch.setattr(ports.list_ports, "comports", lambda: [
        _port("/dev/ttyS0"),
        _port("/dev/ttyUSB1", 0x1A86, 0x7523, "USB Serial"),
        _port("/dev/ttyUSB0", 0x10C4, 0xEA60, "CP2102 USB to UART Bridge Controller"),
        _port("/dev/ttyUSB2", 0x0403, 0x6001, "FT232R USB UART"),
        _port("/dev/ttyACM0", 0x303A, 0x1001, "USB JTAG/serial debug unit"),
        _port("/dev/ttyACM1", 0x2341, 0x0043, "Arduino Uno"),
    ])
    found = {b.device: b.chip for b in ports.list_boards()}
    assert found == {"/dev/ttyUSB0": "CP210x", "/dev/ttyUSB1": "CH340", "/dev/ttyUSB2": "FTDI",
                     "/dev/ttyACM0": "USB natif (ESP32-S3/C3)"}
    everything = {b.device for b in ports.list_boards(include_unknown=True)}
    assert "/dev/ttyACM1" in everything and "/dev/ttyS0" not in everything


def test_cli_lists_boards_and_hints_when_none(monkeypatch):
    runner = CliRunner()
    monkeypatch.setattr(ports.list_ports, "comports", lambda: [])
    r = runner.invoke(app, ["ports"])
    assert r.exit_code == 1
    assert "Aucune carte trouvée" in r.output and "dialout" in r.output
    assert "Traceback" not in r.output
    monkeypatch.setattr(ports.list_ports, "comports",
                        lambda: [_port("/dev/ttyUSB0", 0x10C4, 0xEA60, "CP2102")])
    r = runner.invoke(app, ["ports", "--lang", "en"])
    assert r.exit_code == 0
    assert "/dev/ttyUSB0" in r.output and "CP210x" in r.output and "10C4:EA60" in r.output
    assert "Connected boards" in r.output


def test_cli_says_when_a_listed_board_cannot_be_opened(monkeypatch, tmp_path):
    """A board listed but not openable (account not in dialout): say so with the fix."""
    import os

    dev = tmp_path / "ttyUSB0"
    dev.write_text("")
    monkeypatch.setattr(ports.list_ports, "comports", lambda: [
        _port(str(dev), 0x10C4, 0xEA60, "CP2102")])
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(dev)
                        else real_access(p, mode))
    r = CliRunner().invoke(app, ["ports"])
    out = " ".join(r.output.split())
    assert r.exit_code == 0 and "CP210x" in out
    assert f"Vous n'avez pas le droit d'ouvrir {dev}" in out
    assert "sudo usermod -aG dialout $USER" in out
    monkeypatch.setattr(os, "access", lambda p, mode: True)
    out = " ".join(CliRunner().invoke(app, ["ports"]).output.split())
    assert "droit d'ouvrir" not in out
