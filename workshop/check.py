"""Self-test of a built meter: ADC inputs, bias, noise floor, clamp orientation, Wi-Fi,
broker. Each failure names what to look at on the board and the build-guide section."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from citizenwatt.i18n import N_, _, format_number
from citizenwatt.workshop import config as wconfig
from citizenwatt.workshop import diagnose as diag
from citizenwatt.workshop import sampling
from citizenwatt.workshop.errors import WorkshopError

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
SUPPLY_V = 3.3               # the rail feeding the bias dividers (calib.design's supply_v)
LOAD_A = 1.0                 # above this a clamp carries a real load: no noise test
ORIENTATION_MIN_W = 20.0
WIFI_WEAK_DBM, WIFI_BAD_DBM = -75, -85
WIFI_TIMEOUT_MS = 15000
# network.WLAN.status() codes of the ESP32 port (ESP-IDF's disconnect reasons), in words
WIFI_STATUS = {
    200: N_("signal lost"),
    201: N_("network not found"),
    202: N_("wrong password"),
    203: N_("the router refused the board"),
    204: N_("no answer to the password (often a wrong password)"),
    210: N_("network not found with a security the ESP32 supports"),
    211: N_("network not found with a security the ESP32 supports"),
}


@dataclass
class CheckResult:
    key: str
    name: str
    status: str
    value: str = ""
    advice: str = ""
    section: str | None = None
    fault: str | None = None        # a key of diagnose.FAULTS
    parts: tuple[str, ...] = ()     # the BOM references the advice names


_WIFI = """\
import network, time
_w=network.WLAN(network.STA_IF)
_w.active(True)
if not _w.isconnected():
    _w.connect({ssid!r}, {password!r})
_t=time.ticks_ms()
_bad=(getattr(network,'STAT_NO_AP_FOUND',201), getattr(network,'STAT_WRONG_PASSWORD',202),
      getattr(network,'STAT_ASSOC_FAIL',203), getattr(network,'STAT_HANDSHAKE_TIMEOUT',204))
while not _w.isconnected() and time.ticks_diff(time.ticks_ms(), _t) < {timeout_ms}:
    if _w.status() in _bad:
        break
    time.sleep_ms(100)
print(repr((_w.isconnected(), _w.status(), _w.status('rssi') if _w.isconnected() else None)))
"""

# A bare MQTT 3.1.1 CONNECT with the meter's credentials: it tests the route to the broker
# and the password in one go, without depending on a library being installed.
_BROKER = """\
import socket
def _s(b):
    return bytes([len(b) >> 8, len(b) & 255]) + b
_body = b'\\x00\\x04MQTT\\x04\\xc2\\x00\\x1e' + _s({client_id!r}) + _s({user!r}) + _s({password!r})
_rl = bytearray()
_n = len(_body)
while True:
    _d = _n % 128
    _n //= 128
    _rl.append(_d | (128 if _n else 0))
    if not _n:
        break
try:
    _k = socket.socket()
    _k.settimeout(5)
    _k.connect(socket.getaddrinfo({host!r}, {port})[0][-1])
    _k.send(b'\\x10' + bytes(_rl) + _body)
    _r = _k.recv(4)
    try:
        _k.send(b'\\xe0\\x00')
    except OSError:
        pass
    _k.close()
    print(repr(('connack', _r[3] if len(_r) == 4 and _r[0] == 0x20 else -1)))
except OSError as _e:
    print(repr(('error', str(_e))))
"""


def _fmt_v(x: float) -> str:
    return diag.volts(x)


# One read of each ADC2 pin with the radio off: where a channel's wire may have landed.
_ADC2_PROBE = """\
import machine, network
try:
    network.WLAN(network.STA_IF).active(False)
except Exception:
    pass
_r=[]
for _p in {pins!r}:
    try:
        _a=machine.ADC(machine.Pin(_p), atten=machine.ADC.ATTN_11DB)
        _x=[_a.read_uv() for _k in range(48)]
        _r.append((_p, sum(_x)/48e6, (max(_x)-min(_x))/1e6))
    except Exception:
        _r.append((_p, -1.0, -1.0))
