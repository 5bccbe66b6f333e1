# Citizen Watt's own MQTT 3.1.1 client for the meter: the same code on the ESP32
# (MicroPython) and on a PC (the host run and the tests). umqtt.simple's method names
# (connect, publish, subscribe, set_callback, check_msg, wait_msg, ping, disconnect), with
# what the meter needs and umqtt.simple does not do:
# - each packet is built in one buffer and written in one call (TCP_NODELAY where there
#   is one), so a QoS 1 publish costs one round trip, not a Nagle/delayed-ack stall;
# - every wait (CONNACK, PUBACK, PINGRESP, SUBACK) has a deadline, and the socket keeps
#   its timeout after every read, including the non-blocking one of check_msg();
# - a refusal, a closed link, an answer that is not MQTT, a timeout, a certificate the CA
#   does not vouch for: all raise MQTTError, an OSError with a reason code in args[0], the
#   one family the meter loop catches before it retries with back-off;
# - packet ids wrap 1..65535, lengths are counted on the UTF-8 bytes, a user without a
#   password is sent as such, keepalive 0 is refused (it would turn off the broker's
#   dead-link detection and with it the last will);
# - TLS through an SSLContext (ssl.SSLContext on CPython and MicroPython >= 1.23).
# socket and ssl are imported where a connection is made, so the packet code also runs
# where there is no network (the MicroPython VM of the tests).

import time

try:
    from typing import Any  # noqa: F401  for the "# type: Any" comments; MicroPython has no typing
except ImportError:
    pass

# Reason codes: MQTTError.args[0]. describe() gives the meter's sentence for each.
REFUSED = "refused"     # CONNACK return code 1-5 (args[1]) or SUBACK failure (0x80)
CLOSED = "closed"       # the other end closed the connection
TIMEOUT = "timeout"     # no answer within the timeout
PROTOCOL = "protocol"   # an answer that is not what MQTT allows here
TLS = "tls"             # TLS handshake failed: certificate not vouched for by the CA, name
NETWORK = "network"     # name not found, connection refused, link down

CONNECT = 0x10
CONNACK = 0x20
PUBLISH = 0x30
PUBACK = 0x40
SUBSCRIBE = 0x82
SUBACK = 0x90
PINGREQ = 0xC0
PINGRESP = 0xD0
DISCONNECT = 0xE0
UNSUBACK = 0xB0
ANSWERS = (CONNACK, PUBACK, SUBACK, UNSUBACK, PINGRESP)  # first bytes a broker may send

MAX_INCOMING = 16384  # the meter takes commands, not files: more is not MQTT for us
MAX_PACKET_ID = 65535


class MQTTError(OSError):
    """args = (reason, code): reason one of the codes above, code the broker's return code
    for REFUSED (else 0); .detail says what the socket or TLS layer said. Made by error()."""

    detail = ""


def error(reason, code=0, detail=""):
    # Not an __init__: MicroPython cannot chain to OSError.__init__ from a subclass, and
    # CPython keeps only two of three OSError args; an attribute works on both.
    e = MQTTError(reason, code)
    e.detail = detail
    return e


def detail(e):
    return getattr(e, "detail", "") or str(e)


def reason(e):
    """The reason code of an MQTTError; NETWORK for any other OSError."""
    if isinstance(e, MQTTError):
        return e.args[0]
    return NETWORK


CONNACK_TEXT = {
    1: "version du protocole refusée",
    2: "identifiant de client refusé",
    3: "service indisponible",
    4: "identifiant ou mot de passe refusé",
    5: "compte non autorisé",
}


def describe(e, host="", port=0):
    """The meter's French sentence for a failed link (it prints it at its console; the host
    translates the reason code through the project's catalogue instead)."""
    r = reason(e)
    where = "%s:%d" % (host, port) if host else "le broker"
    said = detail(e)
    if r == REFUSED:
        code = e.args[1]
        if code in (4, 5):
            return ("Le broker MQTT %s refuse le compte du compteur (code %d, %s) : vérifiez "
                    "mqtt_user et mqtt_password, ou refaites citizenwatt provision pour ce "
                    "compteur." % (where, code, CONNACK_TEXT[code]))
        return ("Le broker MQTT %s refuse la connexion (code %d, %s) : le compteur réessaie ; "
                "si cela dure, vérifiez la configuration du broker."
                % (where, code, CONNACK_TEXT.get(code, "code inconnu")))
    if r == TLS:
        return ("Le certificat du broker MQTT %s n'est pas reconnu (%s) : le fichier ca.pem du "
                "compteur doit être le certificat de l'autorité qui a signé celui du broker, et "
                "mqtt_server_name le nom inscrit dans ce certificat. Réinstallez-le avec "
                "citizenwatt provision." % (where, said))
    if r == TIMEOUT:
        return ("Le broker MQTT %s ne répond pas à temps (%s) : le compteur garde ses mesures "
                "et réessaie ; vérifiez que le broker tourne." % (where, said))
    if r == CLOSED:
        return ("Le broker MQTT %s a fermé la connexion (%s) : le compteur garde ses mesures et "
                "réessaie ; vérifiez le port (8883 en TLS) et les droits du compte (ACL)."
                % (where, said))
    if r == PROTOCOL:
        return ("Ce qui répond sur %s ne parle pas MQTT (%s) : vérifiez mqtt_host et mqtt_port "
                "(1883, ou 8883 en TLS)." % (where, said))
    return ("Connexion au broker MQTT %s impossible (%s) : le compteur garde ses mesures et "
            "réessaie ; vérifiez le Wi-Fi, mqtt_host et mqtt_port." % (where, said))


