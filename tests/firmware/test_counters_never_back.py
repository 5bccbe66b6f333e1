"""Counters that never step back: a power cut at every step of a checkpoint write (every
byte, the open), a checkpoint slot corrupted at every byte, and a flash erased by a
reflash; the meter reads its retained counters back from the broker at connect, so the
first reading of the next boot is never below the last one published. On CPython for
every offset, on the MicroPython VM for a sample of them; the meter's real loop on a fake
`hw` (tests/firmware/vm_meter.py) with an in-memory flash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.firmware import vm
from tests.firmware.test_meter_vm import cpython_run_setup

HERE = Path(__file__).parent
# 10 A at 230 V, pf 0.878 on channel 0: 2019 W, 5.61 Wh per 10 s reading.
READING_MWH = 2019 * 10 / 3.6


def vm_meter():
    cpython_run_setup()
    import vm_meter as m

    return m


def check_continues(last, first_next, boot2):
    """The next boot's first reading: above the last published by at most two readings'
    energy (its own interval, and what the retained counters held beyond the last reading),
    in a later boot."""
    assert first_next[0] > last[0] and boot2 == first_next[0]
    assert last[2] < first_next[2] <= last[2] + 2.2 * READING_MWH


def test_a_power_cut_at_every_step_of_a_checkpoint_write():
    m = vm_meter()
    whole = m.run_power_cut(10 ** 9)   # no cut: where the flash steps end
    assert whole["cut_ms"] is None
    cuts = set()
    budget = 0
    while True:
        r = m.run_power_cut(budget)
        if r["cut_ms"] is None or r["cut_ms"] != (min(cuts) if cuts else r["cut_ms"]):
            break  # past the first checkpoint after 250 s: the next write
        cuts.add(r["cut_ms"])
        # Readings past the last whole checkpoint were published before the cut.
        last = r["first"][-1]
        check_continues(last, r["second"][0], r["boot2"])
        seq = [x[2] for x in r["first"] + r["second"]]
        assert seq == sorted(seq)
        budget += 1
    # Every byte of the checkpoint record, plus its open, was a place to cut.
    assert budget > 60
    # Without the read-back (a broker that lost its retained messages) the counter does
    # step back to the checkpoint: what the read-back is for.
    r = m.run_power_cut(budget // 2, readback=False)
    assert r["second"][0][2] < r["first"][-1][2] - 5 * READING_MWH


def test_readings_queued_before_the_read_back_are_raised_too():
    m = vm_meter()
    r = m.run_power_cut(30, offline_s=40)   # 4 readings queued while the broker is away
    check_continues(r["first"][-1], r["second"][0], r["boot2"])
    counters = [x[2] for x in r["second"]]
    steps = [b - a for a, b in zip(counters, counters[1:], strict=False)]
    assert min(steps) > 0.9 * READING_MWH and max(steps) < 1.1 * READING_MWH
    assert [x[1] for x in r["second"]] == list(range(len(r["second"])))


def test_a_checkpoint_corrupted_at_every_byte():
    m = vm_meter()
    size = m.run_corrupt(10 ** 6)["size"]
    assert size > 60
    for offset in range(size):
        r = m.run_corrupt(offset)
        check_continues(r["first"][-1], r["second"][0], r["boot2"])


def test_a_reflashed_meter_continues_its_boots_and_counters():
    m = vm_meter()
    r = m.run_power_cut(10 ** 9, wipe_flash=True)
    last = r["first"][-1]
    # An erased flash would restart at boot 1, seq 0 with 0 Wh: keys already stored.
    assert r["boot2"] == last[0] + 1
    check_continues(last, r["second"][0], r["boot2"])


@pytest.mark.parametrize("budget,wipe", [(0, False), (17, False), (65, False), (10 ** 9, True)])
def test_the_same_on_the_micropython_vm(tmp_path, budget, wipe):
    # One boot pair per VM run: longer runs trap in the wasm build's collector (vm.py).
    code = ("import vm_meter\n"
            "r = vm_meter.run_cut_series([" + repr(budget) + "], " + repr(wipe) + ", 0)\n"
            "print(json.dumps({'cuts': r}))\n")
    on_vm = vm.run(tmp_path, code, {"vm_meter.py": (HERE / "vm_meter.py").read_text()},
                   timeout_s=300)[-1]["cuts"]
    m = vm_meter()
    assert json.loads(json.dumps(m.run_cut_series([budget], wipe, 0))) == on_vm
    last, first_next, _, cut_ms, boot2 = on_vm[0]
    assert (cut_ms is None) == wipe
    check_continues(last, first_next, boot2)


@pytest.mark.parametrize("wipe", [False, True])
def test_counters_payload_round_trip(wipe):
    from citizenwatt.firmware import wire

    data = wire.encode_counters("m-1", 7, {0: 123456789012, 2: 5})
    assert wire.decode_counters("m-1", data) == (7, {0: 123456789012, 2: 5})
    assert wire.decode_counters("m-2", data) is None          # another meter's
    bad = data.replace(b"5}", b"-5}") if wipe else b"{not json"
    assert wire.decode_counters("m-1", bad) is None
