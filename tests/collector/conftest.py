from __future__ import annotations

import pytest

from tests.influx_v2_adapter import InfluxV2Adapter
from tests.services import Influxd


class InfluxService:
    """Real influxd 1.6.7 with the test-only /api/v2/write adapter in front of it."""

    def __init__(self, workdir):
        self.engine = Influxd(workdir)
        self.adapter: InfluxV2Adapter | None = None

    def start(self) -> "InfluxService":
        self.engine.start()
        self.adapter = InfluxV2Adapter(self.engine.host, self.engine.port).start()
        return self

    @property
    def url(self) -> str:  # what the collector is given: the adapter
        return self.adapter.url

    bucket = "citizenwatt/autogen"
    token = "collector:secret"  # InfluxDB 1.8's "user:password" token; auth is off here

    def count(self, where: str = "") -> int:
        res = self.engine.query(f"SELECT count(seq) FROM reading {where}")
        series = res[0].get("series")
        return series[0]["values"][0][1] if series else 0

    def seqs(self, meter: str) -> list[tuple[int, int, int]]:
        """(channel, boot, seq) of every reading point of a meter, as stored."""
        res = self.engine.query(f"SELECT channel, boot, seq FROM reading WHERE meter='{meter}'")
        series = res[0].get("series")
        return sorted((int(c), b, s) for _, c, b, s in series[0]["values"]) if series else []

    def stop(self) -> None:
        if self.adapter is not None:
            self.adapter.stop()
            self.adapter = None
        self.engine.stop()


@pytest.fixture
def influx(tmp_path):
    svc = InfluxService(tmp_path / "influxdb").start()
    yield svc
    svc.stop()
