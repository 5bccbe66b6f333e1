"""The shipped production files under deploy/, run for real on loopback: Mosquitto with
Debian's main config and our drop-in (paths and ports substituted, nothing else), the
broker certificates made by the shipped script, and meters' and the collector's accounts
written by the workshop's own code."""

from __future__ import annotations

import os
import queue
import re
import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from citizenwatt.workshop import mqttauth
from tests.services import free_port, stop_process, wait_port

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
DROP_IN = DEPLOY / "mosquitto" / "citizenwatt.conf"
CERT_SCRIPT = DEPLOY / "tls" / "make-broker-certs.sh"
# Debian's /etc/mosquitto/mosquitto.conf (package mosquitto 2.0.11), which includes conf.d/
DEBIAN_MAIN = """pid_file /run/mosquitto/mosquitto.pid
persistence true
persistence_location /var/lib/mosquitto/
log_dest file /var/log/mosquitto/mosquitto.log
include_dir /etc/mosquitto/conf.d
"""


def substitute(text: str, replacements: list[tuple[str, str]]) -> str:
    """Each (pattern, replacement) must match at least once: a change in the shipped file
    that the test no longer follows fails here, not silently."""
    for pattern, repl in replacements:
        text, n = re.subn(pattern, repl, text, flags=re.M)
        assert n >= 1, f"{pattern!r} not found in the shipped file"
    return text


def make_certs(folder: Path, *names: str) -> Path:
    subprocess.run(["sh", str(CERT_SCRIPT), str(folder), *names], check=True,
                   capture_output=True, timeout=60)
    return folder


@dataclass
class Account:
    user: str
    password: str


class ShippedMosquitto:
    """Mosquitto started with Debian's main file and deploy/mosquitto/citizenwatt.conf."""

    def __init__(self, workdir: Path, certs: Path):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.certs = certs
        self.host = "127.0.0.1"
        self.port = free_port()  # the plain loopback listener (1883 in production)
        self.tls_port = free_port()  # the TLS listener (8883)
        self.passwd = self.workdir / "passwd"
        self.acl = self.workdir / "acl"
        self.env_file = self.workdir / "collector.env"
        self.log_path = self.workdir / "mosquitto.log"
        self.proc: subprocess.Popen | None = None
        self.meters: dict[str, Account] = {}

    def write_conf(self) -> Path:
        w = self.workdir
        main_text = Path("/etc/mosquitto/mosquitto.conf").read_text() \
            if Path("/etc/mosquitto/mosquitto.conf").exists() else DEBIAN_MAIN
        main_text = substitute(main_text, [
            (r"^pid_file .*$", ""),
            (r"^persistence_location .*$", f"persistence_location {w}/"),
            (r"^log_dest file .*$", f"log_dest file {self.log_path}"),
            (r"^include_dir .*$", f"include_dir {w / 'conf.d'}"),
        ])
        if os.geteuid() == 0:  # else Mosquitto drops to user mosquitto, who cannot read tmp
            main_text += "\nuser root\n"
        drop_in = substitute(DROP_IN.read_text(), [
            (r"/etc/mosquitto/citizenwatt/", f"{w}/"),
            (r"/etc/mosquitto/certs/", f"{self.certs}/"),
            (r"^listener 1883 127\.0\.0\.1$", f"listener {self.port} 127.0.0.1"),
            # production: every interface; here loopback only
            (r"^listener 8883$", f"listener {self.tls_port} 127.0.0.1"),
        ])
        (w / "conf.d").mkdir(exist_ok=True)
        (w / "conf.d" / "citizenwatt.conf").write_text(drop_in)
        conf = w / "mosquitto.conf"
        conf.write_text(main_text)
        return conf

    def add_meter(self, meter_id: str, password: str) -> Account:
        mqttauth.set_password(self.passwd, meter_id, password)
        mqttauth.set_acl(self.acl, meter_id)
        self.meters[meter_id] = Account(meter_id, password)
        return self.meters[meter_id]

    def setup_collector(self) -> Account:
        mqttauth.setup_collector(self.passwd, self.acl, self.env_file)
        env = mqttauth.read_env(self.env_file)
        return Account(env["CITIZENWATT_MQTT__USERNAME"], env["CITIZENWATT_MQTT__PASSWORD"])

    def start(self) -> ShippedMosquitto:
        self.passwd.touch()
        self.acl.touch()
        conf = self.write_conf()
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_port(self.host, self.port, proc=self.proc)
        wait_port(self.host, self.tls_port, proc=self.proc)
        return self

    def stop(self) -> None:
        stop_process(self.proc, 10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def connect(broker: ShippedMosquitto, account: Account | None, client_id: str, *,
            tls: bool = True, cafile: Path | None = None, v5: bool = False,
            clean: bool = True, session_expiry_s: int = 0, on_message=None,
            timeout_s: float = 10.0):
    """A started paho client and its CONNACK reason (or the exception connecting raised).
    The client's `disconnects` queue receives each later disconnection's reason."""
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                    protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
                    clean_session=None if v5 else clean)
    if account is not None:
        c.username_pw_set(account.user, account.password)
    if tls:
        c.tls_set(ca_certs=str(cafile or broker.certs / "citizenwatt-ca.crt"),
                  cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT)
    connacks: queue.Queue = queue.Queue()
    c.disconnects = queue.Queue()  # type: ignore[attr-defined]
    c.on_connect = lambda cl, ud, flags, reason, props: connacks.put(reason)
    c.on_disconnect = lambda cl, ud, flags, reason, props: cl.disconnects.put(reason)
    if on_message is not None:  # before CONNACK: a resumed session delivers at once
        c.on_message = on_message
    port = broker.tls_port if tls else broker.port
    try:
        if v5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = session_expiry_s  # as the collector asks
            c.connect(broker.host, port, keepalive=30, clean_start=clean, properties=props)
        else:
            c.connect(broker.host, port, keepalive=30)
    except (OSError, ssl.SSLError) as e:
        return c, e
    c.loop_start()
    try:
        reason = connacks.get(timeout=timeout_s)
    except queue.Empty:
        reason = "no CONNACK"
    return c, reason


def close(c) -> None:
    c.disconnect()
    c.loop_stop()


@pytest.fixture(scope="session")
def broker_certs(tmp_path_factory):
    """The broker's CA and certificate for 127.0.0.1, made by the shipped script."""
    return make_certs(tmp_path_factory.mktemp("certs"), "localhost", "127.0.0.1")


@pytest.fixture
def shipped_broker(tmp_path, broker_certs):
    b = ShippedMosquitto(tmp_path / "mosquitto", broker_certs)
    yield b
    b.stop()
