# The meter's main loop (fw.meter.Meter) driven on the MicroPython VM by a minimal fake
# `hw`: a virtual clock, ADCs reading a 50 Hz sine, an in-memory flash and the firmware's
# own MQTT client over an in-memory broker socket that records what is published and can
# be made to fail (a broker outage).

import json
import math

from fw import config, mqtt, wire
from fw.meter import Meter
from ramflash import RamFlash

BIAS_V = 1.269
ICAL = 2000 / 15
VCAL = 357.778


class FakeADC:
    def __init__(self, hw, amps, volts):
        self.hw = hw
        self.amps = amps
        self.volts = volts

    def read_uv(self):
        t = self.hw.now_us / 1e6
        w = 2 * math.pi * 50 * t
        if self.volts:
            v = BIAS_V + self.volts * 1.41421356 * math.sin(w) / VCAL
        else:
            v = BIAS_V + self.amps * 1.41421356 * math.sin(w - 0.5) / ICAL
        self.hw.now_us += 20
        return int(v * 1e6)


class FakeBrokerSocket:
    """The socket under the firmware's own MQTT client (fw.mqtt), answering as a broker
    would: CONNACK, PUBACK, PINGRESP; what is published is recorded in hw.sent. While
    hw.broker_down, every write fails like a lost link."""

    def __init__(self, hw):
        self.hw = hw
        self.inbox = bytearray()
        self.blocking = True

    def write(self, data):
        if self.hw.broker_down:
            raise OSError(104)  # ECONNRESET
        data = bytes(data)
        first = data[0]
        i = 1
        n = 0
        shift = 0
        while True:
            b = data[i]
            i += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        body = data[i:i + n]
        kind = first & 0xF0
        if kind == mqtt.CONNECT:
            self.inbox.extend(bytes((mqtt.CONNACK, 2, 0, 0)))
        elif kind == mqtt.PUBLISH:
            topic, msg, qos, pid = mqtt.parse_publish(first, body)
            if first & 1 and topic.endswith(b"/counters"):
                # the retained counters: kept across boots (the broker outlives the meter)
                self.hw.retained[topic.decode()] = msg
            else:
                self.hw.sent.append((topic.decode(), msg))
            if qos:
                self.inbox.extend(bytes((mqtt.PUBACK, 2, pid >> 8, pid & 0xFF)))
        elif first == mqtt.SUBSCRIBE:
            pid = body[0] << 8 | body[1]
            n = body[2] << 8 | body[3]
            topic = bytes(body[4:4 + n]).decode()
            self.inbox.extend(bytes((mqtt.SUBACK, 3, body[0], body[1], 1)))
            if topic in self.hw.retained:  # a retained message follows the SUBACK
                msg = self.hw.retained[topic]
                t = topic.encode()
                rest = 2 + len(t) + len(msg)
                head = bytearray((mqtt.PUBLISH | 1,))
                while True:
                    b = rest & 0x7F
                    rest >>= 7
                    head.append(b | (0x80 if rest else 0))
                    if not rest:
                        break
                self.inbox.extend(bytes(head) + bytes((len(t) >> 8, len(t) & 0xFF)) + t + msg)
            del pid
        elif kind == mqtt.PINGREQ:
            self.inbox.extend(bytes((mqtt.PINGRESP, 0)))
        return len(data)

    def readinto(self, mv):
        if not self.inbox:
            if not self.blocking:
                return None
            raise OSError(110)  # ETIMEDOUT: nothing will come
        k = min(len(mv), len(self.inbox))
        mv[:k] = self.inbox[:k]
        self.inbox = self.inbox[k:]
        return k

    def setblocking(self, flag):
        self.blocking = flag

    def settimeout(self, t):
        self.blocking = True

    def close(self):
        pass


class LoopbackClient(mqtt.MQTTClient):
    """The firmware's own client, connected to FakeBrokerSocket instead of the network."""

    def __init__(self, hw, *args, **kw):
        mqtt.MQTTClient.__init__(self, *args, **kw)
        self.hw = hw

    def _open(self):
        if self.hw.broker_down:
            raise mqtt.error(mqtt.NETWORK, 0, "connection refused")
        self.sock = FakeBrokerSocket(self.hw)


