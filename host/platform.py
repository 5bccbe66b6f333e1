"""The hardware layer the firmware's Meter expects (`hw`), on CPython: simulated clock,
ADCs on a simulated board, a Wi-Fi that is always there (unless a test pulls it), NTP that
syncs to the simulated UTC, a watchdog that records how late it was fed, and the
firmware's own MQTT client (firmware/mqtt.py: the device's code, on real sockets).
device.py is the same layer on the ESP32."""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Callable

from citizenwatt.firmware import mqtt
from citizenwatt.host.adc import ADC, Board
from citizenwatt.host.clock import SimClock
from citizenwatt.i18n import N_, _

log = logging.getLogger("citizenwatt.simulator")

# What the meter says when its link fails, by firmware/mqtt.py's reason code: the same
# sentences as mqtt.describe() on the device's console, through the catalogue here.
LINK_SENTENCES = {
    "refused_account": N_("The MQTT broker {where} refuses the meter's account (code {code}): "
                          "check mqtt_user and mqtt_password, or run citizenwatt provision "
                          "again for this meter."),
    mqtt.REFUSED: N_("The MQTT broker {where} refuses the connection (code {code}): the meter "
                     "retries; if it lasts, check the broker's settings."),
    mqtt.TLS: N_("The certificate of the MQTT broker {where} is not recognised ({detail}): the "
                 "meter's ca.pem must be the certificate of the authority that signed the "
                 "broker's, and mqtt_server_name the name written in it. Install it again with "
                 "citizenwatt provision."),
    mqtt.TIMEOUT: N_("The MQTT broker {where} does not answer in time ({detail}): the meter "
                     "keeps its readings and retries; check that the broker is running."),
    mqtt.CLOSED: N_("The MQTT broker {where} closed the connection ({detail}): the meter keeps "
                    "its readings and retries; check the port (8883 with TLS) and the "
                    "account's rights (ACL)."),
    mqtt.PROTOCOL: N_("What answers on {where} does not speak MQTT ({detail}): check mqtt_host "
                      "and mqtt_port (1883, or 8883 with TLS)."),
    mqtt.NETWORK: N_("Cannot connect to the MQTT broker {where} ({detail}): the meter keeps its "
                     "readings and retries; check the network, mqtt_host and mqtt_port."),
}


def link_sentence(error: OSError, host: str, port: int, lang: str | None = None) -> str:
    """The meter's sentence for a failed link, in the reader's language (French by default)."""
    reason = mqtt.reason(error)
    code = error.args[1] if isinstance(error, mqtt.MQTTError) else 0
    detail = mqtt.detail(error)
    key = "refused_account" if reason == mqtt.REFUSED and code in (4, 5) else reason
    return _(LINK_SENTENCES[key], lang=lang, where=f"{host}:{port}", code=code, detail=detail)


class Reset(BaseException):  # noqa: N818  machine.reset()'s stand-in: the run ends there
    """The firmware asked for a reboot (after installing an update). Not an error: like
    SystemExit it passes every `except Exception` on its way out, as a real reset would."""


class HostPlatform:
    def __init__(self, root: str, clock: SimClock, board: Board, seed: int = 1,
                 on_published: Callable | None = None):
        self.root = root
        self.opener = open
        self.fs = os
        self.clock = clock
        self.board = board
        self._rng = random.Random(seed)
        self._on_published = on_published
        self.wifi_up = True       # a test may set False to simulate a Wi-Fi loss
        self.ntp_ok = True        # a test may set False to keep the clock unsynced
        self.wdt_s: float | None = None
        self.wdt_last_ms = 0
        self.wdt_max_gap_ms = 0
        self.connects = 0
        self.connect_ms: list[int] = []  # simulated uptime of each connection attempt
        self.link_errors: list[tuple[str, str]] = []  # (reason code, sentence) as said
        self.downloads: list[str] = []

    # time
    def ticks_ms(self) -> int:
        return self.clock.ticks_ms()

    def ticks_us(self) -> int:
        return self.clock.ticks_us()

    def ticks_diff(self, a: int, b: int) -> int:
        return a - b

    def wait_until_us(self, t_us: int) -> None:
        self.clock.wait_until_us(t_us)

    def sleep_ms(self, ms: float) -> None:
        self.clock.sleep_ms(ms)

    def utc(self) -> int:
        return int(self.clock.utc())

    def ntp_sync(self) -> bool:
        return self.ntp_ok and self.wifi_up

    def stopping(self) -> bool:
        return self.clock.stopping

    # hardware
    def adc(self, pin: int) -> ADC:
        return ADC(pin, self.board)

    def feed(self) -> None:
        now = self.clock.ticks_ms()
        gap = now - self.wdt_last_ms
        if gap > self.wdt_max_gap_ms:
            self.wdt_max_gap_ms = gap
        self.wdt_last_ms = now

    def mem_free(self) -> int:
        return 100_000

    def random(self) -> float:
        return self._rng.random()

    # network
    def wifi_connect(self, ssid: str, password: str) -> None:
        pass

    def wifi_ok(self) -> bool:
        return self.wifi_up

    def rssi(self) -> int:
        return -60

    def mqtt_client(self, client_id, server, port, user, password, keepalive, ssl=None,
                    timeout_s=10, server_hostname=None) -> mqtt.MQTTClient:
        if not self.wifi_up:
            raise mqtt.error(mqtt.NETWORK, 0, "no Wi-Fi")
        self.connects += 1
        self.connect_ms.append(self.clock.ticks_ms())
        return mqtt.MQTTClient(client_id, server, port, user, password, keepalive, ssl=ssl,
                               timeout_s=timeout_s, server_hostname=server_hostname)

    def link_failed(self, error: OSError, host: str, port: int) -> None:
        sentence = link_sentence(error, host, port)
        self.link_errors.append((mqtt.reason(error), sentence))
        log.warning("%s", sentence)

    def on_published(self, reading) -> None:
        if self._on_published:
            self._on_published(reading)

    # updates over Wi-Fi
    def download(self, url: str, sink: Callable[[bytes], bool], chunk: int, tls) -> bool:
        """GET url over HTTPS (certificate checked by tls, the meter's SSLContext of its
        ca_file, as on the device), streaming the body to sink in chunks; False when the
        transfer fails (sink refusing stops it too)."""
        import urllib.request

        self.downloads.append(url)
        try:
            with urllib.request.urlopen(url, context=tls, timeout=10) as resp:
                while True:
                    data = resp.read(chunk)
                    if not data:
                        return True
                    self.feed()
                    if not sink(data):
                        return False
        except (OSError, ValueError):
            return False

    def reset(self) -> None:
        raise Reset()