# MicroPython's wrapping millisecond ticks, or CPython's monotonic clock.
_ticks_ms = getattr(time, "ticks_ms", None)
_ticks_diff = getattr(time, "ticks_diff", None)
_monotonic = getattr(time, "monotonic", None)  # type: Any


def _ms():
    if _ticks_ms is not None:
        return _ticks_ms()
    return int(_monotonic() * 1000)


def _elapsed(t0):
    if _ticks_diff is not None:
        return _ticks_diff(_ms(), t0)
    return _ms() - t0


def _b(s):
    """UTF-8 bytes of a str (lengths on the wire count bytes, not characters)."""
    if isinstance(s, str):
        return s.encode("utf-8")
    return bytes(s)


def _is_timeout(e):
    n = type(e).__name__
    if n in ("TimeoutError", "timeout"):
        return True
    return bool(e.args) and e.args[0] in (110, 116)  # ETIMEDOUT (Linux, lwIP)


def _would_block(e):
    n = type(e).__name__
    if n in ("BlockingIOError", "SSLWantReadError"):
        return True
    return bool(e.args) and e.args[0] in (11, 35)  # EAGAIN (Linux/lwIP), BSD


# -- packets (pure: no socket) --------------------------------------------------------

def varint_len(n):
    """Bytes the remaining length n takes (1 to 4)."""
    k = 1
    while n > 127:
        n >>= 7
        k += 1
    return k


def put_varint(buf, i, n):
    """Write remaining length n at buf[i]; return the index after it."""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            buf[i] = b | 0x80
            i += 1
        else:
            buf[i] = b
            return i + 1


def put_str(buf, i, s):
    """Write a length-prefixed field (s already bytes) at buf[i]; return the next index."""
    n = len(s)
    if n > 65535:
        raise ValueError("MQTT string longer than 65535 bytes")
    buf[i] = n >> 8
    buf[i + 1] = n & 0xFF
    buf[i + 2:i + 2 + n] = s
    return i + 2 + n


def connect_packet(client_id, user, password, keepalive, clean, will):
    """CONNECT as bytes. will: None or (topic bytes, msg bytes, qos, retain)."""
    cid = _b(client_id)
    u = _b(user) if user is not None else None
    p = _b(password) if (u is not None and password is not None) else None
    size = 10 + 2 + len(cid)
    flags = 0x02 if clean else 0
    if will is not None:
        size += 4 + len(will[0]) + len(will[1])
        flags |= 0x04 | (will[2] << 3) | (0x20 if will[3] else 0)
    if u is not None:
        size += 2 + len(u)
        flags |= 0x80
    if p is not None:
        size += 2 + len(p)
        flags |= 0x40
    buf = bytearray(1 + varint_len(size) + size)
    buf[0] = CONNECT
    i = put_varint(buf, 1, size)
    i = put_str(buf, i, b"MQTT")
    buf[i] = 4  # protocol level: 3.1.1
    buf[i + 1] = flags
    buf[i + 2] = keepalive >> 8
    buf[i + 3] = keepalive & 0xFF
    i = put_str(buf, i + 4, cid)
    if will is not None:
        i = put_str(buf, i, will[0])
        i = put_str(buf, i, will[1])
    if u is not None:
        i = put_str(buf, i, u)
    if p is not None:
        i = put_str(buf, i, p)
    return buf