class FakeHW:
    def __init__(self):
        self.root = "/flash"
        self.flash = RamFlash()
        self.opener = self.flash.open
        self.fs = self.flash
        self.now_us = 0
        self.sent = []
        self.retained = {}
        self.broker_down = False
        self.acked = 0
        self.stop_at_us = 0
        self.rnd = 0

    def ticks_ms(self):
        return self.now_us // 1000

    def ticks_us(self):
        return self.now_us

    def ticks_diff(self, a, b):
        return a - b

    def wait_until_us(self, t):
        if t > self.now_us:
            self.now_us = t

    def sleep_ms(self, ms):
        self.now_us += int(ms * 1000)

    def utc(self):
        return 1790000000 + self.now_us // 1000000

    def ntp_sync(self):
        return True

    def stopping(self):
        return self.now_us >= self.stop_at_us

    def adc(self, pin):
        return FakeADC(self, 10.0 if pin == config.CURRENT_PINS[0] else 0.0,
                       230.0 if pin == config.VOLTAGE_PIN else 0.0)

    def feed(self):
        pass

    def mem_free(self):
        return 1

    def random(self):
        self.rnd = (self.rnd * 1103515245 + 12345) % 65536
        return self.rnd / 65536

    def wifi_connect(self, ssid, pw):
        pass

    def wifi_ok(self):
        return True

    def rssi(self):
        return -50

    def mqtt_client(self, client_id, server, port, user, password, keepalive, ssl=None,
                    timeout_s=10, server_hostname=None):
        return LoopbackClient(self, client_id, server, port, user, password, keepalive,
                              ssl=ssl, timeout_s=timeout_s, server_hostname=server_hostname)

    def on_published(self, r):
        self.acked += 1


def run():
    cfg = config.validate({"meter_id": "vm-meter", "mqtt_host": "broker", "interval_s": 10,
                           "measure_period_s": 5, "cycles": 2, "sample_rate_hz": 1000,
                           "channels": [{"id": 0, "pin": config.CURRENT_PINS[0]},
                                        {"id": 1, "pin": config.CURRENT_PINS[1]}],
                           "voltage": {"pin": config.VOLTAGE_PIN}, "backoff_max_s": 30})
    hw = FakeHW()
    meter = Meter(cfg, hw)
    # 60 s online, 300 s with the broker down, then back until 600 s.
    hw.stop_at_us = 60 * 1000000
    meter.start()
    while not hw.stopping():
        meter.step()
    hw.broker_down = True
    hw.stop_at_us = 360 * 1000000
    while not hw.stopping():
        meter.step()
    queued = len(meter.outbox)
    hw.broker_down = False
    hw.stop_at_us = 600 * 1000000
    while not hw.stopping():
        meter.step()
    meter.shutdown()
    readings = []
    status = []
    for topic, msg in hw.sent:
        if topic.endswith("/reading"):
            readings.append(wire.decode_reading(topic, msg))
        else:
            status.append(json.loads(msg)["state"])
    return {"readings": readings, "status": status, "queued_in_outage": queued,
            "acked": hw.acked, "boot": meter.boot, "flash_writes": hw.flash.writes}


def run_big_counter(start_mwh):
    """A meter whose flash holds a counter of start_mwh on channel 0 (a decade of a large
    household): 30 s online, then a clean stop. Returns the payload texts it published
    and its final counters, to check the wire carries the integer exactly."""
    from fw.energy import StateStore

    cfg = config.validate({"meter_id": "vm-big", "mqtt_host": "broker", "interval_s": 10,
                           "measure_period_s": 5, "cycles": 2, "sample_rate_hz": 1000,
                           "channels": [{"id": 0, "pin": config.CURRENT_PINS[0]},
                                        {"id": 1, "pin": config.CURRENT_PINS[1]}],
                           "voltage": {"pin": config.VOLTAGE_PIN}})
    hw = FakeHW()
    StateStore(hw.root + "/state.a", hw.root + "/state.b", hw.opener).write(
        {"boot": 4, "mwh": [start_mwh, 5], "dropped": 0, "strikes": 0, "clean": True})
    meter = Meter(cfg, hw)
    hw.stop_at_us = 30 * 1000000
    meter.run()
    texts = []
    for topic, msg in hw.sent:
        if topic.endswith("/reading"):
            texts.append(msg.decode())
    return {"texts": texts, "mwh": list(meter.energy.mwh), "boot": meter.boot}


def run_full_flash():
    """A broker outage on a flash that fills up: a checkpoint due on the brim of a full
    flash lands (the queue gives up its oldest readings), the queue goes on within what
    the flash holds, and after the outage the readings kept arrive in order with the loss
    reported in the status."""
    from fw.energy import StateStore

    cfg = config.validate({"meter_id": "vm-full", "mqtt_host": "broker", "interval_s": 10,
                           "measure_period_s": 5, "cycles": 2, "sample_rate_hz": 1000,
                           "channels": [{"id": 0, "pin": config.CURRENT_PINS[0]}],
                           "voltage": {"pin": config.VOLTAGE_PIN}})
    hw = FakeHW()
    meter = Meter(cfg, hw)
    meter.outbox.per_segment = 8
    hw.stop_at_us = 20 * 1000000
    meter.start()
    while not hw.stopping():
        meter.step()
    hw.broker_down = True
    hw.stop_at_us = 200 * 1000000
    while not hw.stopping():
        meter.step()
    hw.flash.limit = hw.flash.size()  # full to the last byte
    errors = []
    try:
        meter.checkpoint(meter.uptime_ms())
    except OSError as e:
        errors.append("checkpoint " + repr(e))
    saved = StateStore(hw.root + "/state.a", hw.root + "/state.b", hw.opener).load()
    hw.stop_at_us = 400 * 1000000
    try:
        while not hw.stopping():
            meter.step()
    except OSError as e:
        errors.append("loop " + repr(e))
    hw.broker_down = False
    hw.stop_at_us = 500 * 1000000
    while not hw.stopping():
        meter.step()
    dropped = meter.outbox.dropped
    seqs = []
    last_status = None
    for topic, msg in hw.sent:
        if topic.endswith("/reading"):
            seqs.append(wire.decode_reading(topic, msg)["seq"])
        else:
            last_status = json.loads(msg)
    return {"errors": errors, "saved_mwh": saved["mwh"] if saved else None,
            "mwh": list(meter.energy.mwh), "dropped": dropped, "seqs": seqs,
            "status_dropped": last_status.get("dropped") if last_status else None,
            "last_seq": meter.seq - 1}
