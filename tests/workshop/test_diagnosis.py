"""The fault table (workshop/diagnose.py, docs/workshop.md): each fault simulated on the
simulated board, measured through the real mpremote link, names its part and no other.
Where the measurement cannot tell, the tool asks, and the answer (the test acting on the
board as a trainee would) decides."""

from __future__ import annotations

import re

import pytest

from citizenwatt.firmware.config import CURRENT_PINS, VOLTAGE_PIN
from citizenwatt.host.simboard import SimBoardSpec, SimChannel
from citizenwatt.i18n import lang_scope
from citizenwatt.workshop import check as wcheck
from citizenwatt.workshop import config as wconfig
from citizenwatt.workshop import diagnose, pipeline
from citizenwatt.workshop.board import Board
from citizenwatt.workshop.errors import WorkshopError

# Every reference of hardware/bom.csv a sentence could name.
REF = re.compile(r"\b(U1|CT1|J[1-4]|R1[0-3]|R[1-9]|C[1-4]|H[12]|PCB1|W1|ENC1|PS1|CBL1|TR1)\b")


def _board(boards, channels, voltage=False, **spec):
    sim = boards(SimBoardSpec(channels=channels, voltage_pin=VOLTAGE_PIN if voltage else None, **spec))
    raw = wconfig.build("cw-0001", wifi_ssid="atelier", wifi_password="motdepasse", mqtt_host="127.0.0.1",
                        mqtt_port=1883, mqtt_user="cw-0001", mqtt_password="secret",
                        channels=len(channels), voltage_adapter_v=9 if voltage else None)
    sim.fs.write("/config.json", wconfig.to_bytes(raw))
    return sim


def _check(sim, ask=None):
    with Board(sim.port) as board:
        return wcheck.run_checks(board, network=False, ask=ask)


def _faults(results):
    """(fault, parts) of every result that is not OK or skipped, and its sentence's references."""
    bad = [r for r in results if r.status in (wcheck.FAIL, wcheck.WARN)]
    for r in bad:
        assert set(REF.findall(r.advice)) == set(r.parts), (r.parts, r.advice)
        assert diagnose.GUIDE_PAGE + "#" + r.section in r.advice
    return [(r.fault, r.parts) for r in bad]


def test_nothing_named_on_a_sound_board(boards):
    sim = _board(boards, [SimChannel(CURRENT_PINS[0]), SimChannel(CURRENT_PINS[1], load_w=1500)],
                 voltage=True)
    results = _check(sim)
    assert _faults(results) == []
    assert [r.status for r in results if r.key == "orientation"] == [wcheck.SKIP, wcheck.OK]


def test_clamp_unplugged_names_its_socket(boards):
    sim = _board(boards, [SimChannel(CURRENT_PINS[0]), SimChannel(CURRENT_PINS[1], plugged=False)])
    results = _check(sim)
    assert _faults(results) == [("clamp-unplugged", ("J2",))]
    bad = next(r for r in results if r.fault)
    assert "J2" in bad.advice and "0 V" in bad.advice


def test_clamp_reversed_among_others_names_that_clamp(boards):
    sim = _board(boards, [SimChannel(CURRENT_PINS[0], load_w=1000),
                          SimChannel(CURRENT_PINS[1], load_w=800, reversed=True)], voltage=True)
    assert _faults(_check(sim)) == [("clamp-reversed", ("CT1",))]
    r = next(r for r in _check(sim) if r.fault)
    assert r.name.endswith("1") and "à l'envers" in r.advice


def test_lone_negative_clamp_asks_where_its_arrow_points(boards):
    sim = _board(boards, [SimChannel(CURRENT_PINS[0], load_w=800, reversed=True)], voltage=True)
    questions = []

    def arrow_points_away(question, yes_no):
        questions.append((question, yes_no))
        return False  # the trainee looks: the arrow points away from the appliance
    assert _faults(_check(sim, ask=arrow_points_away)) == [("clamp-reversed", ("CT1",))]
    assert questions and questions[0][1] is True and "flèche" in questions[0][0]
    # Nobody to ask (batch mode): the sentence says how to tell, and names no part.
    assert _faults(_check(sim)) == [("clamp-reversed", ())]


