# Citizen Watt on the ESP32: the hardware layer (`hw`) that meter.Meter expects, made of
# machine, network, ntptime and the firmware's own MQTT client (mqtt.py, the same code the
# host run and the tests use), plus the boot sequence with
# the watchdog, the crash log and the crash-loop safe mode. Device-only: CPython never
# imports it (host/platform.py is its stand-in there).

import gc
import os
import time

import machine
import network
import ntptime

from . import config, mqtt, safemode
from .energy import StateStore
from .meter import Meter

CONFIG_PATH = "/config.json"
DATA = "/data"
CRASH_LOG = DATA + "/crash.txt"

SOCKET_TIMEOUT_S = 10
# time.time() counts from 2000 on some ports and from 1970 on others.
EPOCH_OFFSET = 946684800 if time.gmtime(0)[0] == 2000 else 0


class Device:
    def __init__(self, cfg, wdt=None):
        self.cfg = cfg
        self.root = DATA
        self.opener = open
        self.fs = os
        self.wdt = wdt
        self.wlan = network.WLAN(network.STA_IF)
        ntptime.host = cfg["ntp_host"]

    # time
    def ticks_ms(self):
        return time.ticks_ms()

    def ticks_us(self):
        return time.ticks_us()

    def ticks_diff(self, a, b):
        return time.ticks_diff(a, b)

    def wait_until_us(self, t):
        while time.ticks_diff(t, time.ticks_us()) > 0:
            pass

    def sleep_ms(self, ms):
        time.sleep_ms(int(ms))

    def utc(self):
        return time.time() + EPOCH_OFFSET

    def ntp_sync(self):
        try:
            ntptime.settime()
            return True
        except (OSError, OverflowError):
            return False

    def stopping(self):
        return False

    # hardware
    def adc(self, pin):
        return machine.ADC(machine.Pin(pin), atten=machine.ADC.ATTN_11DB)

    def feed(self):
        if self.wdt is not None:
            self.wdt.feed()

    def mem_free(self):
        return gc.mem_free()

    def random(self):
        b = os.urandom(2)
        return (b[0] << 8 | b[1]) / 65536

    # network
    def wifi_connect(self, ssid, password):
        self.wlan.active(True)
        if not self.wlan.isconnected():
            self.wlan.connect(ssid, password)

    def wifi_ok(self):
        if self.wlan.isconnected():
            return True
        if self.wlan.status() != network.STAT_CONNECTING:
            self.wifi_connect(self.cfg["wifi_ssid"], self.cfg["wifi_password"])
        return False

    def rssi(self):
        try:
            return self.wlan.status("rssi")
        except (OSError, ValueError):
            return None

    def mqtt_client(self, client_id, server, port, user, password, keepalive, ssl=None,
                    timeout_s=10, server_hostname=None):
        return mqtt.MQTTClient(client_id, server, port, user, password, keepalive, ssl=ssl,
                               timeout_s=timeout_s, server_hostname=server_hostname)

    def link_failed(self, error, host, port):
        # At the console (the workshop tool's serial view): the French sentence.
        print("Citizen Watt : " + mqtt.describe(error, host, port))

    def on_published(self, reading):
        pass

    # updates over Wi-Fi
    def download(self, url, sink, chunk, tls):
        """GET url over HTTPS, the server's certificate checked by tls (the meter's
        SSLContext of ca_file, the same CA file as MQTT's: updates come only from a server
        it vouches for, and the archive is signed too, update.py), streaming the body to
        sink; False when the transfer fails or sink refuses a chunk."""
        import socket

        hostport, path = url[len("https://"):].split("/", 1)
        host, port = (hostport.rsplit(":", 1) + ["443"])[:2] if ":" in hostport else (hostport, "443")
        s = None
        try:
            ai = socket.getaddrinfo(host, int(port), 0, socket.SOCK_STREAM)[0]
            s = socket.socket(ai[0], socket.SOCK_STREAM, ai[2])
            s.settimeout(SOCKET_TIMEOUT_S)
            s.connect(ai[-1])
            s = tls.wrap_socket(s, server_hostname=host)
            s.write(("GET /%s HTTP/1.0\r\nHost: %s\r\n\r\n" % (path, host)).encode())
            line = s.readline()
            if b" 200 " not in line:
                return False
            while s.readline() not in (b"\r\n", b"\n", b""):
                pass
            while True:
                data = s.read(chunk)
                if not data:
                    return True
                self.feed()
                if not sink(data):
                    return False
        except (OSError, ValueError, IndexError):
            return False
        finally:
            if s is not None:
                s.close()

    def reset(self):
        machine.reset()


def _store():
    return StateStore(DATA + "/state.a", DATA + "/state.b")


def _mkdata():
    try:
        os.mkdir(DATA)
    except OSError:
        pass


def leave_safe_mode():
    """For the workshop tool, at the REPL: forget the crash strikes and restart."""
    st = _store()
    state = st.load() or {}
    state["strikes"] = 0
    st.write(state)
    machine.reset()


def safe_mode(reason, strikes_after=None):
    """Keep the REPL free for the workshop tool: no meter loop, no watchdog. After ten
    minutes, try the meter once more (a storm of power cuts must not park it for good)."""
    print("Citizen Watt : mode sans échec (%s)." % reason)
    print("Le compteur ne mesure pas. Branchez l'outil d'atelier (citizenwatt provision), "
          "corrigez la configuration puis tapez : from citizenwatt.firmware import device; "
          "device.leave_safe_mode()")

    def retry(_t):
        if strikes_after is not None:
            st = _store()
            state = st.load() or {}
            state["strikes"] = strikes_after
            st.write(state)
        machine.reset()

    machine.Timer(0).init(mode=machine.Timer.ONE_SHOT, period=safemode.SAFE_MODE_RETRY_MS,
                          callback=retry)


def main():
    _mkdata()
    state = _store().load() or {}
    error = None
    try:
        cfg = config.load(CONFIG_PATH)
        limit = cfg["safe_mode_strikes"]
    except config.ConfigError as e:
        error = str(e)
        limit = config.DEFAULTS["safe_mode_strikes"]
    mode, reason, retry_strikes = safemode.at_boot(state.get("strikes", 0), limit, error)
    if mode == safemode.SAFE:
        safe_mode(reason, retry_strikes)
        return
    wdt = machine.WDT(timeout=int(cfg["wdt_s"] * 1000))
    meter = Meter(cfg, Device(cfg, wdt))
    try:
        meter.run()
    except KeyboardInterrupt:
        # Ctrl-C at the REPL (workshop): a clean stop, and the REPL stays.
        meter.shutdown()
        raise
    except Exception as e:
        with open(CRASH_LOG, "a") as f:
            f.write("%d %r\n" % (time.time() + EPOCH_OFFSET, e))
        time.sleep(5)
        machine.reset()