def _cfg(meter_id):
    return config.validate({"meter_id": meter_id, "mqtt_host": "broker", "interval_s": 10,
                            "measure_period_s": 5, "cycles": 2, "sample_rate_hz": 1000,
                            "channels": [{"id": 0, "pin": config.CURRENT_PINS[0]},
                                         {"id": 1, "pin": config.CURRENT_PINS[1]}],
                            "voltage": {"pin": config.VOLTAGE_PIN}})


def _published(hw):
    """[(boot, seq, ch0 mWh)] of every reading published so far."""
    out = []
    for topic, msg in hw.sent:
        if topic.endswith("/reading"):
            r = wire.decode_reading(topic, msg)
            out.append((r["boot"], r["seq"], int(round(r["ch"][0]["energy_wh"] * 1000))))
    return out


def run_power_cut(budget, readback=True, wipe_flash=False, offline_s=0):
    """Boot 1 runs 250 s on line; from then the flash loses power after `budget` more steps
    (bytes written, opens): the cut lands in the next checkpoint write, after readings that
    went past the last whole checkpoint were published. Boot 2 starts on that flash (or an
    erased one: a reflash), with the broker's retained counters (or none, readback=False,
    to show the step back they prevent), and runs 60 s, the first offline_s of them with
    the broker away (readings queued before the read-back). Returns the published
    (boot, seq, ch0 mWh) of both boots and where the cut struck."""
    from ramflash import PowerCut

    hw = FakeHW()
    meter = Meter(_cfg("vm-cut"), hw)
    hw.stop_at_us = 250 * 1000000
    meter.start()
    while not hw.stopping():
        meter.step()
    hw.flash.budget = budget
    hw.stop_at_us = 900 * 1000000
    cut = None
    try:
        while not hw.stopping():
            meter.step()
    except PowerCut:
        cut = hw.now_us // 1000
    hw.flash.budget = -1
    first = _published(hw)
    if wipe_flash:
        from ramflash import RamFlash
        hw.flash = RamFlash()
        hw.opener = hw.flash.open
        hw.fs = hw.flash
    if not readback:
        hw.retained = {}
    hw.sent = []
    hw.now_us = 0
    meter2 = Meter(_cfg("vm-cut"), hw)
    meter2.start()
    hw.broker_down = offline_s > 0
    hw.stop_at_us = offline_s * 1000000
    while not hw.stopping():
        meter2.step()
    hw.broker_down = False
    hw.stop_at_us = (offline_s + 60) * 1000000
    while not hw.stopping():
        meter2.step()
    return {"first": first, "second": _published(hw), "cut_ms": cut, "boot2": meter2.boot}


def run_corrupt(offset):
    """Boot 1 runs 400 s on line; then byte `offset` of the newest checkpoint slot is
    flipped (a flash that lost it); boot 2 runs 30 s. Returns as run_power_cut()."""
    hw = FakeHW()
    meter = Meter(_cfg("vm-rot"), hw)
    hw.stop_at_us = 400 * 1000000
    meter.start()
    while not hw.stopping():
        meter.step()
    first = _published(hw)
    path = meter.store.paths[meter.store._slot]
    buf = hw.flash.files[path]
    size = len(buf)
    if offset < size:
        buf[offset] ^= 0x55
    hw.sent = []
    hw.now_us = 0
    meter2 = Meter(_cfg("vm-rot"), hw)
    hw.stop_at_us = 30 * 1000000
    meter2.start()
    while not hw.stopping():
        meter2.step()
    return {"first": first, "second": _published(hw), "size": size, "boot2": meter2.boot}


def run_cut_series(budgets, wipe_flash=False, offline_s=0):
    out = []
    for b in budgets:
        r = run_power_cut(b, True, wipe_flash, offline_s)
        out.append([r["first"][-1], r["second"][0], r["second"][-1], r["cut_ms"], r["boot2"]])
    return out
