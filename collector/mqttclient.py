"""paho's MQTT client with the collector's receive path: the socket read 64 KiB at a time,
PUBLISH packets taken straight from that buffer, and PUBACKs sent in batches.

paho reads each packet with several recv() calls (type byte, length bytes, body), handles
one packet per select() wake-up, and builds an MQTTMessage with its MQTT v5 Properties and
a topic-matching pass per message: at thousands of messages per second that was half of
the collector's time (py-spy, bench/collector_ingest.py --profile). Here recv() fills a
buffer; whole PUBLISH packets (QoS 0 or 1) at its head are decoded in one loop and handed
to `on_publishes_fast([(topic, payload, mid, qos), ...])` once per buffer; anything else
(CONNACK, SUBACK, PINGRESP, QoS 2, a packet cut by the buffer's end, a malformed one) goes
through paho's own parser, which reads the same buffer. Relies on paho 2.x's _sock_recv,
_in_packet and _packet_queue (paho-mqtt is pinned in pyproject.toml); without them the plain
client is used.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

import paho.mqtt.client as mqtt

_PUBACK_STRUCT = struct.Struct("!BBH")
_U16 = struct.Struct("!H")
# the fixed header's first byte: PUBLISH is 0x3_, QoS in bits 1-2 (dup and retain ignored)
_PUBLISH, _QOS_MASK = 0x30, 0x06


class BufferedClient(mqtt.Client):
    """See the module docstring. Set on_publishes_fast before connecting."""

    _cw_sock = None
    _cw_buf = b""
    _cw_pos = 0
    on_publishes_fast: Callable[[list[tuple[str, bytes, int, int]]], None] | None = None

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
        # One recv() per call (select() said bytes wait), then every packet in the buffer:
        # returning between reads lets paho's loop send the PUBACKs queued meanwhile.
        if self._sock is None:
            return super().loop_read(max_packets)  # paho's answer: no connection
        if self._cw_sock is not self._sock or self._cw_pos >= len(self._cw_buf):
            try:
                data = super()._sock_recv(65536)
            except BlockingIOError:
                return mqtt.MQTT_ERR_SUCCESS
            except OSError:
                return super().loop_read(max_packets)  # paho reports the error
            if not data:
                return super().loop_read(max_packets)  # closed: paho reads b"" and says so
            self._cw_sock, self._cw_buf, self._cw_pos = self._sock, data, 0
        rc = mqtt.MQTT_ERR_SUCCESS
        while (rc == mqtt.MQTT_ERR_SUCCESS and self._sock is not None
               and self._cw_sock is self._sock and self._cw_pos < len(self._cw_buf)):
            if self.on_publishes_fast is not None and self._in_packet["command"] == 0:
                self._take_publishes()
                if self._cw_pos >= len(self._cw_buf):
                    break
            rc = super().loop_read(max_packets)  # a packet the fast path leaves to paho
        return rc

    def _take_publishes(self) -> None:
        """Decode the whole QoS 0/1 PUBLISH packets at the head of the buffer; stop at the
        first other packet or one not wholly in the buffer, for paho's parser."""
        buf, pos, end = self._cw_buf, self._cw_pos, len(self._cw_buf)
        v5 = self._protocol == mqtt.MQTTv5
        deliver = self.on_publishes_fast
        assert deliver is not None
        got: list[tuple[str, bytes, int, int]] = []
        while pos < end:
            header = buf[pos]
            qos = (header & _QOS_MASK) >> 1
            if header & 0xF0 != _PUBLISH or qos > 1:
                break
            body, length = _remaining_length(buf, pos + 1, end)
            if body < 0 or body + length > end:
                break  # cut by the buffer's end (or malformed): paho reads it
            stop = body + length
            (topic_len,) = _U16.unpack_from(buf, body)
            p = body + 2 + topic_len
            mid = 0
            if qos:
                if p + 2 > stop:
                    break
                (mid,) = _U16.unpack_from(buf, p)
                p += 2
            if v5:  # properties: skipped (the collector uses none of a PUBLISH's)
                p, props_len = _remaining_length(buf, p, stop)
                if p < 0:
                    break
                p += props_len
            if p > stop:
                break  # malformed: paho says so and drops the connection
            topic = buf[body + 2:body + 2 + topic_len].decode("utf-8", "replace")
            pos = stop
            got.append((topic, buf[p:stop], mid, qos))
        self._cw_pos = pos
        if got:
            deliver(got)
            with self._msgtime_mutex:
                self._last_bytes_received = mqtt.time_func()  # paho's keepalive clock


def _remaining_length(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """MQTT's variable byte integer at buf[pos:]: (position after it, value), or (-1, 0)
    when it is not wholly before `end` or longer than 4 bytes."""
    value, shift = 0, 0
    for i in range(pos, min(end, pos + 4)):
        byte = buf[i]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return i + 1, value
        shift += 7
    return -1, 0


def has_fast_path() -> bool:
    """Whether this paho has the internals BufferedClient builds on."""
    return all(hasattr(mqtt.Client, name) for name in ("_sock_recv", "_packet_queue",
                                                        "_packet_read"))
