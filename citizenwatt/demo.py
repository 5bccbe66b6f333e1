"""`citizenwatt demo`: the whole system on one machine.

Simulated meters (the real firmware code on host adapters) -> MQTT (an embedded amqtt
broker unless one is configured) -> collector -> the configured store (embedded SQLite by
default) -> API and household page.
Everything runs in this process; Ctrl-C stops it all, and the data directory keeps the
readings and the meters' counters for the next run.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from rich.console import Console

from citizenwatt.config import Settings
from citizenwatt.errors import DemoError
from citizenwatt.i18n import N_, _, format_number

log = logging.getLogger("citizenwatt.demo")


@dataclass
class Demo:
    settings: Settings
    meters: int = 3
    interval_s: float = 5.0
    speed: float = 1.0
    channels: int = 2
    history: bool = True  # on a fresh data directory, replay the day so far
    console: Console = field(default_factory=Console)

    def __post_init__(self):
        self.broker = None
        self.store = None
        self.collector = None
        self.server = None
        self.server_thread = None
        self.url_file = None
        self.sim_meters = []
        self.stopped = threading.Event()
        self._starters: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._stopping = False

    @property
    def meter_ids(self) -> list[str]:
        return [f"demo-{i + 1:02d}" for i in range(self.meters)]

    @property
    def base_url(self) -> str:
        from citizenwatt.api.paper import base_url

        # this machine's address and the port the demo got, whatever public_url says
        return base_url(self.settings.api.model_copy(update={"port": self.api_port, "public_url": None}))

    def start(self) -> None:
        import uvicorn

        from citizenwatt.api.app import create_app
        from citizenwatt.api.paper import record_running_demo
        from citizenwatt.api.security import install_log_filter
        from citizenwatt.broker import EmbeddedBroker, pick_port
        from citizenwatt.collector.service import CollectorError, build_collector
        from citizenwatt.host.simulator import SimulatedMeter
        from citizenwatt.store.backends import StoreUnavailable, open_store

        s = self.settings
        if s.api.open_meters is None:
            # The printed meter address keeps working once households are registered
            # (`citizenwatt admin household`): the demo is a lab on this machine.
            s = s.model_copy(update={"api": s.api.model_copy(update={"open_meters": True})})
        try:
            self.store = open_store(s)
        except StoreUnavailable as e:
            raise DemoError.wrap(e) from None
        if not s.mqtt.host:
            broker = EmbeddedBroker("127.0.0.1", s.mqtt.port)
            try:
                self.broker = broker.start()
            except RuntimeError as e:
                raise DemoError(str(e)) from None
            # the collector the settings describe, on the embedded broker
            mqtt = s.mqtt.model_copy(update={"host": self.broker.host, "port": self.broker.port,
                                             "protocol": "v311"})
            s = s.model_copy(update={"mqtt": mqtt})
        self.mqtt = (s.mqtt.host, s.mqtt.port)

        self.collector = build_collector(s, self.store)
        try:
            self.collector.start()
        except CollectorError as e:
            self.collector = None
            raise DemoError.wrap(e, N_("Or remove CITIZENWATT_MQTT__HOST: the demo then "
                                       "starts its own broker.")) from None

        api = s.api
        self.api_port = pick_port(api.host, api.port) if api.port else pick_port(api.host, 0)
        app = create_app(self.store, s)
        config = uvicorn.Config(app, host=api.host, port=self.api_port, log_level="warning",
                                lifespan="on")
        install_log_filter()  # no household link in any log line
        self.server = uvicorn.Server(config)
        self.server.install_signal_handlers = lambda: None  # we handle Ctrl-C ourselves
        self.server_thread = threading.Thread(target=self.server.run, name="api", daemon=True)
        self.server_thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started and time.monotonic() < deadline:
            if not self.server_thread.is_alive():
                raise DemoError(N_("The API could not start on {host}:{port}."),
                                N_("The port may be taken: try --port 8001."),
                                host=api.host, port=self.api_port)
            time.sleep(0.05)
        self.url_file = record_running_demo(self.settings.data_dir, self.base_url)

        for i, meter_id in enumerate(self.meter_ids):
            t = threading.Thread(target=self._run_meter, args=(SimulatedMeter, i, meter_id),
                                 name=f"start-{meter_id}", daemon=True)
            t.start()
            self._starters.append(t)

    def _run_meter(self, SimulatedMeter, i: int, meter_id: str) -> None:
        """Start one simulated meter; on a fresh data directory, first replay its day so far."""
        host, port = self.mqtt
        state_dir = self.settings.data_dir / "meters" / meter_id
        if self.history and not (state_dir / "config.json").exists():
            self._backfill(SimulatedMeter, i, meter_id, state_dir)
        with self._lock:
            if self.stopped.is_set() or self._stopping:
                return
            m = SimulatedMeter(meter_id=meter_id, host=host, port=port, state_dir=state_dir,
                               seed=i + 1, interval_s=self.interval_s, speed=self.speed,
                               channels=self.channels)
            m.clock.keep_behind_present(1.0, stop=False)
            self.sim_meters.append(m)
            m.start()

    def _backfill(self, SimulatedMeter, i: int, meter_id: str, state_dir) -> None:
        """Run the meter fast from local midnight to now, one reading a minute, so that the
        household page has a whole day to show. The readings travel the normal path."""
        from zoneinfo import ZoneInfo

        now = time.time()
        # the day the meter pages show, in the [api] time zone
        midnight = datetime.fromtimestamp(now, ZoneInfo(self.settings.api.timezone)).replace(
            hour=0, minute=0, second=0, microsecond=0).timestamp()
        start = min(midnight, now - 3600)
        host, port = self.mqtt
        with self._lock:
            if self._stopping:
                return
            m = SimulatedMeter(meter_id=meter_id, host=host, port=port, state_dir=state_dir,
                               seed=i + 1, interval_s=60.0, speed=(now - start) / 8,
                               channels=self.channels, start_utc=start,
                               extra_config={"measure_period_s": 60.0})
            m.clock.keep_behind_present(5.0, stop=True)
            self.sim_meters.append(m)
            m.start()
        while not m.clock.stopping and not self._stopping and m.error is None:
            time.sleep(0.05)
        m.stop(timeout_s=10)
        with self._lock:
            self.sim_meters.remove(m)

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
        for t in self._starters:
            t.join(15)
        for m in list(self.sim_meters):
            try:
                m.stop(timeout_s=10)
            except Exception:
                log.exception(_("stopping the simulated meter {meter}", meter=m))
        if self.collector is not None:
            self.collector.wait_idle(5)
            self.collector.stop()
        if self.url_file is not None:
            self.url_file.unlink(missing_ok=True)
        if self.server is not None:
            self.server.should_exit = True
            self.server_thread.join(10)
        if self.store is not None:
            self.store.close()
        if self.broker is not None:
            self.broker.stop()
        self.stopped.set()

    def run_forever(self) -> None:
        """Start, print where to look, and run until Ctrl-C (or SIGTERM)."""
        stop = threading.Event()

        def on_signal(signum, frame):
            stop.set()

        old = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            with self.console.status(_("Starting: broker, collector, API, simulated meters…")):
                try:
                    self.start()
                except BaseException:
                    self.stop()  # what did start: the embedded broker, the store, the API
                    raise
            self.print_banner()
            while not stop.wait(0.5):
                pass
            with self.console.status(_("Stopping cleanly…")):
                self.stop()
            self.console.print("[green]" + _("Stopped. The readings are kept in {path}/ for next "
                                             "time.", path=self.settings.data_dir) + "[/]")
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)

    def print_banner(self) -> None:
        c = self.console
        first = self.meter_ids[0]
        c.print()
        c.print("[bold green]" + _("Citizen Watt is running.") + "[/] " + _("Open the household's page:"))
        c.print(f"  [bold]{self.base_url}/m/{first}[/]")
        c.print("  " + _("API: {url}  ·  documentation: {docs}",
                         url=f"{self.base_url}/api/v1/meters/{first}/live", docs=f"{self.base_url}/docs"))
        host, port = self.mqtt
        kind = _("built-in (amqtt)") if self.broker else _("configured")
        c.print("  " + _("MQTT broker, {kind}: {address}  ·  meters: {meters}  ·  one reading every "
                         "{seconds} s", kind=kind, address=f"{host}:{port}",
                         meters=", ".join(self.meter_ids),
                         seconds=format_number(self.interval_s,
                                               0 if float(self.interval_s).is_integer() else 1)))
        c.print("  " + _("Data: {path}", path=self.settings.data_dir.resolve()))
        c.print(_("Ctrl-C to stop everything."))