print(repr(_r))
"""
ADC2_PINS = (0, 2, 4, 12, 13, 14, 15, 25, 26, 27)

# ask(question, yes_no) -> True/False (yes/no, or Enter pressed), None when nobody can answer
Ask = Callable[[str, bool], "bool | None"]


def _fail(key: str, name: str, value: str, fault: str, parts: tuple[str, ...], sentence: str,
          status: str = FAIL) -> CheckResult:
    section = diag.FAULTS[fault].section
    return CheckResult(key, name, status, value, sentence + " " + diag.guide_pointer(section), section,
                       fault=fault, parts=parts)


def _w(power_w: float) -> str:
    return format_number(power_w, 0) + "\u00a0W"


def _a(irms_a: float) -> str:
    return format_number(irms_a, 2) + "\u00a0A"


def _input_result(board, cfg, ch, d, sig, name) -> CheckResult:  # noqa: C901 - one branch per fault
    cid, pin = ch["id"], ch["pin"]
    parts = diag.channel_parts(cid)
    fault = diag.input_fault(sig, d["bias_v"], d["adc_lo_v"], d["adc_hi_v"])
    value = f"{_fmt_v(sig.lo_v)} – {_fmt_v(sig.hi_v)}"
    if fault == "clamp-unplugged":
        return _fail("adc", name, value, fault, (parts["jack"],), _(
            "No clamp in the socket {jack} of channel {channel}: its input sits at 0 V. Push the clamp's "
            "plug fully into {jack}, to the end of its travel.", jack=parts["jack"], channel=cid))
    if fault == "floating-input":
        found = diag.adc2_candidate(board.eval_code(_ADC2_PROBE.format(pins=list(ADC2_PINS))), d["bias_v"])
        if found is not None:
            return _fail("adc", name, value, "adc2-pin", (parts["wire"],), _(
                "The wire {wire} of channel {channel} is soldered to GPIO{found}, an ADC2 pin the ESP32 "
                "cannot read while Wi-Fi is on, instead of GPIO{pin}: move it to GPIO{pin}.",
                wire=parts["wire"], channel=cid, found=found, pin=pin))
        return _fail("adc", name, value, fault, (parts["wire"],), _(
            "The input GPIO{pin} of channel {channel} is connected to nothing (it reads anything from "
            "{lo} to {hi}): resolder the wire {wire} that brings the clamp's signal to GPIO{pin}.",
            pin=pin, channel=cid, lo=_fmt_v(sig.lo_v), hi=_fmt_v(sig.hi_v), wire=parts["wire"]))
    if fault == "burden-missing":
        return _fail("adc", name, value, fault, (parts["burden"],), _(
            "The burden resistor {burden} of channel {channel} is missing or not soldered: with a load, "
            "the input swings from one rail to the other. Solder a {burden_ohm} resistor in {burden}.",
            burden=parts["burden"], channel=cid, burden_ohm=diag.ohms(d["burden_ohm"])))
    if fault == "burden-wrong":
        return _fail("adc", name, value, fault, (parts["burden"],), _(
            "The burden resistor {burden} of channel {channel} is too large: the signal clips. It must "
            "be {burden_ohm}: check its colour bands and replace it.",
            burden=parts["burden"], channel=cid, burden_ohm=diag.ohms(d["burden_ohm"])))
    return CheckResult("adc", name, OK, value)


def _bias_result(d, sig, ch, name) -> CheckResult:
    cid = ch["id"]
    parts = diag.channel_parts(cid)
    if diag.input_fault(sig, d["bias_v"], d["adc_lo_v"], d["adc_hi_v"]) != "bias-off":
        return CheckResult("bias", name, OK, _fmt_v(sig.mean_v))
    pair = (parts["bias_top"], parts["bias_bottom"])
    top = diag.bias_top_estimate_ohm(sig.mean_v, SUPPLY_V, d["bias_r_bottom_ohm"])
    kw = dict(channel=cid, bias_v=_fmt_v(sig.mean_v), expected_v=_fmt_v(d["bias_v"]), top=pair[0],
              bottom=pair[1], top_ohm=diag.ohms(d["bias_r_top_ohm"]),
              bottom_ohm=diag.ohms(d["bias_r_bottom_ohm"]))
    if top is None or sig.mean_v > diag.STUCK_HIGH_V:
        sentence = _("The bias point of channel {channel} is pulled to {bias_v} instead of {expected_v}: "
                     "{bottom} ({bottom_ohm}) is not connected to GND. Check its joints; {top} must be "
                     "{top_ohm}.", **kw)
    else:
        sentence = _("The bias divider of channel {channel} gives {bias_v} instead of {expected_v}: {top} "
                     "must be {top_ohm} and {bottom} {bottom_ohm} (this reading fits a {top} of about "
                     "{estimate}). Check their colour bands and their joints.",
                     estimate=diag.ohms(top), **kw)
    return _fail("bias", name, _fmt_v(sig.mean_v), "bias-off", pair, sentence)


def _noise_result(board, cfg, ch, sig, r, name, ask: Ask | None) -> CheckResult:
    cid, pin = ch["id"], ch["pin"]
    noise_mv = sig.ac_rms_v * 1000
    fault = diag.noise_fault(sig, r["irms_a"])
    if fault == "real-load" and r["irms_a"] > LOAD_A:
        return CheckResult("noise", name, SKIP, _a(r["irms_a"]))  # a load on purpose: no noise test
    if fault == "real-load" and ask is not None:
        answered = ask(_("Channel {channel} measures {irms_a} ({power_w}) that follows the mains: its clamp "
                         "is around a wire that carries a load. Take the clamp off the wire (or switch the "
                         "appliance off), then press Enter.", channel=cid, irms_a=_a(r["irms_a"]),
                         power_w=_w(abs(r["apparent_w"]))), False)
        if answered:
            windows, results = sampling.measure_config(board, cfg)
            window, r = windows[cid], results[cid]
            sig = diag.signal_of(window.volts(pin)[: window.n], window.rate_hz, cfg["mains_hz"])
            noise_mv = sig.ac_rms_v * 1000
            fault = diag.noise_fault(sig, r["irms_a"])
    value = "{}, {} mV".format(_w(abs(r["apparent_w"])), format_number(noise_mv, 1))
    if fault == "real-load":
        return _fail("noise", name, value, fault, (), _(
            "Channel {channel} measures {irms_a} ({power_w}) that follows the mains: its clamp is around "
            "a wire that carries a load, so the noise cannot be tested. Take the clamp off the wire, then "
            "run `citizenwatt check` again.", channel=cid, irms_a=_a(r["irms_a"]),
            power_w=_w(abs(r["apparent_w"]))), status=WARN)
    if fault == "bias-capacitor":
        cap = diag.channel_parts(cid)["cap"]
        return _fail("noise", name, value, fault, (cap,), _(
            "The 10 uF capacitor {cap} of channel {channel} is missing or not soldered: with no current "
            "the input is noisy ({noise_mv} mV, {power_w} read). Solder it, its minus stripe to GND.",
            cap=cap, channel=cid, noise_mv=format_number(noise_mv, 1), power_w=_w(abs(r["apparent_w"]))))
    return CheckResult("noise", name, OK, value)


def check_inputs(board, cfg: dict, ask: Ask | None = None) -> list[CheckResult]:
    """The clamp inputs, one window each, named by the fault table (diagnose.py): the first
    fault of a channel's levels, then its noise at rest, then every clamp's direction."""
    windows, results = sampling.measure_config(board, cfg)
    out: list[CheckResult] = []
    clean: dict[int, float] = {}  # channel -> real power, for the channels whose input is sound
    for ch in cfg["channels"]:
        cid, pin = ch["id"], ch["pin"]
        d = wconfig.channel_design(cfg, ch)
        r, window = results[cid], windows[cid]
        sig = diag.signal_of(window.volts(pin), window.rate_hz, cfg["mains_hz"])
        adc = _input_result(board, cfg, ch, d, sig, _("Raw ADC channel {channel}", channel=cid))
        out.append(adc)
        name = _("Bias voltage channel {channel}", channel=cid)
        out.append(_bias_result(d, sig, ch, name) if adc.status == OK else CheckResult("bias", name, SKIP))
        name = _("Noise floor channel {channel}", channel=cid)
        if adc.status != OK or out[-1].status != OK:
            out.append(CheckResult("noise", name, SKIP))
            continue
        out.append(_noise_result(board, cfg, ch, sig, r, name, ask))
        if r["vrms_v"] is not None and r["apparent_w"] >= ORIENTATION_MIN_W:
            clean[cid] = r["real_w"]
    out += _orientation_results(cfg, results, clean, ask)
    return out


def _orientation_results(cfg: dict, results: dict, powers: dict[int, float],
                         ask: Ask | None) -> list[CheckResult]:
    """The voltage adapter, then each clamp's direction: only a voltage gives the sign."""
    out: list[CheckResult] = []
    vcfg = cfg.get("voltage")
    if vcfg:
        vrms = next((r["vrms_v"] for r in results.values() if r["vrms_v"] is not None), None)
        name = _("Voltage adapter")
        if diag.adapter_fault(vrms, cfg["nominal_v"]) == "adapter-absent":
            out.append(_fail("voltage", name, "%s V" % format_number(vrms or 0, 0), "adapter-absent",
                             (diag.VOLTAGE_PARTS["adapter"],), _(
                "No mains voltage on the voltage input GPIO{pin} ({vrms} V): plug the AC-AC adapter "
                "{adapter} into a wall socket and into the board.", pin=vcfg["pin"],
                vrms=format_number(vrms or 0, 0), adapter=diag.VOLTAGE_PARTS["adapter"])))
            powers = {}
        else:
            out.append(CheckResult("voltage", name, OK, "%s V" % format_number(vrms or 0, 0)))
    verdict, channels = diag.orientation_faults(powers, ORIENTATION_MIN_W)
    if verdict == "ask":
        cid = channels[0]
        answer = None if ask is None else ask(_(
            "Channel {channel} reads a negative power ({power_w}). Look at its clamp: does its arrow "
            "(K→L) point towards the appliance?", channel=cid, power_w=_w(powers[cid])), True)
        verdict = None if answer is None else ("adapter-reversed" if answer else "clamp-reversed")
    for ch in cfg["channels"]:
        cid = ch["id"]
        name = _("Clamp orientation channel {channel}", channel=cid)
        if not vcfg:
            out.append(CheckResult("orientation", name, SKIP, "",
                                   _("Without a voltage adapter, clamp orientation cannot be measured.")))
        elif cid not in powers:
            r = results[cid]
            out.append(CheckResult("orientation", name, SKIP, "",
                                   _("No load on the channel: switch an appliance on to test the "
                                     "orientation.") if r["vrms_v"] else ""))
        elif cid not in channels:
            out.append(CheckResult("orientation", name, OK, _w(powers[cid])))
        elif verdict == "clamp-reversed":
            clamp = diag.channel_parts(cid)["clamp"]
            out.append(_fail("orientation", name, _w(powers[cid]), verdict, (clamp,), _(
                "The clamp {clamp} of channel {channel} is on backwards ({power_w}): turn it over on the "
                "wire, its arrow (K→L) towards the appliance.", clamp=clamp, channel=cid,
                power_w=_w(powers[cid]))))
        elif verdict == "adapter-reversed":
            adapter = diag.VOLTAGE_PARTS["adapter"]
            out.append(_fail("orientation", name, _w(powers[cid]), verdict, (adapter,), _(
                "Every clamp carrying a load reads a negative power: the AC-AC adapter {adapter} is "
                "plugged the wrong way round. Turn its plug round in the wall socket.", adapter=adapter)))
        else:  # nobody to ask: say how to tell, name nothing
            out.append(_fail("orientation", name, _w(powers[cid]), "clamp-reversed", (), _(
                "Channel {channel} reads a negative power ({power_w}): either its clamp is on backwards or "
                "the AC-AC adapter's plug is turned round. Look at the clamp: if its arrow (K→L) points "
                "towards the appliance, turn the adapter's plug round in the wall socket; otherwise turn "
                "the clamp over.", channel=cid, power_w=_w(powers[cid]))))
    return out


