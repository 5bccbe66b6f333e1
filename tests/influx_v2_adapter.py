"""TEST-ONLY: gives Debian's InfluxDB 1.6.7 the /api/v2/write endpoint of InfluxDB 1.8+.

InfluxDB 1.8 serves /api/v2/write by mapping bucket "database/retention_policy" to the v1
database and retention policy and token "username:password" to v1 credentials. 1.6.7 has
only /write, so this small proxy does that mapping in front of it and passes /query and
/ping through unchanged. It exists so the tests and the benchmark run influxdb-client's
real WriteApi against a real storage engine; production talks to InfluxDB 1.8+, 2.x or 3.x
directly.
"""

from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

V2_TO_V1_PRECISION = {"ns": "n", "us": "u", "ms": "ms", "s": "s"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as influxdb-client's urllib3 pool expects
    server: InfluxV2Adapter

    def log_message(self, *args) -> None:  # quiet
        pass

    def _upstream(self) -> http.client.HTTPConnection:
        local = self.server.local
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.server.upstream_host,
                                              self.server.upstream_port, timeout=30)
            local.conn = conn
        return conn

    def _reply(self, status: int, body: bytes = b"", ctype: str = "application/json") -> None:
        self.send_response(status)
        if body:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _forward(self, method: str, path: str, body: bytes | None, headers: dict) -> None:
        for attempt in (1, 2):  # a kept-alive upstream connection may have been closed
            conn = self._upstream()
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                break
            except (ConnectionError, http.client.HTTPException, OSError) as e:
                conn.close()
                self.server.local.conn = None
                if attempt == 2:
                    msg = json.dumps({"code": "unavailable",
                                      "message": f"influxd unreachable: {e}"}).encode()
                    self._reply(503, msg)
                    return
        self.server.requests += 1
        self._reply(resp.status, data, resp.getheader("Content-Type") or "application/json")

    def _auth_params(self) -> dict:
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Token ") and ":" in auth[6:]:
            user, _, password = auth[6:].partition(":")
            return {"u": user, "p": password}
        return {}

    def do_POST(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if url.path == "/api/v2/write":
            q = dict(urllib.parse.parse_qsl(url.query))
            db, _, rp = q.get("bucket", "").partition("/")
            if not db:
                self._reply(400, b'{"code":"invalid","message":"bucket is required"}')
                return
            params = {"db": db, "precision": V2_TO_V1_PRECISION.get(q.get("precision", "ns"), "n")}
            if rp:
                params["rp"] = rp
            params.update(self._auth_params())
            headers = {"Content-Type": "text/plain; charset=utf-8"}
            if self.headers.get("Content-Encoding"):
                headers["Content-Encoding"] = self.headers["Content-Encoding"]
            self.server.points += body.count(b"\n") + 1 if body else 0
            self._forward("POST", "/write?" + urllib.parse.urlencode(params), body, headers)
        else:
            self._forward("POST", self.path, body,
                          {"Content-Type": self.headers.get("Content-Type", "text/plain")})

    def do_GET(self) -> None:
        self._forward("GET", self.path, None, {})


class InfluxV2Adapter(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream_host: str, upstream_port: int, host: str = "127.0.0.1",
                 port: int = 0):
        super().__init__((host, port), _Handler)
        self.upstream_host, self.upstream_port = upstream_host, upstream_port
        self.local = threading.local()
        self.requests = 0
        self.points = 0
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> InfluxV2Adapter:
        self._thread = threading.Thread(target=self.serve_forever, name="influx-v2-adapter",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def main() -> None:
    """Run the adapter alone: python -m tests.influx_v2_adapter UPSTREAM_PORT [PORT]."""
    import sys

    adapter = InfluxV2Adapter("127.0.0.1", int(sys.argv[1]),
                              port=int(sys.argv[2]) if len(sys.argv) > 2 else 0)
    print(adapter.url, flush=True)
    adapter.serve_forever()


if __name__ == "__main__":
    main()
