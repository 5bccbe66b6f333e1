"""The embedded MQTT broker (amqtt, pure Python) that the demo starts when none is configured.

For the demo only: it speaks MQTT 3.1.1 and has no shared subscriptions. Production uses
Mosquitto (see docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def pick_port(host: str, preferred: int) -> int:
    if preferred and port_is_free(host, preferred):
        return preferred
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class EmbeddedBroker:
    """amqtt running in its own thread and event loop."""

    def __init__(self, host: str = "127.0.0.1", port: int = 1883):
        self.host = host
        self.port = pick_port(host, port)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None

    def start(self, timeout_s: float = 10.0) -> EmbeddedBroker:
        # amqtt logs every connection at INFO: keep the demo's console readable.
        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(logging.WARNING)
        self._thread = threading.Thread(target=self._run, name="amqtt", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout_s) or self._error:
            raise RuntimeError(f"Le broker MQTT intégré n'a pas démarré sur "
                               f"{self.host}:{self.port} ({self._error}). Libérez le port ou "
                               "indiquez un broker avec CITIZENWATT_MQTT__HOST.")
        return self

    def _run(self) -> None:
        from amqtt.broker import Broker

        self._loop = asyncio.new_event_loop()

        async def main():
            self._stop = asyncio.Event()
            broker = Broker({
                "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
                "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin":
                            {"allow_anonymous": True}},
            })
            try:
                await broker.start()
            except BaseException as e:  # port taken between pick and bind, for instance
                self._error = e
                self._started.set()
                return
            self._started.set()
            await self._stop.wait()
            await broker.shutdown()

        self._loop.run_until_complete(main())
        self._loop.close()

    def stop(self, timeout_s: float = 10.0) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout_s)
