"""One pin map for the reference board: hardware/pinout.csv (the build guide's wiring), the
firmware's defaults, the host simulator and the workshop tool all use firmware/config.py's
CURRENT_PINS and VOLTAGE_PIN, and the guide refuses to build when pinout.csv drifts."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from citizenwatt.firmware import config
from citizenwatt.guide.bom import load_bom, load_pinout
from citizenwatt.guide.build import GuideBuildError, build_guide, consistency_problems
from citizenwatt.guide.design import design_data

ROOT = Path(__file__).resolve().parents[2]
PINOUT = ROOT / "hardware" / "pinout.csv"


def rows() -> list[dict]:
    with PINOUT.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_every_pinout_line_is_the_firmware_pin_map():
    # Read straight from the CSV and the firmware module, not through the guide's loader.
    seen = {}
    for row in rows():
        signal, gpio = row["signal"], int(row["gpio"])
        if signal == "voltage":
            assert gpio == config.VOLTAGE_PIN, row
        else:
            n = int(signal.removeprefix("current_"))
            assert gpio == config.CURRENT_PINS[n - 1], row
        # The ADC column names the right ADC1 channel (ADC2 is unusable with Wi-Fi on).
        assert row["adc"] == "ADC1_CH%d" % config.ADC1_PINS.index(gpio), row
        seen[signal] = gpio
    # The reference board: three clamps and the voltage adapter, on four different inputs.
    assert seen == {"current_1": 36, "current_2": 34, "current_3": 35, "voltage": 39}
    assert config.DEFAULTS["channels"][0]["pin"] == config.CURRENT_PINS[0] == 36


def test_simulator_workshop_and_example_config_use_the_same_map():
    import json

    from citizenwatt.host import simulator
    from citizenwatt.host.simboard import SimBoardSpec
    from citizenwatt.workshop import config as wconfig

    assert simulator.CURRENT_PINS == wconfig.CHANNEL_PINS == config.CURRENT_PINS
    assert simulator.VOLTAGE_PIN == wconfig.VOLTAGE_PIN == config.VOLTAGE_PIN
    assert [c.pin for c in SimBoardSpec().channels] == list(config.CURRENT_PINS[:3])
    raw = wconfig.build("atelier-01", wifi_ssid="w", wifi_password="p", mqtt_host="h",
                        mqtt_port=1883, mqtt_user="u", mqtt_password="p", channels=3,
                        voltage_adapter_v=9.0)
    assert [c["pin"] for c in raw["channels"]] == [36, 34, 35]
    assert raw["voltage"]["pin"] == 39
    example = json.loads((ROOT / "firmware" / "board" / "config.example.json").read_text())
    cfg = config.validate(example)
    assert [c["pin"] for c in cfg["channels"]] == list(config.CURRENT_PINS[:len(cfg["channels"])])
    assert cfg["voltage"]["pin"] == config.VOLTAGE_PIN


def test_firmware_refuses_pins_off_adc1_or_used_twice():
    base = {"meter_id": "a", "mqtt_host": "h"}
    with pytest.raises(config.ConfigError, match="Pince id 0 sur la broche 25 .* ADC1"):
        config.validate(dict(base, channels=[{"id": 0, "pin": 25}]))  # ADC2: dead with Wi-Fi
    with pytest.raises(config.ConfigError, match="Pince id 1 sur la broche 36"):
        config.validate(dict(base, channels=[{"id": 0, "pin": 36}, {"id": 1, "pin": 36}]))
    with pytest.raises(config.ConfigError, match="Tension sur la broche 36"):
        config.validate(dict(base, voltage={"pin": 36}))  # clamp 0's pin
    ok = config.validate(dict(base, channels=[{"id": k, "pin": p}
                                              for k, p in enumerate(config.CURRENT_PINS)],
                              voltage={"pin": config.VOLTAGE_PIN}, cycles=4))
    assert [c["pin"] for c in ok["channels"]] == [36, 34, 35, 32, 33]


@pytest.mark.parametrize("signal,gpio,adc,expected,count", [
    ("current_3", 32, "ADC1_CH4", "wires current_3 to GPIO32 but the firmware", 1),
    ("voltage", 36, "ADC1_CH0", "wires voltage to GPIO36 but the firmware", 1),
    ("current_2", 34, "ADC1_CH5", "GPIO34 is ADC1_CH6, not ADC1_CH5", 1),
    ("current_2", 25, "ADC2_CH8", "GPIO25 is not an ADC1 input", 2),  # and not the firmware's
])
def test_guide_check_names_every_channel_that_drifts(tmp_path, signal, gpio, adc, expected,
                                                     count):
    lines = PINOUT.read_text(encoding="utf-8").splitlines()
    out = [lines[0]]
    for ln in lines[1:]:
        parts = ln.split(",")
        if parts[0] == signal:
            parts[1], parts[2] = str(gpio), adc
        out.append(",".join(parts))
    bad = tmp_path / "pinout.csv"
    bad.write_text("\n".join(out) + "\n", encoding="utf-8")
    bom = load_bom(ROOT / "hardware" / "bom.csv")
    data = design_data()
    assert consistency_problems(bom, load_pinout(PINOUT), data) == []
    problems = consistency_problems(bom, load_pinout(bad), data)
    assert len(problems) == count and any(expected in p for p in problems), problems


def test_guide_build_stops_on_a_drifted_pinout(tmp_path):
    root = tmp_path / "src"
    shutil.copytree(ROOT / "hardware", root / "hardware")
    text = (root / "hardware" / "pinout.csv").read_text(encoding="utf-8")
    (root / "hardware" / "pinout.csv").write_text(text.replace("voltage,39,ADC1_CH3",
                                                               "voltage,33,ADC1_CH5"))
    with pytest.raises(GuideBuildError, match="voltage to GPIO33 but the firmware .* GPIO39"):
        build_guide(tmp_path / "site", root=root, pdf=False)
