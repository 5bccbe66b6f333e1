"""esptool through its real command line: invocation, chip check and error sentences."""

from __future__ import annotations

import os
import pty

import pytest

from citizenwatt.workshop import esp
from citizenwatt.workshop.errors import WorkshopError


@pytest.fixture
def silent_port():
    """A serial port where nothing answers (a board not in download mode)."""
    master, slave = pty.openpty()
    yield os.ttyname(slave)
    os.close(master)
    os.close(slave)


def test_board_that_does_not_answer(silent_port):
    with pytest.raises(WorkshopError) as e:
        esp.detect_chip(silent_port, connect_attempts=1)
    assert e.value.key == "esptool.no_answer"
    assert "BOOT" in str(e.value) and silent_port in str(e.value)


def test_port_that_does_not_exist():
    with pytest.raises(WorkshopError) as e:
        esp.run_esptool("/dev/ttyUSB-citizenwatt-none", ["read-mac"], connect_attempts=1)
    assert e.value.key == "board.not_found"


def test_write_refuses_a_file_that_is_not_an_image(tmp_path, silent_port):
    bad = tmp_path / "firmware.bin"
    bad.write_bytes(b"<html>not found</html>")
    with pytest.raises(WorkshopError) as e:
        esp.write_micropython(silent_port, bad)
    assert e.value.key == "mp.bad_image"


def test_write_goes_through_esptool_and_reports_its_failure(tmp_path, silent_port):
    img = tmp_path / "ESP32_GENERIC-20241129-v1.24.1.bin"
    img.write_bytes(b"\xe9" + bytes(1023))
    with pytest.raises(WorkshopError) as e:
        esp.write_micropython(silent_port, img, erase=False)
    assert e.value.key == "esptool.no_answer"


def test_image_from_cache(tmp_path):
    with pytest.raises(WorkshopError) as e:
        esp.find_image(None, tmp_path)
    assert e.value.key == "mp.no_image" and str(tmp_path / "micropython") in str(e.value)
    (tmp_path / "micropython").mkdir()
    for name in ("ESP32_GENERIC-20240602-v1.23.0.bin", "ESP32_GENERIC-20241129-v1.24.1.bin"):
        (tmp_path / "micropython" / name).write_bytes(b"\xe9" + bytes(15))
    assert esp.find_image(None, tmp_path).name == "ESP32_GENERIC-20241129-v1.24.1.bin"


# Output as esptool 4.x/5.x prints it (the wording these regexes depend on).
V5_OK = """esptool v5.6.0
Connected to ESP32 on /dev/ttyUSB0:
Chip type:          ESP32-D0WD-V3 (revision v3.1)
Features:           Wi-Fi, BT, Dual Core + LP Core, 240MHz
MAC:                24:0a:c4:12:34:56
"""
V4_S3 = "Detecting chip type... ESP32-S3\nChip is ESP32-S3 (QFN56) (revision v0.2)\nMAC: 7c:df:a1:00:11:22\n"


def test_parse_chip_outputs():
    c = esp.parse_chip(V5_OK)
    assert (c.name, c.mac) == ("ESP32", "24:0a:c4:12:34:56")
    assert c.description.startswith("ESP32-D0WD-V3")
    assert esp.parse_chip(V4_S3).name == "ESP32-S3"


@pytest.mark.parametrize("output,key", [
    ("A fatal error occurred: This chip is ESP32-S3, not ESP32. Wrong --chip argument?",
     "esptool.wrong_chip"),
    ("Could not open /dev/ttyUSB0, the port is busy or doesn't exist.\n([Errno 13] could not "
     "open port /dev/ttyUSB0: [Errno 13] Permission denied: '/dev/ttyUSB0')", "ports.no_access"),
    ("Could not open /dev/ttyUSB0, the port is busy or doesn't exist.\n([Errno 16] Device or "
     "resource busy)", "board.busy"),
    ("A fatal error occurred: Serial data stream stopped: Possible serial noise or corruption.",
     "esptool.stream"),
    ("A fatal error occurred: Failed to connect to ESP32: Wrong boot mode detected (0x13)!",
     "esptool.no_answer"),
    ("A fatal error occurred: Something new happened", "esptool.failed"),
])
def test_error_classification(output, key):
    e = esp.classify("/dev/ttyUSB0", output, 2)
    assert e.key == key
    assert str(e)  # a full sentence in French
    if key == "esptool.failed":
        assert "Something new happened" in str(e)
