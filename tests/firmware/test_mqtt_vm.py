"""The meter's MQTT client on the real MicroPython VM and on CPython, identical: the packets
it builds and parses, and its answers to a broker that refuses, says nothing, closes,
speaks something else, or goes quiet after a ping (tests/firmware/mqtt_checks.py)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from tests.firmware import vm

HERE = Path(__file__).parent


def cpython_checks():
    import citizenwatt.firmware as fw

    sys.modules.setdefault("fw", fw)
    sys.modules.setdefault("fw.mqtt", importlib.import_module("citizenwatt.firmware.mqtt"))
    sys.path.insert(0, str(HERE))
    try:
        import mqtt_checks
    finally:
        sys.path.remove(str(HERE))
    return mqtt_checks


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    checks = cpython_checks()
    cp = {name: getattr(checks, name)() for name in checks.CHECKS}
    code = f"import mqtt_checks\nmqtt_checks.main({list(checks.CHECKS)!r})\n"
    out = vm.run(tmp_path_factory.mktemp("vm"), code,
                 {"mqtt_checks.py": (HERE / "mqtt_checks.py").read_text()}, timeout_s=120)
    return {"cpython": cp, "vm": {r["check"]: r for r in out}}


def test_same_results_on_the_vm_and_cpython(results):
    assert results["vm"] == results["cpython"]


@pytest.mark.parametrize("where", ["cpython", "vm"])
def test_packets(results, where):
    r = results[where]["packets"]
    # CONNECT: MQTT, level 4, clean session, keepalive 60, client id
    assert r["connect_plain"] == "1010" + "00044d5154540402003c" + "0004" + b"cw-m".hex()
    assert r["connect_user_only"][18:20] == "82"  # user name flag without password flag
    accents = bytes.fromhex(r["connect_accents"])
    pw = "été€".encode()
    assert accents.endswith(len(pw).to_bytes(2, "big") + pw) and len(pw) == 8 > len("été€")
    assert accents[9] == 0x80 | 0x40 | 0x20 | 0x08 | 0x04  # user, password, will retained QoS 1
    assert accents[1] == len(accents) - 2
    assert r["publish_head"].startswith("32") and r["publish_len"] == 1 + 2 + 2 + 12 + 2 + 300
    assert r["parsed"] == ["cw/m/reading", 300, 1, 65535]
    assert r["subscribe"] == "8211" + "0007" + "000c" + b"cw/m/command".hex() + "01"
    assert r["varint_lens"] == [1, 1, 2, 2, 3, 3, 4]
    assert r["pid_wraps"] == [65534, 65535, 1, 2]
    assert r["connack"] == [1, 0]


@pytest.mark.parametrize("where", ["cpython", "vm"])
def test_client_failures_are_one_family(results, where):
    r = results[where]["client_cases"]
    assert r["refused"] == ["refused", 5, True]
    assert r["silent"] == ["timeout", 0, True]
    assert r["closed"] == ["closed", 0, True]
    assert r["http"] == ["protocol", 0, True]
    assert r["ping_then_silent"] == ["timeout", 0, True]
    assert r["publish_then_silent"] == ["timeout", 0, True]
    assert r["command"] == [["cw/c", "go"]]
    assert r["command_acked"] == "40020009"
    assert r["check_msg_empty"] == ["ok", None]
    assert r["keepalive0"] == "refused"
