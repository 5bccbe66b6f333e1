"""umqtt.simple's MQTTClient API on CPython, carried by paho-mqtt (MQTT 3.1.1).

The firmware talks to this exactly as it talks to micropython-lib's umqtt.simple on the
ESP32: connect() / publish(qos=1) block until the broker answers, and a broken link
raises OSError. No background thread: the network is serviced inside the calls, as umqtt
does, so a meter's behaviour does not depend on thread timing.
"""

from __future__ import annotations

import time

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from citizenwatt.errors import FirmwareError
from citizenwatt.i18n import N_

ANSWER_TIMEOUT_S = 5.0
WAIT_MSG_S = 1.0


class MQTTException(FirmwareError):
    """The broker refused the meter's CONNECT; args[0] is its return code, as in umqtt."""

    def __init__(self, code: int):
        super().__init__(N_("The MQTT broker refused the meter's connection (return code "
                            "{code})."),
                         N_("Check the meter's MQTT user and password, and that the broker "
                            "knows them."), code=code)
        self.args = (code,)


class MQTTClient:
    def __init__(self, client_id, server, port=0, user=None, password=None, keepalive=0,
                 ssl=None):
        self.client_id = client_id if isinstance(client_id, str) else client_id.decode()
        self.server = server
        self.port = port or 1883
        self.user = user
        self.pswd = password
        self.keepalive = keepalive
        self.lw = None
        self._c: paho.Client | None = None
        self._up = False
        self._connack: int | None = None
        self.cb = None
        self._delivered = 0

    def set_callback(self, f):
        self.cb = f

    def set_last_will(self, topic, msg, retain=False, qos=0):
        assert 0 <= qos <= 2 and topic
        self.lw = (topic, msg, qos, retain)

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        self._connack = reason_code.value if hasattr(reason_code, "value") else int(reason_code)
        self._up = self._connack == 0

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self._up = False

    def _on_message(self, client, userdata, msg):
        self._delivered += 1
        if self.cb:
            self.cb(msg.topic.encode(), msg.payload)

    def connect(self, clean_session=True):
        c = paho.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id,
                        clean_session=clean_session, protocol=paho.MQTTv311)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        if self.user:
            c.username_pw_set(self.user, self.pswd)
        if self.lw:
            topic, msg, qos, retain = self.lw
            c.will_set(_s(topic), msg, qos, bool(retain))
        self._connack = None
        try:
            c.connect(self.server, self.port, self.keepalive or 60)
        except OSError as e:
            raise OSError(e.errno or -1, f"MQTT connect failed: {e}") from None
        self._c = c
        deadline = time.monotonic() + ANSWER_TIMEOUT_S
        while self._connack is None:
            if c.loop(0.05) != paho.MQTT_ERR_SUCCESS or time.monotonic() > deadline:
                self._close()
                raise OSError(-1, "no CONNACK from the broker")
        if self._connack != 0:
            self._close()
            raise MQTTException(self._connack)
        return 0

    def publish(self, topic, msg, retain=False, qos=0):
        c = self._live()
        info = c.publish(_s(topic), msg, qos, bool(retain))
        if info.rc != paho.MQTT_ERR_SUCCESS:
            self._close()
            raise OSError(-1, f"publish failed ({paho.error_string(info.rc)})")
        deadline = time.monotonic() + ANSWER_TIMEOUT_S
        while not info.is_published() if qos else False:
            if c.loop(0.05) != paho.MQTT_ERR_SUCCESS or not self._up:
                self._close()
                raise OSError(-1, "link lost before PUBACK")
            if time.monotonic() > deadline:
                self._close()
                raise OSError(-1, "no PUBACK from the broker")
        if not qos:
            c.loop_write()

    def subscribe(self, topic, qos=0):
        c = self._live()
        c.subscribe(_s(topic), qos)
        c.loop(0.05)

    def check_msg(self):
        c = self._live()
        if c.loop(0) != paho.MQTT_ERR_SUCCESS or not self._up:
            self._close()
            raise OSError(-1, "link lost")
        return None

    def wait_msg(self):
        """Until one message is delivered, or WAIT_MSG_S (umqtt blocks until the next packet;
        paho answers pings itself, so the wait ends on time instead)."""
        c = self._live()
        seen = self._delivered
        deadline = time.monotonic() + WAIT_MSG_S
        while self._delivered == seen and time.monotonic() < deadline:
            if c.loop(0.05) != paho.MQTT_ERR_SUCCESS or not self._up:
                self._close()
                raise OSError(-1, "link lost")

    def ping(self):
        # paho sends PINGREQ itself from loop() when keepalive is due.
        self.check_msg()

    def disconnect(self):
        c = self._c
        if c is None:
            return
        try:
            c.disconnect()
            c.loop(0.01)
        finally:
            self._close()

    def _live(self) -> paho.Client:
        if self._c is None or not self._up:
            raise OSError(-1, "not connected")
        return self._c

    def _close(self):
        c, self._c = self._c, None
        self._up = False
        if c is not None:
            try:
                sock = c.socket()
                if sock is not None:
                    sock.close()
            except OSError:
                pass


def _s(x):
    return x.decode() if isinstance(x, (bytes, bytearray)) else x
