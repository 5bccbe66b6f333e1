"""Self-test of a built meter: ADC inputs, bias, noise floor, clamp orientation, Wi-Fi,
broker. Each failure names what to look at on the board and the build-guide section."""

from __future__ import annotations

import time
from dataclasses import dataclass

from citizenwatt.firmware import measure as fwmeasure
from citizenwatt.i18n import N_, _
from citizenwatt.workshop import config as wconfig
from citizenwatt.workshop import sampling
from citizenwatt.workshop.errors import WorkshopError

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
BIAS_TOLERANCE = 0.08        # of the design bias: two 5 % resistors stay within it
STUCK_LOW_V, STUCK_HIGH_V = 0.10, 2.95
LOAD_A = 1.0                 # above this a clamp carries a real load: no noise test
ORIENTATION_MIN_W = 20.0
WIFI_WEAK_DBM, WIFI_BAD_DBM = -75, -85
WIFI_TIMEOUT_MS = 15000


@dataclass
class CheckResult:
    key: str
    name: str
    status: str
    value: str = ""
    advice: str = ""
    section: str | None = None


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
    return f"{x:.2f} V"


def check_inputs(board, cfg: dict) -> list[CheckResult]:
    windows, results = sampling.measure_config(board, cfg)
    out: list[CheckResult] = []
    for ch in cfg["channels"]:
        cid, pin = ch["id"], ch["pin"]
        d = wconfig.channel_design(cfg, ch)
        r = results[cid]
        window = windows[cid]
        volts = window.volts(pin)
        lo, hi = min(volts), max(volts)
        mean = sum(volts) / len(volts)
        # 1. Raw ADC: a pin stuck at a rail is a broken joint or a missing bias.
        name = _("Raw ADC channel {channel}", channel=cid)
        stuck = mean < STUCK_LOW_V or mean > STUCK_HIGH_V
        if stuck:
            level = "0 V" if mean < STUCK_LOW_V else "3,3 V"
            out.append(CheckResult("adc", name, FAIL, f"{_fmt_v(lo)} – {_fmt_v(hi)}",
                                   _("The ADC input (GPIO{pin}) is stuck at {level}: check the solder "
                                     "joints of the jack socket and of the wire to GPIO{pin}. Guide, "
                                     "section \"{section}\".", pin=pin, level=level,
                                     section="adc-input"), "adc-input"))
        elif r["fault"] == fwmeasure.CLIPPED:
            out.append(
                CheckResult(
                    "adc",
                    name,
                    FAIL,
                    f"{_fmt_v(lo)} – {_fmt_v(hi)}",
                    _(
                        "The signal hits the ADC limits: the burden resistor is too large "
                        '(expected {burden_ohm} ohm). Guide, section "{section}".',
                        burden_ohm=d["burden_ohm"],
                        section="burden-resistor",
                    ),
                    "burden-resistor",
                )
            )
        else:
            out.append(CheckResult("adc", name, OK, f"{_fmt_v(lo)} – {_fmt_v(hi)}"))
        # 2. Bias: the midpoint of the two resistors, where the design put it.
        name = _("Bias voltage channel {channel}", channel=cid)
        if stuck:
            out.append(CheckResult("bias", name, SKIP, _fmt_v(mean)))
        elif abs(mean - d["bias_v"]) > BIAS_TOLERANCE * d["bias_v"]:
            out.append(
                CheckResult(
                    "bias",
                    name,
                    FAIL,
                    _fmt_v(mean),
                    _(
                        "Bias at {bias_v:.2f} V instead of about {expected_v:.2f} V: check the "
                        "two 10 kohm resistors (same value) and the 10 uF capacitor. Guide, "
                        'section "{section}".',
                        bias_v=mean,
                        expected_v=d["bias_v"],
                        section="bias-network",
                    ),
                    "bias-network",
                )
            )
        else:
            out.append(CheckResult("bias", name, OK, _fmt_v(mean)))
        # 3. Noise floor: an idle clamp must read 0 W after the firmware's noise cut.
        name = _("Noise floor channel {channel}", channel=cid)
        noise_mv = sampling.rms_noise_v(window, pin) * 1000
        if stuck:
            out.append(CheckResult("noise", name, SKIP, ""))
        elif r["irms_a"] > LOAD_A:
            out.append(CheckResult("noise", name, SKIP, "{:.1f} A".format(r["irms_a"])))
        elif r["irms_a"] > 0:
            limit_w = d["floor_a"] * cfg["nominal_v"]
            out.append(
                CheckResult(
                    "noise",
                    name,
                    FAIL,
                    "{:.0f} W, {:.1f} mV".format(r["real_w"], noise_mv),
                    _(
                        "{power_w:.0f} W read with no load (limit {limit_w:.0f} W): check the "
                        "10 uF capacitor of the bias network and that the clamp plug is fully "
                        'inserted. Guide, section "{section}".',
                        power_w=abs(r["apparent_w"]),
                        limit_w=limit_w,
                        section="noise-floor",
                    ),
                    "noise-floor",
                )
            )
        else:
            out.append(CheckResult("noise", name, OK, f"0 W, {noise_mv:.1f} mV"))
        # 4. Orientation: only a voltage adapter gives the sign of the power.
        name = _("Clamp orientation channel {channel}", channel=cid)
        if r["vrms_v"] is None:
            out.append(
                CheckResult(
                    "orientation",
                    name,
                    SKIP,
                    "",
                    _("Without a voltage adapter, clamp orientation cannot be measured."),
                )
            )
        elif stuck:
            out.append(CheckResult("orientation", name, SKIP, ""))
        elif r["apparent_w"] < ORIENTATION_MIN_W:
            out.append(
                CheckResult(
                    "orientation",
                    name,
                    SKIP,
                    "{:.0f} W".format(r["real_w"]),
                    _("No load on the channel: switch an appliance on to test the orientation."),
                )
            )
        elif r["real_w"] < 0:
            out.append(
                CheckResult(
                    "orientation",
                    name,
                    FAIL,
                    "{:.0f} W".format(r["real_w"]),
                    _(
                        "Negative power ({power_w:.0f} W): the clamp is on backwards. Turn it "
                        'over (arrow or "K->L" label towards the appliance). Guide, section '
                        '"{section}".',
                        power_w=r["real_w"],
                        section="clamp-orientation",
                    ),
                    "clamp-orientation",
                )
            )
        else:
            out.append(CheckResult("orientation", name, OK, "{:.0f} W".format(r["real_w"])))
    return out


