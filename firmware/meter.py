# Citizen Watt meter main loop: measure every channel, integrate energy, publish one reading
# per interval over MQTT (QoS 1) or keep it on flash until the broker is back, and keep the
# status, the clock and the checkpoints up to date. Hardware comes in through `hw` (see
# device.py for the ESP32, host/platform.py for the simulator), so this runs on both.

from array import array

try:
    from typing import Any  # noqa: F401  for the "# type: Any" comment; MicroPython has no typing
except ImportError:
    pass

from . import calib, hass, mqtt, safemode, update, wire
from .energy import CheckpointPolicy, Integrator, StateStore
from .measure import N_OUT, REVERSED, measure
from .outbox import Outbox, pack_reading, unpack_reading

FIRMWARE_VERSION = "0.2.1"
NTP_EVERY_MS = 24 * 3600 * 1000
NTP_RETRY_MS = 10 * 60 * 1000
STATUS_EVERY_MS = 5 * 60 * 1000
DRAIN_PER_STEP = 50
DOWNLOAD_CHUNK = 1024


def backoff_ms(attempt, rnd, min_ms=1000, max_ms=300000):
    """Delay before reconnect attempt number `attempt` (0 = first retry): exponential,
    capped, with "equal jitter" (half fixed, half random) so meters that lost the same
    broker do not come back in step. rnd is a uniform draw in [0, 1)."""
    d = min_ms << attempt if attempt < 20 else max_ms
    if d > max_ms:
        d = max_ms
    return d // 2 + int(d / 2 * rnd)


def read_time_us(adc, hw, n=64):
    """Mean duration of one read_uv() call: the skew between a pair's V and I reads."""
    t0 = hw.ticks_us()
    for _ in range(n):
        adc.read_uv()
    return hw.ticks_diff(hw.ticks_us(), t0) / n


def sample_pairs(adc_i, adc_v, buf_i, buf_v, n, period_us, hw):
    """Read n V/I pairs at a steady period; return the achieved pair rate (Hz)."""
    t0 = hw.ticks_us()
    t = t0
    for k in range(n):
        hw.wait_until_us(t)
        if adc_v is not None:
            buf_v[k] = adc_v.read_uv()
        buf_i[k] = adc_i.read_uv()
        t += period_us
    elapsed = hw.ticks_diff(hw.ticks_us(), t0)
    # A slow ADC overruns the period: the true rate is what the clock says.
    nominal = n * period_us
    return 1e6 * n / (elapsed if elapsed > nominal else nominal)


def oriented(m, reverse, bidirectional=False):
    """(power_w, fault) of one measure() result once the channel's configured orientation
    is applied. reverse (a clamp known to sit backwards) turns the power round, so the
    measured "reversed" is then the expected state, and clearly positive power means the
    clamp was turned since: that is the fault to report. Without voltage the power is
    apparent (never negative, orientation unknown): reverse changes nothing.
    On a bidirectional channel (solar export) negative power is energy sent to the grid,
    never a fault: "reversed" is only for consumption-only channels."""
    p = m["real_w"]
    fault = m["fault"]
    if bidirectional:
        if fault == REVERSED:
            fault = None
        return (-p if reverse and m["pf"] is not None else p), fault
    if not reverse or m["pf"] is None:
        return p, fault
    if fault == REVERSED:
        fault = None
    elif fault is None and m["pf"] > 0.2:
        fault = REVERSED
    return -p, fault


