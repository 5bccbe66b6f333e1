"""The collector: subscribes to the meters' topics, validates each message with the wire
contract, stores readings, and acknowledges a message only once it is durably stored.

MQTT runs in paho's network thread; storing runs in one writer thread that takes messages
in batches (one store transaction per batch) and then acknowledges them in arrival order.
"""

from __future__ import annotations

import logging
import struct
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from citizenwatt.errors import CollectorError
from citizenwatt.firmware import wire
from citizenwatt.i18n import N_, _, format_number
from citizenwatt.store.port import DeadLetter, ReadingStore, readings_from_payload

from .decoding import decode_reading
from .guard import OVER_QUOTA, SUSPECT_KEY, KeyGuard, Quota, RejectLog, meter_of

if TYPE_CHECKING:
    from citizenwatt.config import Settings

log = logging.getLogger("citizenwatt.collector")

# How long the broker keeps our session (and queues QoS 1 messages) while we are away.
SESSION_EXPIRY_S = 7 * 24 * 3600
# A reading whose (meter, boot, seq) is stored already with other values: not malformed,
# so not one of the wire contract's reasons, but kept and counted the same way.
KEY_CONFLICT = "key_conflict"
# QoS 1 messages the broker may send us before we acknowledge (MQTT v5 Receive Maximum).
# Without it Mosquitto sends 20 at a time (max_inflight_messages), which caps a batch at 20
# messages; the rest waits in its queue, and beyond max_queued_messages (1000) is DROPPED.
RECEIVE_MAXIMUM = 20000
# A connection lost sooner than this after it was made hints at a duplicate client id.
QUICK_LOSS_S = 10.0


_PUBACK_STRUCT = struct.Struct("!BBH")


class _BufferedClient(mqtt.Client):
    """paho's client reading the socket 64 KiB at a time.

    paho reads each packet with several recv() calls (type byte, length bytes, body) and
    handles one packet per select() wake-up: at thousands of messages per second that is
    most of the collector's time. Here recv() fills a buffer that the packet parser reads
    from, and loop_read() goes on until the buffer is empty (select() would not wake up
    for bytes already read). Relies on paho 2.x's _sock_recv (pinned in pyproject.toml);
    without it, the plain client is used.
    """

    _cw_sock = None
    _cw_buf = b""
    _cw_pos = 0

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._cw_sock is not self._sock:  # a new connection: forget the old bytes
            self._cw_sock, self._cw_buf, self._cw_pos = self._sock, b"", 0
        if self._cw_pos >= len(self._cw_buf):
            data = super()._sock_recv(65536)  # raises BlockingIOError when nothing waits
            if not data:
                return data  # connection closed
            self._cw_buf, self._cw_pos = data, 0
        pos = self._cw_pos
        self._cw_pos = pos + bufsize
        return self._cw_buf[pos:pos + bufsize]

    def ack_many(self, mids: list[int]) -> None:
        """PUBACK a batch of QoS 1 messages as one write, not one syscall pair per message."""
        if not mids:
            return
        if not hasattr(self, "_packet_queue") or self._sock is None:
            for mid in mids:
                self.ack(mid, 1)
            return
        # PUBACK: type 0x40, remaining length 2, packet id (reason 0 and no properties may
        # be left out in MQTT v5, as paho does).
        blob = b"".join([_PUBACK_STRUCT.pack(0x40, 2, mid) for mid in mids])
        self._packet_queue(0x40, blob, 0, 0)

    def loop_read(self, max_packets: int = 1):
        rc = super().loop_read(max_packets)
        while (rc == mqtt.MQTT_ERR_SUCCESS and self._sock is not None
               and self._cw_sock is self._sock and self._cw_pos < len(self._cw_buf)):
            rc = super().loop_read(max_packets)
        return rc


_Client = _BufferedClient if hasattr(mqtt.Client, "_sock_recv") else mqtt.Client


