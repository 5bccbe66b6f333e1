"""Small socket servers that misbehave the way a broker can: silent, closing before
CONNACK, answering something that is not MQTT, or answering CONNACK and then nothing.
They listen on loopback, on a free port, each connection in its own thread."""

from __future__ import annotations

import socket
import threading

SILENT = "silent"              # accepts, reads, never answers
CLOSE = "close"                # reads the CONNECT, closes
HTTP = "http"                  # answers like a web server, closes
MUTE_AFTER_CONNACK = "mute"    # CONNACK 0, then reads and never answers again
QUIET_AT_PING = "quiet-at-ping"  # a broker (CONNACK, PUBACK, SUBACK, the read-back's ping)
                                 # until the first keepalive PINGREQ of a connection, then
                                 # nothing more on it: a half-open link


class FakeBroker:
    def __init__(self, mode: str):
        self.mode = mode
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.host, self.port = self.sock.getsockname()
        self.connections = 0
        self.received = bytearray()  # everything clients wrote, in arrival order
        self.published: list[tuple[str, bytes]] = []  # QUIET_AT_PING: what it acknowledged
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _read_some(self, conn: socket.socket) -> bytes:
        try:
            data = conn.recv(4096)
        except OSError:
            return b""
        with self._lock:
            self.received.extend(data)
        return data

    def _read_packet(self, conn: socket.socket) -> tuple[int, bytes] | None:
        def exact(n: int) -> bytes | None:
            out = b""
            while len(out) < n:
                try:
                    chunk = conn.recv(n - len(out))
                except OSError:
                    return None
                if not chunk:
                    return None
                out += chunk
            return out

        head = exact(1)
        if head is None:
            return None
        n, shift = 0, 0
        while True:
            b = exact(1)
            if b is None:
                return None
            n |= (b[0] & 0x7F) << shift
            shift += 7
            if not b[0] & 0x80:
                break
        body = exact(n) if n else b""
        return None if body is None else (head[0], body)

    def _serve_until_ping(self, conn: socket.socket) -> None:
        quiet = False
        prev = 0
        while not self._stop.is_set():
            pkt = self._read_packet(conn)
            if pkt is None:
                return
            first, body = pkt
            if quiet:
                continue
            kind = first & 0xF0
            after_subscribe, prev = prev == 0x80, kind
            if kind == 0x80:
                conn.sendall(bytes((0x90, 3)) + body[:2] + b"\x01")  # SUBACK, QoS 1 granted
            elif kind == 0xC0 and after_subscribe:
                # The ping right after the SUBSCRIBE is the meter's read-back of its retained
                # counters at boot (none kept here): answered; the link goes quiet later.
                conn.sendall(bytes((0xD0, 0)))
            elif kind == 0x10:
                conn.sendall(bytes((0x20, 2, 0, 0)))
            elif kind == 0x30:
                n = body[0] << 8 | body[1]
                topic = body[2:2 + n].decode()
                i = 2 + n
                if first & 0x06:
                    pid = body[i:i + 2]
                    i += 2
                    with self._lock:
                        self.published.append((topic, bytes(body[i:])))
                    conn.sendall(bytes((0x40, 2)) + pid)
            elif kind == 0xC0:
                quiet = True
            elif kind == 0xE0:
                return

    def _serve(self, conn: socket.socket) -> None:
        if self.mode == QUIET_AT_PING:
            try:
                self._serve_until_ping(conn)
            except OSError:
                pass
            return
        first = self._read_some(conn)
        try:
            if self.mode == CLOSE:
                conn.close()
                return
            if self.mode == HTTP:
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                conn.close()
                return
            if self.mode == MUTE_AFTER_CONNACK and first:
                conn.sendall(bytes((0x20, 2, 0, 0)))
        except OSError:
            return
        while not self._stop.is_set() and self._read_some(conn):
            pass

    def close(self) -> None:
        self._stop.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() of the thread
        except OSError:
            pass
        self.sock.close()
        with self._lock:
            for c in self._conns:
                try:
                    c.close()
                except OSError:
                    pass
