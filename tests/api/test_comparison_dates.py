"""The comparison page on pinned days: the day it once failed on (2026-11-30), both DST
change days, and a few minutes after midnight on New Year's Day. Whatever the date and the
time of day, what it shows agrees with the group's readings within its roundings."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from citizenwatt.api.app import create_app
from citizenwatt.config import Settings
from citizenwatt.store.port import ChannelReading
from citizenwatt.store.sqlite import SqliteStore

from .conftest import Clock
from .helpers import PARIS, check_comparison_shown, history, local_ts, register_neighbours

DAYS = 30
# This household and five neighbours: the median neighbour uses 1.1 times as much.
METERS = {"foyer-1": 1.0, "voisin-1": 0.8, "voisin-2": 0.9, "voisin-3": 1.1, "voisin-4": 1.2,
          "voisin-5": 1.4}
PINNED = {
    # Shows "9,8 kWh" against a median of "10,5 kWh": 0.28 from 1.1 x 9.8, more than the
    # median's rounding alone allows.
    "2026-11-30": local_ts(2026, 11, 30, 10, 17),
    "spring-dst-day": local_ts(2026, 3, 29, 12, 0),
    "autumn-dst-day-late": local_ts(2026, 10, 25, 23, 50),
    "new-year-just-after-midnight": local_ts(2027, 1, 1, 0, 7),
}


def shown(html: str, element_id: str) -> str:
    return re.search(rf'id="{element_id}">([^<]*)<', html).group(1)


@pytest.mark.parametrize("now", PINNED.values(), ids=PINNED.keys())
def test_comparison_page_agrees_with_the_readings_on_any_day(tmp_path, now):
    store = SqliteStore(tmp_path / "readings.sqlite")
    rows = [ChannelReading(meter_id=meter, channel=0, boot=1, seq=i, ts_utc=t, ts_from_meter=True,
                           interval_s=1800, energy_wh=wh, power_w=p, irms_a=p / 230, apparent=True)
            for meter, scale in METERS.items()
            for i, (t, p, wh) in enumerate(history(now, scale, DAYS))]
    store.write(rows, now)
    app = create_app(store, Settings(api={"open_meters": False, "database_url": "sqlite://"}),
                     clock=Clock(now))
    today = datetime.fromtimestamp(now, PARIS).date()
    links, baseline = register_neighbours(app, list(METERS), today, DAYS)
    client = TestClient(app)
    start, end = baseline[1] + timedelta(days=1), today - timedelta(days=1)
    for query in (f"?start={start}&end={end}", ""):  # the chosen period, and the default one
        r = client.get(f"/h/{links['foyer-1']}/compare{query}")
        assert r.status_code == 200
        check_comparison_shown(shown(r.text, "own"), shown(r.text, "median"),
                               shown(r.text, "verdict"), ratio=1.1)
    # The default period is the 30 whole days before today, in the household's zone.
    assert f'name="end" value="{today - timedelta(days=1)}"' in r.text
    assert f'name="start" value="{today - timedelta(days=30)}"' in r.text
    store.close()
