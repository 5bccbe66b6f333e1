"""The collector's receive path (collector/mqttclient.py) against paho's own PUBLISH decoder:
the same messages, in the same order, whatever the packets and however the bytes arrive."""

from __future__ import annotations

import random
import struct

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt import _packet

from citizenwatt.collector.mqttclient import BufferedClient, _remaining_length


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def publish(topic: str, payload: bytes, qos: int, mid: int, v5: bool, props: bytes = b"",
            flags: int = 0) -> bytes:
    body = struct.pack("!H", len(topic.encode())) + topic.encode()
    if qos:
        body += struct.pack("!H", mid)
    if v5:
        body += varint(len(props)) + props
    body += payload
    return bytes([0x30 | qos << 1 | flags]) + varint(len(body)) + body


class FakeSocket:
    """Gives the stream in the chunk sizes asked for, then 'nothing waiting'."""

    def __init__(self, data: bytes, chunks: list[int]):
        self.data, self.chunks, self.pos = data, chunks, 0

    def recv(self, bufsize: int) -> bytes:
        if self.pos >= len(self.data):
            raise BlockingIOError
        n = min(bufsize, self.chunks.pop(0) if self.chunks else bufsize)
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out


def receive(stream: bytes, chunks: list[int], v5: bool, fast: bool = True) -> list[tuple]:
    client = BufferedClient(mqtt.CallbackAPIVersion.VERSION2,
                            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311, manual_ack=True)
    got: list[tuple] = []
    client.on_message = lambda c, u, msg: got.append(("paho", msg.topic, bytes(msg.payload),
                                                      msg.mid, msg.qos))
    if fast:
        client.on_publishes_fast = lambda msgs: got.extend(("fast", t, bytes(p), mid, qos)
                                                           for t, p, mid, qos in msgs)
    sock = FakeSocket(stream, chunks)
    client._sock = sock  # type: ignore[assignment]  # what connect() would set
    for _ in range(10 * len(stream) + 10):
        if sock.pos >= len(stream) and client._cw_pos >= len(client._cw_buf):
            break
        assert client.loop_read() == mqtt.MQTT_ERR_SUCCESS
    client._sock = None
    return got


def reference(packets: list[bytes], v5: bool) -> list[tuple]:
    """What paho's decoder makes of each PUBLISH packet."""
    out = []
    for p in packets:
        if p[0] & 0xF0 != 0x30:
            continue
        body_at, length = _remaining_length(p, 1, len(p))
        r = _packet.decode_publish(p[0], p[body_at:], mqtt.MQTTv5 if v5 else mqtt.MQTTv311)
        out.append((r.topic.decode(), bytes(r.payload), r.mid, r.qos))
    return out


def random_packets(rnd: random.Random, n: int, v5: bool) -> list[bytes]:
    packets = []
    for k in range(n):
        if rnd.random() < 0.05:
            packets.append(b"\xd0\x00")  # PINGRESP: paho's own parser handles it
            continue
        size = rnd.choice([0, 1, 100, 127, 128, 500, 16383, 16384, 70000])
        props = b""
        if v5 and rnd.random() < 0.5:  # message expiry, then a user property
            props = b"\x02" + struct.pack("!I", 60) + b"\x26\x00\x01k\x00\x02vv"
        packets.append(publish(f"cw/m-{k % 7}/reading", rnd.randbytes(size), rnd.choice([0, 1]),
                               k % 65535 + 1, v5, props, flags=rnd.choice([0, 1, 8, 9])))
    return packets


@pytest.mark.parametrize("v5", [True, False])
@pytest.mark.parametrize("seed", range(4))
def test_the_fast_path_gives_what_paho_decodes(v5, seed):
    rnd = random.Random(seed)
    packets = random_packets(rnd, 300, v5)
    stream = b"".join(packets)
    chunks = [rnd.choice([1, 7, 300, 4096, 65536]) for _ in range(len(stream) // 50)]
    got = receive(stream, chunks, v5)
    assert [g[1:] for g in got] == reference(packets, v5)
    # most messages took the fast path; paho's parser took those cut by a chunk's end
    assert sum(g[0] == "fast" for g in got) > len(got) / 2


def test_without_the_fast_callback_paho_delivers_every_message():
    packets = random_packets(random.Random(9), 100, True)
    got = receive(b"".join(packets), [], True, fast=False)
    assert {g[0] for g in got} == {"paho"}
    assert [g[1:] for g in got] == reference(packets, True)


def test_a_packet_cut_by_the_buffer_end_is_finished_by_paho():
    packets = [publish("cw/a/reading", b"x" * 200, 1, k + 1, True) for k in range(3)]
    stream = b"".join(packets)
    # the second packet's body is split across two reads
    got = receive(stream, [len(packets[0]) + 10, len(stream)], True)
    assert [(g[0], g[3]) for g in got] == [("fast", 1), ("paho", 2), ("fast", 3)]


def test_qos_2_is_left_to_paho():
    # paho answers PUBREC and holds a QoS 2 message until the broker's PUBREL
    stream = publish("cw/a/reading", b"q2", 2, 5, True) + publish("cw/a/reading", b"q1", 1, 6, True)
    got = receive(stream, [], True)
    assert got == [("fast", "cw/a/reading", b"q1", 6, 1)]


def test_remaining_length_bounds():
    assert _remaining_length(varint(321) + b"z", 0, 3) == (2, 321)
    assert _remaining_length(b"\x80\x80", 0, 2) == (-1, 0)  # not ended in the buffer
    assert _remaining_length(b"\xff\xff\xff\xff\x01", 0, 5) == (-1, 0)  # over 4 bytes