def publish_into(buf, topic, msg, qos, retain, pid):
    """PUBLISH written at the start of buf (a bytearray, grown if too small); returns
    (buf, length) so the caller writes memoryview(buf)[:length] once."""
    size = 2 + len(topic) + len(msg) + (2 if qos else 0)
    n = 1 + varint_len(size) + size
    if len(buf) < n:
        buf = bytearray(n + 64)
    buf[0] = PUBLISH | (qos << 1) | (1 if retain else 0)
    i = put_varint(buf, 1, size)
    i = put_str(buf, i, topic)
    if qos:
        buf[i] = pid >> 8
        buf[i + 1] = pid & 0xFF
        i += 2
    buf[i:i + len(msg)] = msg
    return buf, n


def subscribe_packet(topic, qos, pid):
    t = _b(topic)
    size = 2 + 2 + len(t) + 1
    buf = bytearray(1 + varint_len(size) + size)
    buf[0] = SUBSCRIBE
    i = put_varint(buf, 1, size)
    buf[i] = pid >> 8
    buf[i + 1] = pid & 0xFF
    i = put_str(buf, i + 2, t)
    buf[i] = qos
    return buf


def next_pid(pid):
    """The packet id after pid: 1, 2, ... 65535, 1 (0 is not a valid id)."""
    return pid % MAX_PACKET_ID + 1


def parse_publish(first, body):
    """(topic bytes, msg bytes, qos, pid) of an incoming PUBLISH's body."""
    qos = (first >> 1) & 3
    if qos == 3 or len(body) < 2:
        raise error(PROTOCOL, 0, "bad PUBLISH")
    n = body[0] << 8 | body[1]
    i = 2 + n
    pid = 0
    if qos:
        if len(body) < i + 2:
            raise error(PROTOCOL, 0, "bad PUBLISH")
        pid = body[i] << 8 | body[i + 1]
        i += 2
    if i > len(body):
        raise error(PROTOCOL, 0, "bad PUBLISH")
    return bytes(body[2:2 + n]), bytes(body[i:]), qos, pid


def check_connack(first, body):
    """Session present flag of a CONNACK; MQTTError for anything else."""
    if first != CONNACK or len(body) != 2 or body[0] > 1:
        raise error(PROTOCOL, 0, "no CONNACK (first byte 0x%02x)" % first)
    if body[1]:
        raise error(REFUSED, body[1], CONNACK_TEXT.get(body[1], "code %d" % body[1]))
    return body[0] & 1


def tls_context(cadata):
    """An SSLContext that accepts only a server certificate signed by one of these CAs (a
    list of DER certificates, config.pem_certs(), or one as bytes) and checks its name: the
    same calls on CPython and MicroPython >= 1.23 (one load_verify_locations() per
    certificate: MicroPython's takes one DER certificate at a time, and adds it)."""
    import ssl

    try:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # type: Any
        ctx.verify_mode = ssl.CERT_REQUIRED
        for der in [cadata] if isinstance(cadata, (bytes, bytearray)) else cadata:
            ctx.load_verify_locations(cadata=der)
    except Exception as e:  # a CA the TLS library cannot use: a TLS fault, said and retried
        raise error(TLS, 0, "CA certificate: %s" % (e,)) from None
    return ctx