def test_real_load_during_the_noise_test_asks_to_take_the_clamp_off(boards):
    # The case: 150 W under the clamp, reversed, no voltage adapter.
    sim = _board(boards, [SimChannel(CURRENT_PINS[0], load_w=150, reversed=True)])
    asked = []

    def take_the_clamp_off(question, yes_no):
        asked.append(question)
        sim.spec.channels[0].load_w = 0
        return True
    results = _check(sim, ask=take_the_clamp_off)
    assert _faults(results) == []  # nothing wrong with the board: no part blamed
    assert len(asked) == 1 and "retirez la pince du fil" in asked[0].lower()
    assert next(r for r in results if r.key == "noise").status == wcheck.OK
    # Nobody to ask: a warning, no part named (not the capacitor).
    sim.spec.channels[0].load_w = 150
    results = _check(sim)
    assert _faults(results) == [("real-load", ())]
    assert "condensateur" not in " ".join(r.advice for r in results)


def test_bias_capacitor_missing_names_the_capacitor(boards):
    sim = _board(boards, [SimChannel(CURRENT_PINS[0], bias_cap=False), SimChannel(CURRENT_PINS[1])])
    assert _faults(_check(sim)) == [("bias-capacitor", ("C1",))]


def test_bias_off_centre_names_the_divider_and_the_value_it_fits(boards):
    sim = _board(boards, [SimChannel(CURRENT_PINS[0]), SimChannel(CURRENT_PINS[1]),
                          SimChannel(CURRENT_PINS[2], bias_v=1.65)])
    results = _check(sim)
    assert _faults(results) == [("bias-off", ("R6", "R9"))]
    advice = next(r for r in results if r.fault).advice
    assert "1,65\u00a0V" in advice and "10,0\u00a0kΩ" in advice  # two equal resistors


def test_burden_missing_names_the_burden(boards):
    sim = _board(boards, [SimChannel(CURRENT_PINS[0], load_w=2000, burden_ohm=None)])
    assert _faults(_check(sim)) == [("burden-missing", ("R1",))]


def test_burden_wrong_value_found_by_calibration(boards):
    sim = _board(boards, [SimChannel(CURRENT_PINS[0], load_w=2000, burden_ohm=150.0)])
    with Board(sim.port) as board, pytest.raises(WorkshopError) as e:
        pipeline.calibrate(board, 0, 2000, windows=2)
    text = str(e.value)
    assert set(REF.findall(text)) == {"R1"} and "150\u00a0Ω" in text and "15,0\u00a0Ω" in text
    assert "burden-resistor" in text


def test_burden_too_small_is_named_only_once_the_kettle_is_surely_on(boards):
    sim = _board(boards, [SimChannel(CURRENT_PINS[0], load_w=2000, burden_ohm=2.2)])
    asked = []

    def kettle_is_on(question, yes_no):
        asked.append(question)
        return True
    with Board(sim.port) as board, pytest.raises(WorkshopError) as e:
        pipeline.calibrate(board, 0, 2000, windows=2, ask=kettle_is_on)
    assert len(asked) == 1 and "bouilloire" in asked[0]
    text = str(e.value)
    assert set(REF.findall(text)) == {"R1"} and "2,2\u00a0Ω" in text


