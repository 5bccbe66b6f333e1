"""Every number the guide shows from the design equals what the firmware computes or uses.

Expected values are taken here straight from the firmware modules (calib.design, config
DEFAULTS), not through the guide's adapter, so an adapter bug cannot hide a drift.
"""

from __future__ import annotations

import html
import inspect
import json
import math
import re

import pytest

from citizenwatt.firmware import calib, config
from citizenwatt.i18n import LANGS

CONST_SPAN = re.compile(r'<span class="cw-const" data-key="([^"]+)" data-value="([^"]*)">([^<]*)</span>')
TABLE = re.compile(r'<table class="cw-generated" data-table="([^"]+)" '
                   r'data-source="citizenwatt\.firmware\.calib\.design">(.*?)</table>', re.S)
ROW = re.compile(r'<tr data-inputs="([^"]+)">(.*?)</tr>', re.S)
CELL = re.compile(r'<td[^>]*data-key="([^"]+)" data-value="([^"]*)">([^<]*)</td>')


def firmware_inputs() -> dict:
    """design() as the firmware calls it for its default configuration."""
    defaults = config.DEFAULTS
    first = defaults["channels"][0]
    signature = inspect.signature(calib.design)
    inputs = {name: p.default for name, p in signature.parameters.items()}
    inputs.update(
        clamp=first["clamp"],
        max_current_a=first["max_current_a"],
        atten_db=defaults["atten_db"],
        mains_hz=defaults["mains_hz"],
        mains_v=defaults["nominal_v"],
        sample_rate_hz=defaults["sample_rate_hz"],
    )
    return inputs


def expected_value(key: str):
    inputs = firmware_inputs()
    if key == "config.channel_pin":
        return config.DEFAULTS["channels"][0]["pin"]
    if key == "config.pin_voltage":
        return config.VOLTAGE_PIN
    if key.startswith("config.pin_current_"):
        return config.CURRENT_PINS[int(key.removeprefix("config.pin_current_")) - 1]
    if key.startswith("config."):
        return config.DEFAULTS[key.removeprefix("config.")]
    if key == "mains_tolerance":
        return calib.MAINS_TOLERANCE
    if key == "clamp_rated_a":
        return calib.CLAMPS[inputs["clamp"]][1]
    if key == "clamp_secondary_ma":
        return calib.CLAMPS[inputs["clamp"]][2] * 1000
    result = calib.design(**inputs)
    if key in result:
        return result[key]
    return inputs[key]


def same(shown_value: str, expected) -> bool:
    if isinstance(expected, str):
        return shown_value == expected
    return math.isclose(float(shown_value), float(expected), rel_tol=1e-9, abs_tol=1e-12)


def shown_number(text: str, lang: str) -> float | None:
    """The number a reader sees: '1,27 V' -> 1.27 (fr), '2,000' -> 2000 (en), '16 kΩ' -> 16000."""
    text = html.unescape(text)
    if lang == "fr":
        text = re.sub(r"[\u202f\u00a0 ](?=\d)", "", text).replace(",", ".")
    else:
        text = text.replace(",", "")
    match = re.match(r"^(\d+(?:\.\d+)?)\s*(k?)", text)
    if not match:
        return None
    return float(match.group(1)) * (1000 if match.group(2) == "k" else 1)


def rounding_ok(text: str, value, lang: str) -> bool:
    if isinstance(value, str):
        return html.unescape(text).startswith(value)
    number = shown_number(text, lang)
    if number is None:
        return False
    if text.strip().endswith("%"):
        number /= 100
    decimals = re.search(r"[.,](\d+)" if lang == "fr" else r"\.(\d+)", html.unescape(text))
    step = 10 ** -(len(decimals.group(1)) if decimals else 0)
    if "kΩ" in text:
        step *= 1000
    if text.strip().endswith("%"):
        step /= 100
    return abs(number - float(value)) <= step / 2 + 1e-9


def pages(built, lang):
    return {
        path.name: path.read_text(encoding="utf-8") for path in sorted((built.out_dir / lang).glob("*.html"))
    }