def check_wifi(board, cfg: dict) -> CheckResult:
    name = _("Wi-Fi")
    connected, status, rssi = board.eval_code(
        _WIFI.format(ssid=cfg["wifi_ssid"], password=cfg["wifi_password"], timeout_ms=WIFI_TIMEOUT_MS)
    )
    if not connected:
        detail = _(WIFI_STATUS[status]) if status in WIFI_STATUS else _("status {status}", status=status)
        return CheckResult(
            "wifi",
            name,
            FAIL,
            detail,
            _(
                'The board does not join the Wi-Fi "{ssid}" ({detail}). Check the name and '
                "the password, that the network is 2.4 GHz (the ESP32 cannot see 5 GHz), and "
                "move the board closer to the router.",
                ssid=cfg["wifi_ssid"],
                detail=detail,
            ) + " " + diag.guide_pointer("wifi"),
            "wifi",
        )
    if rssi < WIFI_WEAK_DBM:
        status = FAIL if rssi < WIFI_BAD_DBM else WARN
        return CheckResult(
            "wifi",
            name,
            status,
            "%d dBm" % rssi,
            _(
                "Weak Wi-Fi signal ({rssi_dbm} dBm, better than {limit_dbm} dBm needed): move "
                "the meter closer to the router or add a repeater.",
                rssi_dbm=rssi,
                limit_dbm=WIFI_WEAK_DBM,
            ) + " " + diag.guide_pointer("wifi"),
            "wifi",
        )
    return CheckResult("wifi", name, OK, "%d dBm" % rssi)


