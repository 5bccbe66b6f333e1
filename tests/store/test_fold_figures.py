"""Every household figure the API shows is the same before and after the store folds a year
of readings down its tiers: hours, days, weeks, months, the year, savings, comparison,
monthly summaries, the live power and the household page (the store only moves readings;
the hourly energy the figures come from is kept for ever)."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi.testclient import TestClient

from citizenwatt.api.app import create_app
from citizenwatt.store.port import ChannelReading
from citizenwatt.store.sqlite import SqliteStore
from citizenwatt.store.tiers import DAY_S, Tiers
from tests.api.conftest import Clock
from tests.api.helpers import PARIS, history, local_ts, register_neighbours

NOW = local_ts(2026, 11, 18, 15, 7)
DAYS = 365
STEP_S = 900
METERS = {"meter-a": 1.0, "meter-b": 1.3, "meter-c": 0.8, "meter-d": 1.1, "meter-e": 0.9}


def year_of_readings(store) -> None:
    rows = []
    for m, scale in METERS.items():
        for seq, (t, p, wh) in enumerate(history(NOW, scale, DAYS, STEP_S), start=1):
            # a second clamp on the water heater: a third of the power
            rows.append(ChannelReading(m, 0, 1, seq, t, True, STEP_S, round(wh, 3), round(p, 2),
                                       round(p / 230, 3), True))
            rows.append(ChannelReading(m, 1, 1, seq, t, True, STEP_S, round(wh / 3, 3),
                                       round(p / 3, 2), round(p / 690, 3), True))
    for i in range(0, len(rows), 20_000):
        store.write(rows[i:i + 20_000], NOW)


def every_figure(client: TestClient, hid: int, token: str) -> dict:
    today = datetime.fromtimestamp(NOW, PARIS).date()
    auth = {"Authorization": f"Bearer {token}"}
    year_ago = today - timedelta(days=DAYS - 1)
    asks = {
        "hours": f"energy?resolution=hour&start={today - timedelta(days=6)}&end={today}",
        "hours_old": f"energy?resolution=hour&start={year_ago}&end={year_ago + timedelta(days=30)}",
        "days": f"energy?resolution=day&start={year_ago}&end={today}",
        "weeks": f"energy?resolution=week&start={year_ago}&end={today}",
        "months": f"energy?resolution=month&start={year_ago}&end={today}",
        "sub_days": f"energy?resolution=day&start={year_ago}&end={today}&channel=1",
        "days_csv": f"energy.csv?resolution=day&start={year_ago}&end={today}",
        "savings": "savings",
        "savings_year": f"savings?start={year_ago + timedelta(days=200)}&end={today}",
        "comparison": "comparison",
        "live": "live",
        "month": "month",
        "month_old": f"month?month={(today - timedelta(days=300)).strftime('%Y-%m')}",
    }
    out = {}
    for name, path in asks.items():
        r = client.get(f"/api/v1/households/{hid}/{path}", headers=auth)
        assert r.status_code == 200, (name, r.text)
        out[name] = r.text
    page = client.get(f"/h/{token}")
    assert page.status_code == 200
    out["page"] = page.text
    return out


def test_every_household_figure_is_the_same_after_folding_a_year(tmp_path):
    store = SqliteStore(tmp_path / "readings.sqlite")
    year_of_readings(store)
    clock = Clock(NOW)
    app = create_app(store, clock=clock)
    today = datetime.fromtimestamp(NOW, PARIS).date()
    links, _ = register_neighbours(app, list(METERS), today, DAYS)
    with TestClient(app) as client:
        ids = household_ids(app)
        before = {m: every_figure(client, ids[m], links[m]) for m in ("meter-a", "meter-b")}
        days = client.get(f"/api/v1/households/{ids['meter-a']}/energy?resolution=day&start="
                          f"{today - timedelta(days=DAYS - 1)}&end={today}",
                          headers={"Authorization": f"Bearer {links['meter-a']}"}).json()
        assert sum(b["energy_wh"] is not None for b in days["buckets"]) == DAYS
        # default tiers: 90 days raw, two years of aggregates
        report = store.fold(NOW, Tiers())
        assert report.aggregated > 0 and report.packed > 0
        assert {m: every_figure(client, ids[m], links[m]) for m in before} == before
        # the most a deployment may fold: one day raw, no aggregates kept
        report = store.fold(NOW, Tiers(raw_s=DAY_S, aggregate_keep_s=0, hot_s=3600))
        assert report.expired > 0
        assert store.readings("meter-a", 0, NOW - 2 * DAY_S) == []
        assert {m: every_figure(client, ids[m], links[m]) for m in before} == before
    store.close()


def household_ids(app) -> dict[str, int]:
    from citizenwatt.api.models import MeterAssignment

    with app.state.sessionmaker() as db:
        return {a.meter_id: a.household_id for a in db.query(MeterAssignment)}


def test_the_year_has_what_the_figures_need():
    """The data set above spans the year the figures ask for (a guard on the test itself)."""
    first = history(NOW, 1.0, DAYS, STEP_S)[0][0]
    today = datetime.fromtimestamp(NOW, PARIS).date()
    assert datetime.fromtimestamp(first, PARIS).date() <= today - timedelta(days=DAYS - 1)