def disk_full(e: BaseException) -> bool:
    """The error (or one it was raised from) says the file system is full: SQLite's
    SQLITE_FULL, or ENOSPC/EDQUOT from the operating system."""
    import errno
    import sqlite3

    seen: set[int] = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, sqlite3.OperationalError) and "full" in str(cur).lower():
            return True
        if isinstance(cur, OSError) and cur.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        cur = cur.__cause__ or cur.__context__
    return False


@dataclass
class Metrics:
    received: int = 0
    stored: int = 0  # channel rows
    readings_stored: int = 0  # messages
    duplicates: int = 0
    rejected: Counter = field(default_factory=Counter)
    store_errors: int = 0
    last_lag_s: float = 0.0  # arrival -> durably stored, last batch
    queue_depth: int = 0
    processed: int = 0  # messages stored or rejected, and acknowledged
    batches: int = 0
    connected: bool = False
    over_quota: int = 0  # messages dropped beyond their meter's quota
    dead_letters_unkept: int = 0  # rejections counted but not kept (dead-letter rate limit)
    disk_full: bool = False  # the store's disk is full: nothing is acknowledged until space returns


@dataclass(slots=True)
class _Message:
    topic: str
    payload: bytes
    mid: int
    qos: int
    received_s: float
    connection: int  # packet ids are only meaningful on the connection that carried them


def build_collector(settings: Settings, store: ReadingStore) -> Collector:
    """The collector the [mqtt] and [collector] settings describe, writing to `store`: the
    one construction, for `citizenwatt collector` and the demo alike."""
    from citizenwatt.i18n import _

    m, c = settings.mqtt, settings.collector
    if not m.host:
        raise CollectorError(_("No MQTT broker is configured: set CITIZENWATT_MQTT__HOST (or "
                               "host in the [mqtt] table of the --config file)."))
    return Collector(store, m.host, m.port, client_id=c.id, username=m.username,
                     password=m.password, protocol=m.protocol, shared_group=c.shared_group,
                     tls_ca=m.tls_ca,
                     receive_maximum=m.receive_maximum, meter_burst=c.meter_burst,
                     meter_per_minute=c.meter_per_minute,
                     dead_letters_per_minute=c.dead_letters_per_minute,
                     reject_log_interval_s=c.reject_log_interval_s)