def check_broker(board, cfg: dict, refused_grace_s: float = 5.0) -> CheckResult:
    name = _("MQTT broker")
    code = _BROKER.format(
        client_id=(cfg["meter_id"] + "-check").encode(),
        user=(cfg["mqtt_user"] or "").encode(),
        password=(cfg["mqtt_password"] or "").encode(),
        host=cfg["mqtt_host"],
        port=cfg["mqtt_port"],
    )
    # Just after provisioning, Mosquitto may still be rereading its password file:
    # a refusal is retried for a few seconds before it counts.
    deadline = time.monotonic() + refused_grace_s
    while True:
        kind, value = board.eval_code(code)
        if kind != "connack" or value in (0, -1) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    where = "{}:{}".format(cfg["mqtt_host"], cfg["mqtt_port"])
    if kind == "error" or value == -1:
        detail = value if kind == "error" else "no CONNACK"
        return CheckResult(
            "broker",
            name,
            FAIL,
            where,
            _(
                "The board cannot reach the MQTT broker {host}:{port} ({detail}). Check the "
                'address (not "localhost": the server\'s address on the network) and that '
                "Mosquitto runs.",
                host=cfg["mqtt_host"],
                port=cfg["mqtt_port"],
                detail=detail,
            ) + " " + diag.guide_pointer("broker"),
            "broker",
        )
    if value != 0:
        return CheckResult(
            "broker",
            name,
            FAIL,
            "%s (%d)" % (where, value),
            _(
                "The MQTT broker refuses the meter's credentials (code {code}). Run "
                "`citizenwatt provision` again and reload Mosquitto (password and ACL files).",
                code=value,
            ) + " " + diag.guide_pointer("broker"),
            "broker",
        )
    return CheckResult("broker", name, OK, where)


def run_checks(board, network: bool = True, ask: Ask | None = None) -> list[CheckResult]:
    """Every test; `ask` lets the tool ask the person at the bench when a measurement cannot
    tell (batch mode has nobody to ask: the sentence then says what to look at)."""
    raw, cfg = wconfig.load(board)
    results = check_inputs(board, cfg, ask)
    if network:
        wifi = check_wifi(board, cfg)
        results.append(wifi)
        if wifi.status == FAIL:
            results.append(CheckResult("broker", _("MQTT broker"), SKIP))
        else:
            results.append(check_broker(board, cfg))
    return results


def failures(results: list[CheckResult]) -> list[CheckResult]:
    return [r for r in results if r.status == FAIL]


def require_pass(results: list[CheckResult]) -> None:
    bad = failures(results)
    if bad:
        raise WorkshopError(
            "check.summary_fail",
            N_('Failed tests: {count}. Follow the "What to do" column, then run `citizenwatt check` again.'),
            section=bad[0].section,
            count=len(bad),
        )
