# Checks of both directions (solar export) that run unchanged on the MicroPython VM and on
# CPython (the firmware imported as package `fw`): the integrator's two counters, the
# meter loop with a bidirectional mains clamp, old checkpoints and outbox records. Each
# returns a dict of findings; the pytest side (test_export_counters.py) asserts on them.

import json

import vm_meter
from fw import config, wire
from fw.energy import Integrator, StateStore
from fw.meter import Meter
from fw.outbox import pack_reading, unpack_reading


def integrator_both_ways():
    # One hour exporting 1 kW on a bidirectional channel, and the same on a
    # consumption-only one (a clamp on backwards: nothing counted either way).
    it = Integrator(2, bidirectional=[True, False])
    t = 0
    for _ in range(361):
        it.add([-1000.0, -1000.0], t)
        t += 10000
    steady = [list(it.mwh), list(it.export_mwh)]
    # A straight line from +1000 W to -1000 W over one hour: 250 Wh each way, split where
    # it crosses zero, whatever the sampling.
    it = Integrator(1, bidirectional=[True])
    it.add([1000.0], 0)
    it.add([-1000.0], 3600000)
    crossing = [it.mwh[0], it.export_mwh[0]]
    # Noisy signed power around zero, 2 s steps for 2 hours: neither counter ever goes down,
    # and import - export is the trapezoid of the signed power.
    it = Integrator(1, [7000], [9000], [True])
    seed = 12345
    prev = 0.0
    t = 0
    net_mwh = 0.0
    down = 0
    last = [7000, 9000]
    it.add([prev], t)
    for _ in range(3600):
        seed = (seed * 1103515245 + 12345) % 2147483648
        p = (seed / 2147483648.0 - 0.55) * 3000.0
        t += 2000
        it.add([p], t)
        net_mwh += (prev + p) * 0.5 * 2000 / 3600.0
        prev = p
        if it.mwh[0] < last[0] or it.export_mwh[0] < last[1]:
            down += 1
        last = [it.mwh[0], it.export_mwh[0]]
    net_counted = (it.mwh[0] - 7000) - (it.export_mwh[0] - 9000)
    # A floor found on flash at boot raises both counters, never lowers them.
    it2 = Integrator(1, [100], [200], [True])
    it2.raise_to([50], [300])
    return {"steady": steady, "crossing": crossing, "down": down,
            "net_counted": net_counted, "net_true": int(net_mwh),
            "imported": it.mwh[0] - 7000, "exported": it.export_mwh[0] - 9000,
            "raised": [it2.mwh[0], it2.export_mwh[0]]}


class SolarHW(vm_meter.FakeHW):
    """Channel 0 (mains, bidirectional) carries amps[0], negative: the house exports;
    channel 1 (consumption-only) amps[1], negative: a clamp on backwards."""

    def __init__(self, amps):
        vm_meter.FakeHW.__init__(self)
        self.amps = amps

    def adc(self, pin):
        if pin == config.VOLTAGE_PIN:
            return vm_meter.FakeADC(self, 0.0, 230.0)
        k = config.CURRENT_PINS.index(pin)
        return vm_meter.FakeADC(self, self.amps[k], 0.0)


def solar_cfg():
    return config.validate({
        "meter_id": "vm-solar", "mqtt_host": "broker", "interval_s": 10,
        "measure_period_s": 5, "cycles": 2, "sample_rate_hz": 1000,
        "channels": [{"id": 0, "pin": config.CURRENT_PINS[0], "direction": "bidirectional"},
                     {"id": 1, "pin": config.CURRENT_PINS[1]}],
        "voltage": {"pin": config.VOLTAGE_PIN}})


def meter_exporting():
    """The meter loop, 60 s exporting, stopped, then restarted on the same flash for 30 s
    importing: the export counter is on the wire, checkpointed, never decreasing."""
    hw = SolarHW([-10.0, -3.0])
    hw.stop_at_us = 60 * 1000000
    meter = Meter(solar_cfg(), hw)
    meter.run()
    faults = list(meter.faults)
    first = []
    for topic, msg in hw.sent:
        if topic.endswith("/reading"):
            first.append(wire.decode_reading(topic, msg))
    state = StateStore(hw.root + "/state.a", hw.root + "/state.b", hw.opener).load()
    # Restart on the same flash, now importing 5 A.
    hw2 = SolarHW([5.0, 0.0])
    hw2.flash = hw.flash
    hw2.opener = hw.flash.open
    hw2.fs = hw.flash
    hw2.stop_at_us = 30 * 1000000
    meter2 = Meter(solar_cfg(), hw2)
    meter2.run()
    second = []
    for topic, msg in hw2.sent:
        if topic.endswith("/reading"):
            second.append(wire.decode_reading(topic, msg))
    rows = []
    for r in first + second:
        c0 = r["ch"][0]
        c1 = r["ch"][1]
        rows.append([r["v"], r["boot"], r["interval_s"], c0["power_w"], c0["energy_wh"],
                     c0.get("export_wh"), "export_wh" in c1, c1["power_w"], c1["energy_wh"]])
    return {"rows": rows, "faults": faults, "state_xmwh": state["xmwh"],
            "state_mwh": state["mwh"], "export_mwh": list(meter2.energy.export_mwh),
            "mwh": list(meter2.energy.mwh)}


def old_checkpoint_and_records():
    """A checkpoint and a queued record written before the export counter existed still
    load: the export counter starts at 0, the import counter goes on."""
    hw = SolarHW([-10.0, 0.0])
    StateStore(hw.root + "/state.a", hw.root + "/state.b", hw.opener).write(
        {"boot": 6, "mwh": [123456, 789], "dropped": 0, "strikes": 0, "clean": True})
    hw.stop_at_us = 11 * 1000000
    meter = Meter(solar_cfg(), hw)
    meter.run()
    old = bytes(pack_reading((1, 2, 1790000000, 3, 10.0, [(0, 55, 1.5, 0.1, 230.0, 0.5)])))
    new = pack_reading((1, 2, 1790000000, 3, 10.0,
                        [(0, 55, -1.5, 0.1, 230.0, -0.5, 77), (1, 9, 2.0, 0.1, None, None, None)]))
    r_old = unpack_reading(old)
    r_new = unpack_reading(new)
    return {"boot": meter.boot, "mwh": list(meter.energy.mwh),
            "export_mwh": list(meter.energy.export_mwh),
            "old_record": [list(c) for c in r_old[5]], "new_record": [list(c) for c in r_new[5]],
            "sizes": [len(old), len(new)]}


CHECKS = ("integrator_both_ways", "meter_exporting", "old_checkpoint_and_records")


def main(names):
    for name in names:
        r = globals()[name]()
        r["check"] = name
        print(json.dumps(r))
