# umqtt.simple for the meter: an MQTT 3.1.1 client with micropython-lib's umqtt.simple API
# (MQTTClient: connect, publish, subscribe, ping, check_msg, wait_msg, disconnect), written
# for Citizen Watt from the MQTT 3.1.1 specification. The workshop ships it so that a room
# without internet can still install the meter (`citizenwatt flash` puts it in the offline
# cache when the cache has no umqtt.simple; `citizenwatt flash --fill-cache` replaces it by
# micropython-lib's own). Runs on MicroPython; each packet is built in plain sight below.

import socket
import struct


class MQTTException(Exception):
    pass


class MQTTClient:
    def __init__(self, client_id, server, port=0, user=None, password=None, keepalive=0,
                 ssl=None):
        self.client_id = client_id
        self.server = server
        self.port = port or (8883 if ssl else 1883)
        self.user = user
        self.pswd = password
        self.keepalive = keepalive
        self.ssl = ssl
        self.sock = None
        self.pid = 0
        self.cb = None
        self.lw_topic = None
        self.lw_msg = None
        self.lw_qos = 0
        self.lw_retain = False

    # Strings go out as a 2-byte length then the bytes (spec 1.5.3).
    def _send_str(self, s):
        if isinstance(s, str):
            s = s.encode()
        self.sock.write(struct.pack("!H", len(s)))
        self.sock.write(s)

    # The remaining length: 7 bits a byte, high bit set while more follow (spec 2.2.3).
    def _recv_len(self):
        n = 0
        sh = 0
        while 1:
            b = self.sock.read(1)[0]
            n |= (b & 0x7F) << sh
            if not b & 0x80:
                return n
            sh += 7

    @staticmethod
    def _len_bytes(n):
        out = bytearray()
        while 1:
            b = n & 0x7F
            n >>= 7
            out.append(b | 0x80 if n else b)
            if not n:
                return out

    def set_callback(self, f):
        self.cb = f

    def set_last_will(self, topic, msg, retain=False, qos=0):
        assert 0 <= qos <= 2 and topic
        self.lw_topic = topic
        self.lw_msg = msg
        self.lw_qos = qos
        self.lw_retain = retain

    def connect(self, clean_session=True):
        self.sock = socket.socket()
        addr = socket.getaddrinfo(self.server, self.port)[0][-1]
        self.sock.connect(addr)
        if self.ssl:
            self.sock = self.ssl.wrap_socket(self.sock, server_hostname=self.server)
        # CONNECT: protocol "MQTT" level 4, connect flags, keepalive (spec 3.1).
        flags = 0x02 if clean_session else 0
        size = 10 + 2 + len(self.client_id)
        if self.user:
            size += 2 + len(self.user) + 2 + len(self.pswd or "")
            flags |= 0xC0
        if self.lw_topic:
            size += 2 + len(self.lw_topic) + 2 + len(self.lw_msg)
            flags |= 0x04 | (self.lw_qos & 1) << 3 | (self.lw_qos & 2) << 3
            flags |= 0x20 if self.lw_retain else 0
        self.sock.write(b"\x10" + self._len_bytes(size))
        self.sock.write(b"\x00\x04MQTT\x04" + bytes([flags]) + struct.pack("!H", self.keepalive))
        self._send_str(self.client_id)
        if self.lw_topic:
            self._send_str(self.lw_topic)
            self._send_str(self.lw_msg)
        if self.user:
            self._send_str(self.user)
            self._send_str(self.pswd or "")
        # CONNACK: 0x20 0x02, session present, return code (spec 3.2).
        resp = self.sock.read(4)
        if not resp or len(resp) < 4 or resp[0] != 0x20 or resp[1] != 0x02:
            raise OSError(-1)
        if resp[3] != 0:
            raise MQTTException(resp[3])
        return resp[2] & 1

    def disconnect(self):
        self.sock.write(b"\xe0\x00")
        self.sock.close()

    def ping(self):
        self.sock.write(b"\xc0\x00")

    def publish(self, topic, msg, retain=False, qos=0):
        if isinstance(topic, str):
            topic = topic.encode()
        if isinstance(msg, str):
            msg = msg.encode()
        # PUBLISH: type 3, QoS in bits 1-2, retain in bit 0 (spec 3.3).
        size = 2 + len(topic) + len(msg) + (2 if qos > 0 else 0)
        self.sock.write(bytes([0x30 | qos << 1 | (1 if retain else 0)]) + self._len_bytes(size))
        self._send_str(topic)
        if qos > 0:
            self.pid = self.pid % 65535 + 1
            pid = self.pid
            self.sock.write(struct.pack("!H", pid))
        self.sock.write(msg)
        if qos == 1:
            # PUBACK: 0x40 0x02 packet id (spec 3.4); other packets meanwhile are served.
            while 1:
                op = self.wait_msg()
                if op == 0x40:
                    sz = self.sock.read(1)
                    assert sz == b"\x02"
                    rcv = struct.unpack("!H", self.sock.read(2))[0]
                    if rcv == pid:
                        return
        elif qos == 2:
            assert 0, "QoS 2 is not supported"

    def subscribe(self, topic, qos=0):
        assert self.cb is not None, "subscribe callback is not set"
        if isinstance(topic, str):
            topic = topic.encode()
        # SUBSCRIBE: 0x82, packet id, topic filter, requested QoS (spec 3.8).
        self.pid = self.pid % 65535 + 1
        self.sock.write(b"\x82" + self._len_bytes(2 + 2 + len(topic) + 1)
                        + struct.pack("!H", self.pid))
        self._send_str(topic)
        self.sock.write(bytes([qos]))
        while 1:
            op = self.wait_msg()
            if op == 0x90:
                resp = self.sock.read(4)
                assert resp[1:3] == struct.pack("!H", self.pid)
                if resp[3] == 0x80:
                    raise MQTTException(resp[3])
                return

    def wait_msg(self):
        """Read one packet: a PUBLISH goes to the callback (and is acknowledged at QoS 1),
        PINGRESP is consumed; any other type is returned for the caller to read."""
        res = self.sock.read(1)
        self.sock.setblocking(True)
        if res is None:
            return None
        if res == b"":
            raise OSError(-1)
        if res == b"\xd0":  # PINGRESP
            self.sock.read(1)
            return None
        op = res[0]
        if op & 0xF0 != 0x30:
            return op
        sz = self._recv_len()
        topic_len = struct.unpack("!H", self.sock.read(2))[0]
        topic = self.sock.read(topic_len)
        sz -= topic_len + 2
        if op & 6:
            pid = struct.unpack("!H", self.sock.read(2))[0]
            sz -= 2
        msg = self.sock.read(sz)
        if self.cb:
            self.cb(topic, msg)
        if op & 6 == 2:
            self.sock.write(b"\x40\x02" + struct.pack("!H", pid))
        elif op & 6 == 4:
            assert 0, "QoS 2 is not supported"
        return op

    def check_msg(self):
        """A pending packet if there is one, without waiting."""
        self.sock.setblocking(False)
        return self.wait_msg()