def test_the_standard_design_is_the_firmware_default_configuration():
    # The guide must not document a meter the firmware does not configure by default.
    inputs = firmware_inputs()
    assert inputs["clamp"] == "SCT-013-000"
    assert calib.design(**inputs)["burden_ohm"] > 0


@pytest.mark.parametrize("lang", LANGS)
def test_every_constant_in_the_text_equals_the_firmware(built, lang):
    checked = []
    for name, text in pages(built, lang).items():
        for key, value, shown in CONST_SPAN.findall(text):
            expected = expected_value(key)
            assert same(value, expected), f"{lang}/{name}: {key} is {value}, firmware has {expected}"
            assert rounding_ok(shown, expected, lang), (
                f"{lang}/{name}: {key} shown as {shown!r} for {expected}"
            )
            checked.append(key)
    assert len(checked) > 100
    for key in (
        "burden_ohm",
        "ical_a_per_v",
        "bias_v",
        "bias_r_top_ohm",
        "vcal_v_per_v",
        "config.interval_s",
        "config.channel_pin",
    ):
        assert key in checked


@pytest.mark.parametrize("lang", LANGS)
def test_every_generated_table_cell_equals_a_fresh_design_call(built, lang):
    cells = 0
    tables = set()
    for name, text in pages(built, lang).items():
        for table, body in TABLE.findall(text):
            tables.add(table)
            for inputs_json, row in ROW.findall(body):
                inputs = json.loads(html.unescape(inputs_json))
                result = calib.design(**inputs)
                for key, value, shown in CELL.findall(row):
                    expected = result.get(key, inputs.get(key))
                    assert same(value, expected), (
                        f"{lang}/{name} table {table}: {key}={value}, design() gives {expected}"
                    )
                    if not isinstance(expected, str) and expected != 0:
                        assert rounding_ok(shown, expected, lang), f"{table}: {key} shown as {shown!r}"
                    cells += 1
            for key, value in re.findall(r'<td class="num" data-key="([^"]+)" data-value="([^"]*)">', body):
                if "data-inputs" not in body:  # the one-row-per-quantity sheets of the standard design
                    assert same(value, expected_value(key)), f"{table}: {key}={value}"
                    cells += 1
    assert {"design", "voltage", "burden_by_current", "attenuation", "clamps", "adapters"} <= tables
    assert cells > 100


@pytest.mark.parametrize("lang", LANGS)
def test_pins_shown_match_the_firmware_default_channel(built, lang):
    text = pages(built, lang)["soldering.html"]
    pins = dict(re.findall(r'data-signal="([^"]+)" data-value="(\d+)"', text))
    assert int(pins["current_1"]) == config.DEFAULTS["channels"][0]["pin"]
    # Every channel and the voltage input, as the firmware reads them (firmware/config.py).
    expected = {f"current_{n}": config.CURRENT_PINS[n - 1] for n in (1, 2, 3)}
    expected["voltage"] = config.VOLTAGE_PIN
    assert {k: int(v) for k, v in pins.items()} == expected
    assert len(set(pins.values())) == len(pins) == 4  # four different ADC1 inputs
    svg = (built.out_dir / lang / "img" / "schematic.svg").read_text(encoding="utf-8")
    assert f"GPIO{config.CURRENT_PINS[0]}" in svg and f"GPIO{config.VOLTAGE_PIN}" in svg
    board = (built.out_dir / lang / "img" / "layout.svg").read_text(encoding="utf-8")
    for gpio in expected.values():
        assert f">GPIO{gpio}<" in board  # beside its pin of the header H1


def test_the_troubleshooting_chapter_has_every_section_the_workshop_tool_points_to(built):
    errors = pytest.importorskip("citizenwatt.workshop.errors")
    for lang in LANGS:
        text = pages(built, lang)["troubleshooting.html"]
        ids = set(re.findall(r'id="([^"]+)"', text))
        assert set(errors.SECTIONS) <= ids, f"{lang}: missing {set(errors.SECTIONS) - ids}"