class Meter:
    def __init__(self, cfg, hw):
        self.cfg = cfg
        self.hw = hw
        self.meter_id = cfg["meter_id"]
        self.n_ch = len(cfg["channels"])
        self.bidirectional = [ch.get("direction") == "bidirectional" for ch in cfg["channels"]]
        self.topic = wire.reading_topic(self.meter_id)
        self.status_topic = wire.status_topic(self.meter_id)
        root = hw.root
        self.store = StateStore(root + "/state.a", root + "/state.b", hw.opener)
        per_hour = 3600 // cfg["interval_s"]
        self.outbox = Outbox(root + "/outbox", int(cfg["queue_hours"] * per_hour),
                             opener=hw.opener, fs=hw.fs)
        self.policy = CheckpointPolicy()
        # Calibration per channel from the hardware design and the workshop trims.
        v = cfg["voltage"]
        self.adc_i = [hw.adc(ch["pin"]) for ch in cfg["channels"]]
        self.adc_v = hw.adc(v["pin"]) if v else None
        skew_us = read_time_us(self.adc_i[0], hw) if v else 0.0
        self.cals = []
        for ch in cfg["channels"]:
            d = calib.design(clamp=ch["clamp"], max_current_a=ch["max_current_a"],
                             atten_db=cfg["atten_db"], mains_v=cfg["nominal_v"],
                             mains_hz=cfg["mains_hz"],
                             adapter_v=v["adapter_v"] if v else 0.0,
                             sample_rate_hz=cfg["sample_rate_hz"],
                             adapter_phase_deg=v["phase_deg"] if v else 0.0,
                             read_skew_us=skew_us)
            c = calib.channel_cal(d, ch["trim"], v is not None, cfg["nominal_v"],
                                  v["trim"] if v else 1.0)
            if ch["noise_a"] is not None:
                c["noise_a"] = ch["noise_a"]
            self.cals.append(c)
        self.period_us = int(1000000 // cfg["sample_rate_hz"])
        self.n_samples = int(round(cfg["cycles"] * cfg["sample_rate_hz"] / cfg["mains_hz"]))
        self.buf_i = array("i", [0] * self.n_samples)
        self.buf_v = array("i", [0] * self.n_samples) if v else None
        self.work = array("i", [0] * N_OUT)  # measure()'s integer sums, reused every call
        self.measure_ms = int(cfg["measure_period_s"] * 1000)
        self.per_reading = int(round(cfg["interval_s"] / cfg["measure_period_s"]))
        # Runtime state.
        self.client = None  # type: Any
        self.connected = False
        self.tls = None  # the SSLContext of ca_file, made at its first use and kept
        self.link_error = None  # reason code (firmware/mqtt.py) of the last failed link
        self.attempt = 0
        self.next_connect_ms = 0
        self.next_ntp_ms = 0
        self.next_status_ms = 0
        self.last_ping_ms = 0
        self.synced = False
        self.faults = [None] * self.n_ch
        self.published = 0
        self.last_published = None  # the last acknowledged reading tuple
        self.boot = 0
        self.seq = 0
        self.stable = False
        self._ticks0 = 0
        self._up_ms = 0
        self.init_never_back()

    # -- time -------------------------------------------------------------------------
    def uptime_ms(self):
        """Milliseconds since start; the device's ticks_ms wraps, this never does."""
        t = self.hw.ticks_ms()
        self._up_ms += self.hw.ticks_diff(t, self._ticks0)
        self._ticks0 = t
        return self._up_ms

    # -- boot and shutdown ------------------------------------------------------------
    def start(self):
        hw = self.hw
        self._ticks0 = hw.ticks_ms()
        st = self.store.load() or {}
        self.boot = st.get("boot", 0) + 1
        mwh = st.get("mwh") or [0] * self.n_ch
        mwh = (list(mwh) + [0] * self.n_ch)[:self.n_ch]
        # Export counters ("xmwh"): absent from checkpoints written before they existed.
        xmwh = st.get("xmwh") or [0] * self.n_ch
        xmwh = (list(xmwh) + [0] * self.n_ch)[:self.n_ch]
        self.state = {"boot": self.boot, "mwh": mwh, "xmwh": xmwh, "dropped": st.get("dropped", 0),
                      "strikes": safemode.count_boot(st.get("strikes", 0)), "clean": False}
        # Written before anything can crash: the boot counter and the crash strike.
        self.store.write(self.state)
        self.outbox.dropped = self.state["dropped"]
        self.energy = Integrator(self.n_ch, mwh, xmwh, self.bidirectional)
        last = self.outbox.last()
        if last is not None:
            r = unpack_reading(last)
            floor = [0] * self.n_ch
            xfloor = [0] * self.n_ch
            for c in r[5]:
                for k in range(self.n_ch):
                    if self.cfg["channels"][k]["id"] == c[0]:
                        floor[k] = c[1]
                        xfloor[k] = c[6] or 0
            self.energy.raise_to(floor, xfloor)
        self.prev_mwh = list(self.energy.mwh)
        self.prev_xmwh = list(self.energy.export_mwh)
        self.boot_mwh = list(self.energy.mwh)
        self.ota_path = self.hw.root + "/" + update.STATE_FILE
        self.ota = update.load_state(self.ota_path, self.hw.opener)
        self.policy.saved(self.counters(), 0)
        self.reset_interval()
        self.count = 0
        self.interval_start_ms = 0
        hw.wifi_connect(self.cfg["wifi_ssid"], self.cfg["wifi_password"])

    def reset_interval(self):
        self.sum_i2 = [0.0] * self.n_ch
        self.sum_v2 = [0.0] * self.n_ch
        self.sum_s = [0.0] * self.n_ch
        self.n_meas = 0

    def counters(self):
        """Every counter the checkpoints keep: imported then exported, per channel."""
        return self.energy.mwh + self.energy.export_mwh

    def checkpoint(self, now, clean=False):
        self.state["mwh"] = list(self.energy.mwh)
        self.state["xmwh"] = list(self.energy.export_mwh)
        self.state["dropped"] = self.outbox.dropped
        self.state["clean"] = clean
        self.state["strikes"] = safemode.at_checkpoint(self.state["strikes"], clean, self.stable)
        try:
            self.store.write(self.state)
        except OSError:
            # Flash full (the queue filled it while offline): the counters matter more
            # than the oldest queued readings, which give up a segment (counted).
            self.outbox.make_room()
            self.state["dropped"] = self.outbox.dropped
            self.store.write(self.state)
        self.policy.saved(self.counters(), now)

    def run(self):
        self.start()
        while not self.hw.stopping():
            self.step()
        self.shutdown()

    def shutdown(self):
        """Clean stop: last reading, queue flushed if the link allows, checkpoint, offline."""
        now = self.uptime_ms()
        if self.count:
            self.measure_all(now)
            self.emit_reading(now)
        if self.connected:
            self.drain(len(self.outbox))
        self.checkpoint(now, clean=True)
        if self.connected:
            try:
                self.client.publish(self.status_topic, self.status_payload(wire.STATUS_OFFLINE),
                                    True, 1)
                self.client.disconnect()
            except OSError:
                pass
            self.connected = False

    # -- main loop --------------------------------------------------------------------
    def step(self):
        hw = self.hw
        hw.feed()
        now = self.uptime_ms()
        if now >= self.next_measure_ms():
            self.measure_all(now)
            if self.count == 0:
                # The first measurement opens the first interval: it counts from here.
                self.interval_start_ms = now
                self.reset_interval()
            self.count += 1
            if self.count > 1 and (self.count - 1) % self.per_reading == 0:
                self.emit_reading(now)
        self.service(now)
        if self.update_cmd is not None:
            self.run_update(now)
        if self.policy.due(self.counters(), now):
            self.checkpoint(now)
        if not self.stable and safemode.is_stable(now):
            self.stable = True
            self.checkpoint(now)
        wait = self.next_measure_ms() - self.uptime_ms()
        if wait > 0:
            if self.connected and len(self.outbox):
                wait = 0 if wait < 5 else 5  # keep draining between measurements
            hw.sleep_ms(wait)

    def next_measure_ms(self):
        return self.count * self.measure_ms

    def measure_all(self, now):
        powers = [0.0] * self.n_ch
        for k in range(self.n_ch):
            rate = sample_pairs(self.adc_i[k], self.adc_v, self.buf_i, self.buf_v,
                                self.n_samples, self.period_us, self.hw)
            n = int(round(self.cfg["cycles"] * rate / self.cfg["mains_hz"]))
            m = measure(self.buf_i, self.buf_v, 1e-6, self.cals[k], n,
                        bidirectional=self.bidirectional[k], work=self.work)
            p, self.faults[k] = oriented(m, self.cfg["channels"][k]["reverse"],
                                         self.bidirectional[k])
            powers[k] = p
            self.sum_i2[k] += m["irms_a"] * m["irms_a"]
            if m["vrms_v"] is not None:
                self.sum_v2[k] += m["vrms_v"] * m["vrms_v"]
            self.sum_s[k] += m["apparent_w"]
        self.n_meas += 1
        self.energy.add(powers, now)

    def emit_reading(self, now):
        interval_ms = now - self.interval_start_ms
        if interval_ms <= 0:
            return
        interval_s = interval_ms / 1000
        chans = []
        for k in range(self.n_ch):
            # Net mean power: what came in minus what went out (bidirectional channels).
            x = self.energy.export_mwh[k] - self.prev_xmwh[k]
            d = self.energy.mwh[k] - self.prev_mwh[k] - x
            power_w = d * 3.6 / interval_s
            irms = (self.sum_i2[k] / self.n_meas) ** 0.5
            vrms = None
            pf = None
            if self.adc_v is not None:
                vrms = (self.sum_v2[k] / self.n_meas) ** 0.5
                s = self.sum_s[k] / self.n_meas
                pf = power_w / s if s > 0 else 0.0
                pf = 1.0 if pf > 1 else (-1.0 if pf < -1 else pf)
            chans.append((self.cfg["channels"][k]["id"], self.energy.mwh[k], power_w, irms,
                          vrms, pf,
                          self.energy.export_mwh[k] if self.bidirectional[k] else None))
        self.prev_mwh = list(self.energy.mwh)
        self.prev_xmwh = list(self.energy.export_mwh)
        utc = self.hw.utc() if self.synced else None
        r = (self.boot, self.seq, utc, now, interval_s, chans)
        self.seq += 1
        self.interval_start_ms = now
        self.reset_interval()
        self.send(r)

    # -- publishing -------------------------------------------------------------------
    def payload(self, r):
        boot, seq, ts, up_ms, interval_s, chans = r
        out = []
        for c in chans:
            # The integer mWh counter goes to the wire exactly (a float would not).
            out.append(wire.channel(c[0], None, c[2], c[3], c[4], c[5], energy_mwh=c[1],
                                    export_mwh=c[6] if len(c) > 6 else None))
        return wire.encode_reading(self.meter_id, boot, seq, up_ms, interval_s, out, ts)

    def send(self, r):
        if self.connected and not len(self.outbox) and self.readback_done:
            try:
                out = self.lift(r)  # r itself is what the queue keeps if this fails
                self.counters_before(out)
                self.client.publish(self.topic, self.payload(out), False, 1)
                self.acked(out)
                return
            except OSError as e:
                self.link_down(e)
        self.outbox.push(pack_reading(r))

    def acked(self, r):
        self.published += 1
        self.last_published = r
        self.after_ack(r)
        self.hw.on_published(r)

    def drain(self, budget):
        while budget > 0 and self.connected:
            data = self.outbox.peek()
            if data is None:
                return
            r = self.lift(unpack_reading(data))
            try:
                self.counters_before(r)
                self.client.publish(self.topic, self.payload(r), False, 1)
            except OSError as e:
                self.link_down(e)
                return
            self.outbox.pop()
            self.acked(r)
            budget -= 1

    # -- network ----------------------------------------------------------------------
    def link_down(self, error=None):
        """The link failed (error: the OSError/MQTTError, if one): say why once per new
        reason, forget the client and wait a back-off delay before the next attempt."""
        if error is not None:
            r = mqtt.reason(error)
            if r != self.link_error:
                self.link_error = r
                say = getattr(self.hw, "link_failed", None)
                if say is not None:
                    say(error, self.cfg["mqtt_host"], self.cfg["mqtt_port"])
        self.connected = False
        try:
            self.client.disconnect()
        except (OSError, AttributeError):
            pass
        self.client = None
        self.retained_mwh = None  # a counters message may have been lost with the link
        self.next_connect_ms = self.uptime_ms() + backoff_ms(
            self.attempt, self.hw.random(), int(self.cfg["backoff_min_s"] * 1000),
            int(self.cfg["backoff_max_s"] * 1000))
        self.attempt += 1

    def status_payload(self, state):
        fields = {"fw": FIRMWARE_VERSION, "boot": self.boot, "uptime_s": self.uptime_ms() // 1000,
                  "rssi": self.hw.rssi(), "mem_free": self.hw.mem_free(),
                  "queued": len(self.outbox), "dropped": self.outbox.dropped,
                  "synced": self.synced}
        faults = {}  # type: dict
        for k in range(self.n_ch):
            if self.faults[k]:
                faults[str(self.cfg["channels"][k]["id"])] = self.faults[k]
        fields["faults"] = faults
        labels = {}  # type: dict
        for c in self.cfg["channels"]:
            if c.get("label"):
                labels[str(c["id"])] = c["label"]
        if labels:
            fields["labels"] = labels
        upd = update.status_fields(self.ota)
        for k in upd:
            fields[k] = upd[k]
        return wire.encode_status(self.meter_id, state, fields)

    def tls_context(self):
        """The SSLContext of the meter's CA file (ca_file), made once and kept: MQTT over
        TLS and update downloads check their server against the same authorities."""
        if self.tls is None:
            self.tls = mqtt.tls_context(self.cfg.get("cadata"))
        return self.tls

    def connect(self, now):
        hw = self.hw
        if not hw.wifi_ok():
            self.next_connect_ms = now + 1000
            return
        cfg = self.cfg
        try:
            c = hw.mqtt_client(self.meter_id, cfg["mqtt_host"], cfg["mqtt_port"],
                               cfg["mqtt_user"], cfg["mqtt_password"], cfg["keepalive_s"],
                               ssl=self.tls_context() if cfg["mqtt_tls"] else None,
                               timeout_s=cfg["mqtt_timeout_s"],
                               server_hostname=cfg["mqtt_server_name"])
            c.set_last_will(self.status_topic, wire.encode_status(self.meter_id,
                            wire.STATUS_OFFLINE, {"boot": self.boot}), True, 1)
            c.connect(True)
            hw.feed()  # the connection's waits are behind; the publishes each have their own
            self.client = c
            self.connected = True
            self.on_connected(c)  # first: the read-back may move the boot the status names
            c.publish(self.status_topic, self.status_payload(wire.STATUS_ONLINE), True, 1)
            if cfg["hass"]:
                for topic, msg in hass.discovery(cfg, FIRMWARE_VERSION):
                    c.publish(topic, msg, True, 1)
        except OSError as e:
            self.link_down(e)
            return
        self.attempt = 0
        self.link_error = None
        self.last_ping_ms = now
        self.next_status_ms = now + STATUS_EVERY_MS

    def service(self, now):
        hw = self.hw
        if not self.synced or now >= self.next_ntp_ms:
            if hw.wifi_ok():
                if hw.ntp_sync():
                    self.synced = True
                    self.next_ntp_ms = now + NTP_EVERY_MS
                else:
                    self.next_ntp_ms = now + NTP_RETRY_MS
        if not self.connected:
            if now >= self.next_connect_ms:
                self.connect(now)
            if not self.connected:
                return
        try:
            self.client.check_msg()
            ka = self.cfg["keepalive_s"] * 1000
            if ka and now - self.last_ping_ms >= ka // 2:
                self.client.ping()
                self.last_ping_ms = now
            if now >= self.next_status_ms:
                self.client.publish(self.status_topic, self.status_payload(wire.STATUS_ONLINE),
                                    True, 1)
                self.next_status_ms = now + STATUS_EVERY_MS
        except OSError as e:
            self.link_down(e)
            return
        if len(self.outbox) and self.readback_done:
            self.drain(DRAIN_PER_STEP)

    # -- counters that never step back (docs/firmware.md) -----------------------------
    def init_never_back(self):
        self.readback_done = False
        self.offset = [0] * self.n_ch   # added to this boot's counters after the read-back
        self.floor = [0] * self.n_ch    # the highest counter the broker has from this meter
        self.retained_mwh = None        # the counters last written to the retained topic
        self.boot_mwh = [0] * self.n_ch
        self.boot_was = -1              # this boot's number before the read-back moved it
        self.readback_seq = 0           # this boot's readings before it lack the offset
        self.update_cmd = None
        self.ota = {}
        self.ota_path = ""

    def on_message(self, topic, msg):
        topic = topic.decode() if isinstance(topic, bytes) else topic
        if topic == wire.counters_topic(self.meter_id):
            got = wire.decode_counters(self.meter_id, msg)
            if got is not None:
                self.read_back(got)
        elif topic == wire.command_topic(self.meter_id, "update"):
            self.update_cmd = update.parse_command(msg)

    def on_connected(self, c):
        """Subscribe to the meter's retained counters and command topics. The first time in
        a boot, wait for the retained counters (or the ping's answer: none are kept) before
        any reading goes out."""
        c.set_callback(self.on_message)
        if not self.readback_done:
            c.subscribe(wire.counters_topic(self.meter_id), 1)
            # The broker answers in order: the retained counters (if any) come before the
            # PINGRESP, and ping() hands them to on_message while it waits for it.
            c.ping()
            self.readback_done = True
        if self.cfg["update_key"]:
            c.subscribe(wire.command_topic(self.meter_id, "update"), 1)

    def read_back(self, got):
        """Continue from the larger of the checkpoint and the counters the broker kept:
        the gap is added to this boot's counters (queued readings of this boot included),
        and nothing published from now on goes below what the broker has. A boot counter
        behind the broker's (a flash erased by a reflash) jumps past it, so this boot's
        readings never reuse a stored key (no key_conflict)."""
        if self.readback_done:
            return
        boot, got = got
        if boot >= self.boot:
            self.boot_was = self.boot
            self.boot = boot + 1
            self.state["boot"] = self.boot
            self.store.write(self.state)
        for k in range(self.n_ch):
            v = got.get(self.cfg["channels"][k]["id"])
            if v is None:
                continue
            if v > self.floor[k]:
                self.floor[k] = v
            gap = v - self.boot_mwh[k]
            if gap > 0:
                self.offset[k] = gap
                self.energy.mwh[k] += gap
                self.prev_mwh[k] += gap
        self.readback_seq = self.seq
        self.readback_done = True

    def lift(self, r):
        """The reading as it goes out: this boot's readings made before the read-back get its
        offset (the integrator has it since), and none goes below what was published
        before (older boots' queued readings)."""
        chans = []
        for c in r[5]:
            mwh = c[1]
            for k in range(self.n_ch):
                if self.cfg["channels"][k]["id"] == c[0]:
                    if (r[0] == self.boot or r[0] == self.boot_was) and \
                            r[1] < self.readback_seq:
                        mwh += self.offset[k]
                    if mwh < self.floor[k]:
                        mwh = self.floor[k]
            chans.append((c[0], mwh) + tuple(c[2:]))
        boot = self.boot if r[0] == self.boot_was else r[0]
        return (boot, r[1], r[2], r[3], r[4], chans)

    def counters_before(self, r):
        """Before a reading whose counters pass the retained ones, write the retained
        counters (the live integrator, at least as high as any reading still to go). QoS 0
        is enough: the broker handles a connection's packets in order, so once the reading's
        PUBACK is back the counters were stored before it."""
        ret = self.retained_mwh
        need = ret is None
        if ret is not None:
            for c in r[5]:
                for k in range(self.n_ch):
                    if self.cfg["channels"][k]["id"] == c[0] and c[1] > ret[k]:
                        need = True
        if not need:
            return
        now = list(self.energy.mwh)
        for k in range(self.n_ch):
            if now[k] < self.floor[k]:
                now[k] = self.floor[k]
        by_id = {}
        for k in range(self.n_ch):
            by_id[self.cfg["channels"][k]["id"]] = now[k]
        self.client.publish(wire.counters_topic(self.meter_id),
                            wire.encode_counters(self.meter_id, self.boot, by_id), True, 0)
        self.retained_mwh = now

    def after_ack(self, r):
        for c in r[5]:
            for k in range(self.n_ch):
                if self.cfg["channels"][k]["id"] == c[0] and c[1] > self.floor[k]:
                    self.floor[k] = c[1]
        # This version, on trial, has come on line: status sent and a reading acknowledged.
        if self.ota.get("trial") is not None and self.ota.get("trial_version") == FIRMWARE_VERSION:
            st = update.confirm(self.ota)
            if st is not None:
                update.save_state(self.ota_path, st, self.hw.opener, self.hw.fs)
                self.ota = st
                self.next_status_ms = 0  # tell the server now

    # -- updates over Wi-Fi (firmware/update.py) --------------------------------------
    def run_update(self, now):
        """Check the command's signature, stream the archive into the other slot, check
        its size and SHA-256, then stop cleanly and reboot into it (boot.py tries it)."""
        cmd = self.update_cmd
        self.update_cmd = None
        if cmd is None or not update.wanted(cmd, FIRMWARE_VERSION, self.ota):
            return
        reason = update.check_signature(cmd, self.cfg["update_key"])
        slot = update.other_slot(self.ota)
        if reason is None:
            inst = update.Installer(self.hw.root + "/ota/" + slot, cmd, self.hw.opener,
                                    self.hw.fs)
            try:
                ctx = self.tls_context()
            except OSError:  # a CA the TLS library cannot use: no trusted download
                ctx = None
            ok = ctx is not None and self.hw.download(cmd["url"], inst.feed, DOWNLOAD_CHUNK, ctx)
            reason = inst.finish() if ok or inst.error else update.DOWNLOAD_FAILED
            if reason is None:
                self.ota = update.installed(self.ota, slot, cmd["version"])
                update.save_state(self.ota_path, self.ota, self.hw.opener, self.hw.fs)
                self.shutdown()
                self.hw.reset()
                return
            update.wipe(self.hw.fs, self.hw.root + "/ota/" + slot)
        self.ota = update.refused(self.ota, cmd["version"], reason)
        update.save_state(self.ota_path, self.ota, self.hw.opener, self.hw.fs)
        self.next_status_ms = 0