def check_wifi(board, cfg: dict) -> CheckResult:
    name = _("Wi-Fi")
    connected, status, rssi = board.eval_code(
        _WIFI.format(ssid=cfg["wifi_ssid"], password=cfg["wifi_password"], timeout_ms=WIFI_TIMEOUT_MS)
    )
    if not connected:
        detail = {201: _("network not found"), 202: _("wrong password")}.get(
            status, _("status {status}", status=status)
        )
        return CheckResult(
            "wifi",
            name,
            FAIL,
            detail,
            _(
                'The board does not join the Wi-Fi "{ssid}" ({detail}). Check the name and '
                "the password, that the network is 2.4 GHz (the ESP32 cannot see 5 GHz), and "
                'move the board closer to the router. Guide, section "{section}".',
                ssid=cfg["wifi_ssid"],
                detail=detail,
                section="wifi",
            ),
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
                "the meter closer to the router or add a repeater. Guide, section "
                '"{section}".',
                rssi_dbm=rssi,
                limit_dbm=WIFI_WEAK_DBM,
                section="wifi",
            ),
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
                'Mosquitto runs. Guide, section "{section}".',
                host=cfg["mqtt_host"],
                port=cfg["mqtt_port"],
                detail=detail,
                section="broker",
            ),
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
                "`citizenwatt provision` again and reload Mosquitto (password and ACL files). "
                'Guide, section "{section}".',
                code=value,
                section="broker",
            ),
            "broker",
        )
    return CheckResult("broker", name, OK, where)


def run_checks(board, network: bool = True) -> list[CheckResult]:
    raw, cfg = wconfig.load(board)
    results = check_inputs(board, cfg)
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