def test_no_load_during_calibration_asks_for_the_kettle_and_blames_nothing(boards):
    # The kettle is not heating: only 300 W of something else (the factor 6,68).
    sim = _board(boards, [SimChannel(CURRENT_PINS[0], load_w=300)])

    def switch_the_kettle_on(question, yes_no):
        sim.spec.channels[0].load_w = 2000
        return True
    with Board(sim.port) as board:
        r = pipeline.calibrate(board, 0, 2000, windows=2, ask=switch_the_kettle_on)
    assert r.trim == pytest.approx(1.0, abs=0.05) and r.after_w == pytest.approx(2000, rel=0.05)
    # Nobody to ask (--yes): it says it cannot tell, names no part, and how to find out.
    sim.spec.channels[0].load_w = 300
    with Board(sim.port) as board, pytest.raises(WorkshopError) as e:
        pipeline.calibrate(board, 0, 2000, windows=2)
    text = str(e.value)
    assert REF.findall(text) == [] and "sans --yes" in text and "résistance" not in text


def test_voltage_adapter_absent_names_the_adapter(boards):
    sim = _board(boards, [SimChannel(CURRENT_PINS[0], load_w=1000)], voltage=True, adapter="absent")
    assert _faults(_check(sim)) == [("adapter-absent", ("TR1",))]


def test_voltage_adapter_reversed_names_the_adapter_not_the_clamps(boards):
    sim = _board(boards, [SimChannel(CURRENT_PINS[0], load_w=1000), SimChannel(CURRENT_PINS[1], load_w=600)],
                 voltage=True, adapter="reversed")
    assert _faults(_check(sim)) == [("adapter-reversed", ("TR1",))] * 2
    # One clamp alone: the trainee says its arrow points the right way -> the adapter.
    sim.spec.channels[1].load_w = 0
    assert _faults(_check(sim, ask=lambda q, yes_no: True)) == [("adapter-reversed", ("TR1",))]


def test_wire_on_an_adc2_pin_is_found_with_the_radio_off(boards):
    sim = _board(boards, [SimChannel(CURRENT_PINS[0], wired_pin=25)])
    results = _check(sim)
    assert _faults(results) == [("adc2-pin", ("W1",))]
    advice = next(r for r in results if r.fault).advice
    assert "GPIO25" in advice and "GPIO36" in advice and "ADC2" in advice
    with Board(sim.port) as board:  # and ADC2 really is unreadable once the radio is on
        out = board.exec("import network, machine\nnetwork.WLAN(network.STA_IF).active(True)\n"
                         "try:\n machine.ADC(machine.Pin(25)).read_uv()\n print('read')\n"
                         "except OSError:\n print('busy')\n")
    assert out.strip() == "busy"


def test_input_wired_to_nothing_names_the_wire(boards):
    sim = _board(boards, [SimChannel(CURRENT_PINS[0], wired_pin=5)])
    assert _faults(_check(sim)) == [("floating-input", ("W1",))]


def test_every_fault_of_the_table_is_tested_here():
    source = open(__file__, encoding="utf-8").read()
    names = {m.group(1).replace("_", "-") for m in re.finditer(r"^def test_(\w+)", source, re.M)}
    words = " ".join(names)
    for key in diagnose.FAULTS:
        assert any(w in words for w in {
            "clamp-unplugged": ["clamp-unplugged"], "clamp-reversed": ["clamp-reversed"],
            "real-load": ["real-load"], "no-load-calibration": ["no-load-during-calibration"],
            "burden-missing": ["burden-missing"], "burden-wrong": ["burden-wrong"],
            "bias-capacitor": ["bias-capacitor"], "bias-off": ["bias-off"],
            "adapter-absent": ["voltage-adapter-absent"], "adapter-reversed": ["voltage-adapter-reversed"],
            "adc2-pin": ["adc2-pin"], "floating-input": ["wired-to-nothing"]}[key]), key


def test_english_sentences_too(boards):
    sim = _board(boards, [SimChannel(CURRENT_PINS[0], bias_cap=False)])
    with lang_scope("en"):
        results = _check(sim)
    advice = next(r for r in results if r.fault).advice
    assert "capacitor C1" in advice and 'Guide: "A noisy input with no current"' in advice
