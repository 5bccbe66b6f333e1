"""The collector's health and metrics endpoint: /metrics in Prometheus text format, /healthz.

Values are read from the running collector at scrape time; nothing is counted twice.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from citizenwatt.firmware import wire

from .guard import OVER_QUOTA, SUSPECT_KEY

# reasons the collector adds to the wire contract's (key_conflict: the store's)
COLLECTOR_REASONS = ("key_conflict", SUSPECT_KEY, OVER_QUOTA)

PREFIX = "citizenwatt_collector_"


class _CollectorMetrics:
    def __init__(self, collector):
        self.collector = collector

    def collect(self):
        c = self.collector
        m = c.metrics

        def counter(name, doc, value):
            return CounterMetricFamily(PREFIX + name, doc, value=value)

        def gauge(name, doc, value):
            return GaugeMetricFamily(PREFIX + name, doc, value=value)

        yield counter("received_messages", "MQTT messages received from the broker.", m.received)
        yield counter("processed_messages", "Messages stored or rejected, then acknowledged.",
                      m.processed)
        yield counter("stored_readings", "Readings (messages) durably stored.", m.readings_stored)
        yield counter("stored_rows", "Channel rows newly stored.", m.stored)
        yield counter("duplicate_rows", "Channel rows delivered again and stored once.",
                      m.duplicates)
        rejected = CounterMetricFamily(PREFIX + "rejected_messages",
                                       "Messages rejected, by reason (kept as dead letters).",
                                       labels=["reason"])
        for reason in sorted(set(wire.REASONS) | set(COLLECTOR_REASONS) | set(m.rejected)):
            rejected.add_metric([reason], m.rejected.get(reason, 0))
        yield rejected
        yield counter("over_quota_messages", "Messages dropped beyond their meter's quota "
                      "(collector.meter_burst, meter_per_minute).", m.over_quota)
        yield counter("unkept_dead_letters", "Rejections counted but not kept as dead letters "
                      "(collector.dead_letters_per_minute).", m.dead_letters_unkept)
        yield counter("store_errors", "Failed store writes (retried, not acknowledged).",
                      m.store_errors)
        yield gauge("inbox_messages", "Received, not yet stored and acknowledged.",
                    max(0, m.received - m.processed))
        yield gauge("lag_seconds", "Arrival to durable storage, last batch.", m.last_lag_s)
        yield gauge("mqtt_connected", "1 while connected to the broker.", int(m.connected))
        yield gauge("disk_full", "1 while the store's disk is full (nothing acknowledged).",
                    int(m.disk_full))
        st = c.store_status()
        if st:
            yield gauge("spool_points", "Points waiting in the local spool for InfluxDB.",
                        st["spool_depth"])
            yield gauge("spool_oldest_age_seconds", "Age of the oldest point in the spool.",
                        st["spool_oldest_age_s"])
            yield counter("shipped_points", "Points InfluxDB accepted.", st["shipped_points"])
            yield counter("ship_errors", "Failed writes to InfluxDB (retried).", st["ship_errors"])
            yield counter("refused_points", "Points InfluxDB refused as invalid (400); kept in "
                          "the ledger, noted as influx_rejected dead letters.",
                          st["refused_points"])
            yield gauge("store_up", "1 while InfluxDB accepts writes.", int(st["store_up"]))
            yield counter("shipper_restarts", "Times the InfluxDB shipper process stopped and "
                          "was started again.", st.get("shipper_restarts", 0))


class MetricsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, collector, host: str = "127.0.0.1", port: int = 9108):
        self.collector = collector
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_CollectorMetrics(collector))
        super().__init__((host, port), _Handler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> MetricsServer:
        self._thread = threading.Thread(target=self.serve_forever, name="collector-metrics",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: MetricsServer

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            status, body = 200, generate_latest(self.server.registry)
            ctype = "text/plain; version=0.0.4; charset=utf-8"
        elif path == "/healthz":
            ok, why = self.server.collector.healthy()
            status, body, ctype = (200 if ok else 503), (why + "\n").encode(), "text/plain"
        else:
            status, body, ctype = 404, b"/metrics or /healthz\n", "text/plain"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