class MQTTClient:
    def __init__(self, client_id, server, port=0, user=None, password=None, keepalive=60,
                 ssl=None, timeout_s=10, server_hostname=None):
        if not 0 < keepalive <= 65535:
            # 0 would switch off the broker's dead-link detection, and the last will with it.
            raise ValueError("keepalive must be 1 to 65535 s, not %r" % (keepalive,))
        self.client_id = client_id
        self.server = server
        self.ssl = ssl
        self.port = port or (8883 if ssl else 1883)
        self.user = user
        self.pswd = password
        self.keepalive = keepalive
        self.timeout_s = timeout_s
        self.server_hostname = server_hostname or server
        self.sock = None  # type: Any
        self._raw = None  # type: Any
        self.pid = 0
        self.lw = None
        self.cb = None
        self._wbuf = bytearray(256)  # PUBLISH is built here, grown once to the largest
        self._one = bytearray(1)  # one-byte reads (first byte, remaining length, polling)

    # -- umqtt.simple's API ---------------------------------------------------------------
    def set_callback(self, f):
        """f(topic bytes, msg bytes) for each message of a subscribed topic."""
        self.cb = f

    def set_last_will(self, topic, msg, retain=False, qos=0):
        if not 0 <= qos <= 1 or not topic:
            raise ValueError("last will: a topic and QoS 0 or 1")
        self.lw = (_b(topic), _b(msg), qos, retain)

    def connect(self, clean_session=True):
        """Open the link and wait for CONNACK; returns the session-present flag."""
        self._open()
        try:
            self._send(connect_packet(self.client_id, self.user, self.pswd, self.keepalive,
                                      clean_session, self.lw))
            first, body = self._read_packet(self.timeout_s * 1000, CONNACK)
            return check_connack(first, body)
        except BaseException:
            self._close()
            raise

    def disconnect(self):
        if self.sock is None:
            return
        try:
            self._send(bytes((DISCONNECT, 0)))
        except OSError:
            pass
        self._close()

    def publish(self, topic, msg, retain=False, qos=0):
        """QoS 0: written; QoS 1: returns once the broker's PUBACK for it arrived."""
        self._live()
        pid = 0
        if qos:
            self.pid = pid = next_pid(self.pid)
        self._wbuf, n = publish_into(self._wbuf, _b(topic), _b(msg), qos, retain, pid)
        self._send(memoryview(self._wbuf)[:n])
        if qos:
            self._wait_for(PUBACK, pid)

    def subscribe(self, topic, qos=0):
        """Subscribe and wait for SUBACK; a refused subscription raises MQTTError(REFUSED)."""
        self._live()
        self.pid = pid = next_pid(self.pid)
        self._send(subscribe_packet(topic, qos, pid))
        granted = self._wait_for(SUBACK, pid)
        if granted == 0x80:
            raise error(REFUSED, 0x80, "subscription refused")

    def ping(self):
        """PINGREQ, and wait for PINGRESP (messages arriving meanwhile go to the callback)."""
        self._live()
        self._send(bytes((PINGREQ, 0)))
        self._wait_for(PINGRESP, 0)

    def wait_msg(self):
        """Wait up to the timeout for one packet and handle it; returns its type or None."""
        self._live()
        t0 = _ms()
        if self._read_exact(1, t0, self.timeout_s * 1000, self._one, True) is None:
            return None  # nothing came: the link stays up
        first = self._one[0]
        if not (first & 0xF0 == PUBLISH or first in ANSWERS):
            self._close()
            raise error(PROTOCOL, 0, "first byte 0x%02x" % first)
        return self._handle(first, self._read_body(t0, self.timeout_s * 1000))

    def check_msg(self):
        """Handle one packet if one has arrived; never blocks for the next one."""
        self._live()
        first = self._poll_byte()
        if first is None:
            return None
        if not (first & 0xF0 == PUBLISH or first in ANSWERS):
            self._close()
            raise error(PROTOCOL, 0, "first byte 0x%02x" % first)
        body = self._read_body(_ms(), self.timeout_s * 1000)
        return self._handle(first, body)

    # -- the link -------------------------------------------------------------------------
    def _open(self):
        import socket

        try:
            addr = socket.getaddrinfo(self.server, self.port, 0, socket.SOCK_STREAM)[0][-1]
            s = socket.socket()
        except OSError as e:
            raise error(NETWORK, 0, "%s: %s" % (self.server, e)) from None
        self._raw = s
        try:
            s.settimeout(self.timeout_s)
            nodelay = getattr(socket, "TCP_NODELAY", None)
            if nodelay is not None:
                try:
                    s.setsockopt(getattr(socket, "IPPROTO_TCP", 6), nodelay, 1)
                except OSError:
                    pass
            s.connect(addr)
        except OSError as e:
            self._close()
            if _is_timeout(e):
                raise error(TIMEOUT, 0, "TCP connect") from None
            raise error(NETWORK, 0, str(e)) from None
        if self.ssl is None:
            self.sock = s
            return
        try:
            self.sock = self.ssl.wrap_socket(s, server_hostname=self.server_hostname)
        except Exception as e:  # SSLError, ValueError (CPython), OSError (mbedtls): same fault
            self._close()
            if isinstance(e, OSError) and _is_timeout(e):
                raise error(TIMEOUT, 0, "TLS handshake") from None
            raise error(TLS, 0, str(e) or type(e).__name__) from None

    def _close(self):
        for s in (self.sock, self._raw):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass
        self.sock = None
        self._raw = None

    def _live(self):
        if self.sock is None:
            raise error(CLOSED, 0, "not connected")

    def _set_timeout(self, t):
        # MicroPython's TLS socket has no settimeout: its reads go through the raw socket.
        s = self.sock if hasattr(self.sock, "settimeout") else self._raw
        s.settimeout(t)

    def _send(self, data):
        s = self.sock
        try:
            if hasattr(s, "sendall"):
                s.sendall(data)
            else:
                n = s.write(data)
                while n is not None and n < len(data):  # a short write (TLS record bound)
                    data = memoryview(data)[n:]
                    n = s.write(data)
        except OSError as e:
            self._close()
            if _is_timeout(e):
                raise error(TIMEOUT, 0, "write") from None
            raise error(CLOSED, 0, str(e)) from None

    def _recv_into(self, mv):
        s = self.sock
        if hasattr(s, "recv_into"):
            return s.recv_into(mv)
        return s.readinto(mv)

    def _read_exact(self, n, t0, budget_ms, buf=None, idle_ok=False):
        """n bytes (into buf if given: the one-byte reads reuse one buffer, no allocation).
        A timeout closes the link (an answer is overdue), except with idle_ok before any
        byte came: then None, the link kept (wait_msg with nothing to receive)."""
        if buf is None:
            buf = bytearray(n)
        mv = memoryview(buf)
        got = 0
        while got < n:
            timed_out = _elapsed(t0) > budget_ms
            k = None
            if not timed_out:
                try:
                    k = self._recv_into(mv[got:])
                except OSError as e:
                    if not (_is_timeout(e) or _would_block(e)):
                        self._close()
                        raise error(CLOSED, 0, str(e)) from None
                    timed_out = True
            if timed_out or k is None:  # MicroPython: a timed-out read may return None
                if idle_ok and got == 0:
                    return None
                self._close()
                raise error(TIMEOUT, 0, "no answer in %s s" % self.timeout_s)
            if k == 0:
                self._close()
                raise error(CLOSED, 0, "connection closed by the other end")
            got += k
        return buf

    def _read_body(self, t0, budget_ms):
        n = 0
        shift = 0
        while True:
            b = self._read_exact(1, t0, budget_ms, self._one)[0]
            n |= (b & 0x7F) << shift
            if not b & 0x80:
                break
            shift += 7
            if shift > 21:
                self._close()
                raise error(PROTOCOL, 0, "bad remaining length")
        if n > MAX_INCOMING:
            self._close()
            raise error(PROTOCOL, 0, "packet of %d bytes" % n)
        return self._read_exact(n, t0, budget_ms) if n else b""

    def _read_packet(self, budget_ms, only=0):
        """(first byte, body) of the next packet. The first byte is checked before the
        length is trusted: a web server's "HTTP/1.1 400" is not read as a 84-byte packet."""
        t0 = _ms()
        first = self._read_exact(1, t0, budget_ms, self._one)[0]
        if (only and first != only) or not (first & 0xF0 == PUBLISH or first in ANSWERS):
            self._close()
            raise error(PROTOCOL, 0, "first byte 0x%02x" % first)
        return first, self._read_body(t0, budget_ms)

    def _poll_byte(self):
        """The next byte if one is there, else None, without waiting; the socket gets its
        timeout back whatever happens (umqtt.simple left it blocking for good)."""
        buf = self._one
        try:
            self.sock.setblocking(False)
            try:
                k = self._recv_into(memoryview(buf))
            finally:
                if self.sock is not None:
                    self._set_timeout(self.timeout_s)
        except OSError as e:
            if _would_block(e):
                return None
            self._close()
            raise error(CLOSED, 0, str(e)) from None
        if k is None:
            return None
        if k == 0:
            self._close()
            raise error(CLOSED, 0, "connection closed by the other end")
        return buf[0]

    # -- incoming packets -----------------------------------------------------------------
    def _handle(self, first, body):
        """Deal with a packet nobody is waiting for; returns its type."""
        kind = first & 0xF0
        if kind == PUBLISH:
            topic, msg, qos, pid = parse_publish(first, body)
            if qos == 2:
                self._close()
                raise error(PROTOCOL, 0, "QoS 2 PUBLISH")
            if qos == 1:
                self._send(bytes((PUBACK, 2, pid >> 8, pid & 0xFF)))
            if self.cb is not None:
                self.cb(topic, msg)
            return PUBLISH
        if first in (PUBACK, SUBACK) or (first == PINGRESP and len(body) == 0):
            return kind  # a late answer to a wait that already gave up: harmless
        self._close()
        raise error(PROTOCOL, 0, "unexpected packet 0x%02x" % first)

    def _wait_for(self, kind, pid):
        """Read packets until the answer `kind` for `pid` arrives, within the timeout;
        returns SUBACK's granted QoS (else 0)."""
        t0 = _ms()
        budget = self.timeout_s * 1000
        while True:
            first, body = self._read_packet(budget - _elapsed(t0))
            if first == kind and kind == PINGRESP:
                if len(body):
                    break
                return 0
            if first == kind and len(body) >= 2 and (body[0] << 8 | body[1]) == pid:
                if kind == PUBACK and len(body) == 2:
                    return 0
                if kind == SUBACK and len(body) == 3:
                    return body[2]
                break
            self._handle(first, body)
        self._close()
        raise error(PROTOCOL, 0, "malformed answer 0x%02x" % first)