class Collector:
    def __init__(self, store: ReadingStore, host: str, port: int = 1883, *,
                 client_id: str = "citizenwatt-collector-1", username: str | None = None,
                 password: str | None = None, protocol: str = "auto",
                 shared_group: str | None = None, tls_ca: str | None = None,
                 batch_max: int = 2000,
                 batch_wait_s: float = 0.02, receive_maximum: int = RECEIVE_MAXIMUM,
                 meter_burst: int = 20000, meter_per_minute: int = 1200,
                 dead_letters_per_minute: int = 60, reject_log_interval_s: float = 60.0,
                 clock=time.time):
        self.store = store
        self.host, self.port = host, port
        self.client_id = client_id
        self.username, self.password = username, password
        self.protocol = protocol
        self.shared_group = shared_group
        self.tls_ca = tls_ca  # None: plain MQTT; "system": the system's CAs; else a CA file
        self.batch_max, self.batch_wait_s = batch_max, batch_wait_s
        self.receive_maximum = receive_maximum
        self.clock = clock
        self.metrics = Metrics()
        self.quota = Quota(meter_burst, meter_per_minute)
        self.keys = KeyGuard(self._known_key)
        self.reject_log = RejectLog(reject_log_interval_s, dead_letters_per_minute)
        # paho's thread appends, the writer pops: a deque needs no lock for that, and the
        # writer takes a whole batch at once instead of one get() per message.
        self._inbox: deque[_Message] = deque()
        self._inbox_ready = threading.Event()
        self._client: mqtt.Client | None = None
        self._writer: threading.Thread | None = None
        self._connected = threading.Event()
        self._subscribed = threading.Event()  # the broker acknowledged our subscription
        self._stopping = threading.Event()
        self._connack: object = None
        self._connection = 0
        self._connected_at = 0.0  # time.monotonic() of the last successful connection
        self._started = False  # start() succeeded: from then on, connection trouble is logged
        self.mqtt_version: str | None = None

    # -- lifecycle -----------------------------------------------------------------

    def start(self, timeout_s: float = 10.0) -> None:
        """Connect and subscribe; raise CollectorError naming the broker if that fails."""
        versions = {"v5": ["v5"], "v311": ["v311"], "auto": ["v5", "v311"]}[self.protocol]
        last_error = ""
        for version in versions:
            ok, last_error = self._connect(version, timeout_s)
            if ok:
                break
        else:
            raise CollectorError(
                N_("The collector cannot connect to the MQTT broker {host}:{port} ({error})."),
                N_("Check that the broker is running (systemctl status mosquitto), the "
                   "address, the port and the credentials (CITIZENWATT_MQTT__*)."),
                host=self.host, port=self.port, error=last_error)
        self._started = True
        self._writer = threading.Thread(target=self._write_loop, name="collector-writer",
                                        daemon=True)
        self._writer.start()
        log.info(_("collector connected to {address} (MQTT {version})",
                   address=f"{self.host}:{self.port}", version=self.mqtt_version))

    def _connect(self, version: str, timeout_s: float) -> tuple[bool, str]:
        v5 = version == "v5"
        client = _Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id,
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            clean_session=None if v5 else False, manual_ack=True)
        if self.username:
            client.username_pw_set(self.username, self.password)
        if self.tls_ca:
            # the broker's certificate must chain to the CA and name the host we dial
            client.tls_set(ca_certs=None if self.tls_ca == "system" else self.tls_ca)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        self._connected.clear()
        self._subscribed.clear()
        self._connack = None
        props = None
        if v5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = SESSION_EXPIRY_S
            props.ReceiveMaximum = self.receive_maximum
        try:
            if v5:
                client.connect(self.host, self.port, keepalive=30, clean_start=False,
                               properties=props)
            else:
                client.connect(self.host, self.port, keepalive=30)
        except (OSError, ValueError) as e:
            return False, str(e) or type(e).__name__
        self._client = client
        client.loop_start()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self._connack is None:
            time.sleep(0.01)
        if self._connected.is_set():
            self.mqtt_version = "5" if v5 else "3.1.1"
            # Until the SUBACK, a reading published on a first connection (no session on the
            # broker yet) would reach nobody: start() returns once the broker holds it for us.
            self._subscribed.wait(max(0.0, deadline - time.monotonic()))
            return True, ""
        client.loop_stop()
        try:
            client.disconnect()
        except Exception:
            pass
        self._client = None
        return False, str(self._connack or _("no answer from the broker"))

    def stop(self, timeout_s: float = 10.0) -> None:
        """Store what was received, acknowledge it, then disconnect."""
        self._stopping.set()
        self._inbox_ready.set()
        if self._writer is not None:
            self._writer.join(timeout_s)
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
        log.info(_("collector stopped"))

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    # -- MQTT callbacks (paho's thread) --------------------------------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        self._connection += 1
        if reason_code.is_failure:
            # At start, start() reports it in its one line; later, the log is all there is.
            log.log(logging.ERROR if self._started else logging.DEBUG,
                    "le broker refuse la connexion : %s", reason_code)
            self._connack = reason_code
            return
        prefix = f"$share/{self.shared_group}/" if self.shared_group else ""
        client.subscribe([(prefix + wire.READING_FILTER, 1), (prefix + wire.STATUS_FILTER, 1)])
        self._connected.set()
        self.metrics.connected = True
        if self._started:  # after "connexion au broker perdue": say it is over
            log.info(_("reconnected to the broker {address}", address=f"{self.host}:{self.port}"))
        self._connected_at = time.monotonic()
        self._connack = reason_code  # last: start() reads _connected once this is set

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        self._subscribed.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self._connected.clear()
        self.metrics.connected = False
        if self._started and not self._stopping.is_set():
            lasted_s = time.monotonic() - self._connected_at
            if lasted_s < QUICK_LOSS_S or str(reason_code) == "Session taken over":
                # The broker keeps one session per client id: it drops the older connection
                # when another client connects with the same id, and the two alternate.
                log.warning(_("connection to the broker lost {seconds} s after connecting "
                              "({reason}): reconnecting by itself. If this happens again, another "
                              "instance probably uses the same id {client_id!r}: give each one its "
                              "own (CITIZENWATT_COLLECTOR__ID).", seconds=format_number(lasted_s),
                              reason=reason_code, client_id=self.client_id))
            else:
                log.warning(_("connection to the broker lost ({reason}): reconnecting by itself",
                              reason=reason_code))

    def _on_message(self, client, userdata, msg):
        # Only queue here: paho's thread must keep reading from the broker whatever the
        # store does, or the broker's queue fills and it drops QoS 1 messages.
        self.metrics.received += 1
        self._inbox.append(_Message(msg.topic, msg.payload, msg.mid, msg.qos, self.clock(),
                                    self._connection))
        if not self._inbox_ready.is_set():
            self._inbox_ready.set()

    # -- the writer thread ---------------------------------------------------------

    def _next_batch(self) -> list[_Message] | None:
        """Up to batch_max messages; None once stopping and everything is taken."""
        inbox = self._inbox
        while not inbox:
            if self._stopping.is_set():
                return None
            self._inbox_ready.wait(0.5)
            self._inbox_ready.clear()
        if len(inbox) < self.batch_max and not self._stopping.is_set():
            # a moment to gather more, so one commit (one fsync) serves many messages
            time.sleep(self.batch_wait_s)
        n = min(len(inbox), self.batch_max)
        return [inbox.popleft() for _ in range(n)]

    def _write_loop(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                self.reject_log.flush(self.clock(), force=True)
                return
            self.metrics.queue_depth = len(self._inbox)
            rows: list = []
            statuses: dict[str, tuple[str, dict, float]] = {}  # the last one per meter wins
            letters: list[DeadLetter] = []
            parsed: list[tuple[_Message, list]] = []  # each reading message with its rows
            readings = 0
            for m in batch:
                if not self.quota.admit(meter_of(m.topic), m.received_s):
                    # counted and dropped before any work: one meter's flood costs the
                    # others nothing (its own genuine readings within the quota go on)
                    self.metrics.over_quota += 1
                    self.metrics.rejected[OVER_QUOTA] += 1
                    continue
                try:
                    meter_id, kind = wire.parse_topic(m.topic)
                    if kind == "status" and not m.payload:
                        continue  # a retained status being cleared (mosquitto_pub -r -n)
                    if kind == "status":
                        statuses[meter_id] = (meter_id, wire.decode_status(m.topic, m.payload),
                                              m.received_s)
                        continue
                    obj = decode_reading(m.topic, m.payload, m.received_s)
                    message_rows = readings_from_payload(obj, m.received_s)
                    trusted, to_store = self.keys.verdict(meter_id, (obj["boot"], obj["seq"]),
                                                          message_rows, m.received_s)
                    if trusted:
                        parsed.append((m, message_rows))
                        readings += 1
                    else:
                        self._reject(m, SUSPECT_KEY, (
                            "boot %d seq %d is far ahead of what meter %s sent so far: kept "
                            "as a dead letter, not stored as its newest reading"
                            % (obj["boot"], obj["seq"], meter_id)), letters)
                        readings += len({(r.boot, r.seq) for r in to_store})  # promoted
                    rows.extend(to_store)
                except wire.WireError as e:
                    self._reject(m, e.reason, e.detail, letters)
            conflicts = self._store_with_retry(rows, list(statuses.values()), letters,
                                               batch[-1].received_s)
            # rare: only then find each conflicting row's message
            source = {id(row): m for m, mrows in parsed for row in mrows} if conflicts else {}
            kept = set()
            letters = []
            for row in conflicts:
                msg = source.get(id(row))  # None: a promoted suspect (its dead letter is kept)
                if msg is not None and id(msg) not in kept:  # one dead letter per message, whole
                    kept.add(id(msg))
                    readings -= 1
                    self._reject(msg, KEY_CONFLICT, (
                        "meter %s boot %d seq %d was already stored with other values: the "
                        "meter was probably reflashed and counts from boot 1 again; kept as a "
                        "dead letter, give the meter a new id or carry its boot counter over"
                        % (row.meter_id, row.boot, row.seq)), letters)
            if letters:
                self._store_with_retry([], [], letters, batch[-1].received_s)
            self.metrics.readings_stored += readings
            self.metrics.last_lag_s = self.clock() - batch[0].received_s
            if self._client is not None:
                connection = self._connection
                # In arrival order, as MQTT asks. A message from an earlier connection is not
                # acknowledged on this one: its packet id may now name another message, not
                # yet stored. The broker redelivers it (persistent session); stored once.
                mids = [m.mid for m in batch if m.qos == 1 and m.connection == connection]
                if isinstance(self._client, _BufferedClient):
                    self._client.ack_many(mids)
                else:
                    for mid in mids:
                        self._client.ack(mid, 1)
            self.metrics.processed += len(batch)
            self.metrics.batches += 1
            self.reject_log.flush(batch[-1].received_s)  # a summary line once an interval ends

    def _reject(self, m: _Message, reason: str, detail: str, letters: list[DeadLetter]) -> None:
        """Count a rejection; its log line and its dead letter are rate-limited (RejectLog),
        the dead letter written with the batch."""
        self.metrics.rejected[reason] += 1
        if self.reject_log.reject(reason, m.topic, detail, m.received_s):
            letters.append(DeadLetter(reason, m.topic, m.payload, detail, m.received_s))
        else:
            self.metrics.dead_letters_unkept += 1

    def _known_key(self, meter_id: str) -> tuple[tuple[int, int], float] | None:
        """The meter's newest stored (boot, seq) and when it was taken, for the KeyGuard."""
        newest = max(self.store.latest(meter_id), key=lambda r: r.order_key, default=None)
        if newest is None:
            return None
        return newest.order_key, min(newest.ts_utc, self.clock())

    def _store_with_retry(self, rows, statuses, letters, received_s: float):
        """Store until it works (rows, statuses and dead letters in one transaction);
        returns the rows the store found in conflict."""
        if not (rows or statuses or letters):
            return ()
        delay = 0.2
        while True:
            try:
                res = self.store.write(rows, received_s, statuses=statuses, dead_letters=letters)
                self.metrics.stored += res.stored
                self.metrics.duplicates += res.duplicates
                if self.metrics.disk_full:
                    self.metrics.disk_full = False
                    log.warning(_("the store's disk has space again: storing the readings the broker "
                                  "kept"))
                return res.conflicts
            except Exception as e:
                # Nothing is acknowledged until stored: the broker keeps the messages.
                self.metrics.store_errors += 1
                if disk_full(e):
                    if not self.metrics.disk_full:  # once per episode, not at every retry
                        log.error(_("the disk that holds the store is full ({detail}): nothing is "
                                    "acknowledged, the broker keeps the readings; free some space and "
                                    "the collector goes on by itself", detail=e))
                    self.metrics.disk_full = True
                else:
                    log.error(_("cannot write to the store ({detail}): trying again in {seconds} s",
                                detail=e, seconds=format_number(delay, 1)))
                if self._stopping.is_set() and delay > 5:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 10.0)

    # -- helpers for callers and tests ---------------------------------------------

    def healthy(self) -> tuple[bool, str]:
        """(ok, why): connected to the broker and the writer thread alive."""
        if self._writer is None or not self._writer.is_alive():
            return False, "writer thread stopped"
        if not self._connected.is_set():
            return False, "not connected to the MQTT broker"
        return True, "ok"

    def store_status(self) -> dict:
        """The store's own gauges (spool depth...), when it has any."""
        status = getattr(self.store, "status", None)
        return status() if callable(status) else {}

    def wait_idle(self, timeout_s: float = 10.0) -> bool:
        """Wait until every message received so far is stored (or rejected) and acked."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.metrics.processed >= self.metrics.received:
                return True
            time.sleep(0.02)
        return False
