"""Household endpoints on a real store and database: energy, moves, channels, CSV,
savings, comparison, export, deletion, links."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest

from citizenwatt.api import admin

from .helpers import constant_readings, local_ts
from .world import NOW


def get(c, w, key, path, **params):
    r = c.get(f"/api/v1/households/{w.hh(key)}{path}", params=params, headers=w.bearer(w.link(key)))
    assert r.status_code == 200, r.text
    return r


def test_household_record_and_live(world, wclient):
    rec = get(wclient, world, "A", "").json()
    assert rec["name"] == "Foyer A" and rec["timezone"] == "Europe/Paris"
    assert [m["meter_id"] for m in rec["meters"]] == ["meter-a"]
    live = get(wclient, world, "A", "/live").json()
    assert live["power_w"] == 400.0 and not live["stale"]
    assert live["age_s"] == pytest.approx(NOW - live["ts_utc"]) and live["age_s"] < 600


def test_daily_energy_over_the_dst_month(world, wclient):
    body = get(wclient, world, "A", "/energy", resolution="day", start="2026-03-01", end="2026-03-31").json()
    days = body["buckets"]
    assert [d["energy_wh"] for d in days[:14]] == [pytest.approx(12000.0)] * 14
    assert days[28]["hours"] == 23 and days[28]["energy_wh"] == pytest.approx(400.0 * 23)
    assert days[30]["complete"] is False  # today, still running
    month = get(
        wclient, world, "A", "/energy", resolution="month", start="2026-03-01", end="2026-03-31"
    ).json()
    assert month["total"]["energy_wh"] == pytest.approx(body["total"]["energy_wh"])
    week = get(wclient, world, "A", "/energy", resolution="week", start="2026-03-23", end="2026-03-29").json()
    assert week["buckets"][0]["hours"] == 167
    assert week["total"]["energy_wh"] == pytest.approx(400.0 * 167)


def test_csv_export_shows_gaps_as_empty_cells(world, wclient):
    r = get(wclient, world, "A", "/energy.csv", resolution="day", start="2026-02-27", end="2026-03-02",
            lang="en")
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["Energy (kWh)"] for row in rows] == ["", "", "12.000", "12.000"]
    assert rows[0]["Start (local time)"] == "2026-02-27T00:00:00+01:00" and rows[2]["Complete"] == "yes"


def test_a_meter_moving_to_another_household(world, wclient):
    # meter-b moves from household B to household A on 20 March: A gets both meters' energy
    # from that day, B keeps only what meter-b measured before.
    with world.app.state.sessionmaker() as db:
        from citizenwatt.api.models import Household

        a = db.get(Household, world.hh("A"))
        admin.assign_meter(db, a, "meter-b", date(2026, 3, 20))
        db.commit()
    a_days = get(
        wclient, world, "A", "/energy", resolution="day", start="2026-03-19", end="2026-03-20"
    ).json()["buckets"]
    b_days = get(
        wclient, world, "B", "/energy", resolution="day", start="2026-03-19", end="2026-03-20"
    ).json()["buckets"]
    assert a_days[0]["energy_wh"] == pytest.approx(9600.0)
    assert a_days[1]["energy_wh"] == pytest.approx(9600.0 + 7200.0)
    assert b_days[0]["energy_wh"] == pytest.approx(7200.0) and b_days[1]["energy_wh"] is None
    rec = get(wclient, world, "B", "").json()
    assert rec["meters"][0]["valid_to"] == "2026-03-20"


def test_sub_channel_is_labelled_and_not_counted_twice(world, wclient):
    t0 = local_ts(2026, 3, 30)
    world.store.write(constant_readings("meter-a", t0, t0 + 3600, 2000.0, 600, channel=1), NOW)
    leader = world.bearer(world.staff_tokens["leader1"])
    r = wclient.put(
        "/api/v1/meters/meter-a/channels/1", json={"label": "Chauffe-eau", "role": "sub"}, headers=leader
    )
    assert r.status_code == 200, r.text
    total = get(wclient, world, "A", "/energy", start="2026-03-30").json()["buckets"][0]["energy_wh"]
    heater = get(wclient, world, "A", "/energy", start="2026-03-30", channel=1).json()["buckets"][0][
        "energy_wh"
    ]
    assert total == pytest.approx(400.0) and heater == pytest.approx(2000.0)
    live = get(wclient, world, "A", "/live").json()
    assert {c["label"] for c in live["channels"]} == {None, "Chauffe-eau"}


def test_savings_in_kwh_euros_and_co2_with_the_method(world, wclient):
    s = get(wclient, world, "A", "/savings", start="2026-03-15", end="2026-03-30").json()
    # Baseline: 14 days of 12 kWh. Period: 16 complete days at 400 W, one (29 March) of
    # 23 hours, where 23/24 of a baseline day is expected.
    actual = 15 * 9.6 + 9.2
    expected = 15 * 12.0 + 11.5
    assert s["status"] == "ok" and s["method"] == "mean"
    assert s["baseline_kwh_per_day"] == pytest.approx(12.0) and s["period_days"] == 16
    assert s["actual_kwh"] == pytest.approx(actual) and s["expected_kwh"] == pytest.approx(expected)
    assert s["saved_kwh"] == pytest.approx(expected - actual)
    assert s["saved_eur"] == pytest.approx((expected - actual) * 0.1952)  # base price from Aug 2025
    assert s["saved_kg_co2"] == pytest.approx((expected - actual) * 60 / 1000)
    assert "12,0 kWh par jour" in s["method_text"] and "0,1952" not in s["method_text"]
    en = wclient.get(
        f"/api/v1/households/{world.hh('A')}/savings?start=2026-03-15&end=2026-03-30&lang=en",
        headers=world.bearer(world.link("A")),
    ).json()
    assert "you used on average 12.0 kWh a day" in en["method_text"]


def test_peak_offpeak_savings_reward_shifting_to_offpeak_hours(world, wclient):
    leader = world.bearer(world.staff_tokens["leader1"])
    r = wclient.patch(f"/api/v1/households/{world.hh('B')}", json={"tariff_option": "hphc"}, headers=leader)
    assert r.status_code == 200, r.text
    s = get(wclient, world, "B", "/savings", start="2026-03-15", end="2026-03-30").json()
    # Same power all day before and after: 0 kWh saved. In euros, only 29 March differs: its
    # missing hour (02:00) is an off-peak one, so 7 of its 23 hours are off-peak, not 1/3.
    assert s["saved_kwh"] == pytest.approx(0.0, abs=1e-9)
    hp, hc = 0.2081, 0.1635
    day29 = 6.9 * (hc / 3 + 2 * hp / 3) - (2.1 * hc + 4.8 * hp)
    assert s["saved_eur"] == pytest.approx(day29, abs=1e-9) and day29 < 0
    assert "Heures pleines / heures creuses" in s["method_text"]


def test_savings_without_baseline_say_what_to_do(world, wclient):
    leader = world.bearer(world.staff_tokens["leader1"])
    wclient.patch(
        f"/api/v1/households/{world.hh('A')}",
        json={"baseline_start": None, "baseline_end": None},
        headers=leader,
    )
    s = get(wclient, world, "A", "/savings").json()
    assert s["status"] == "no_baseline" and s["saved_kwh"] is None
    # Said to the family: what will happen, not an instruction for the workshop leader.
    assert "La vôtre n'est pas encore choisie" in s["method_text"]
    assert "demandez" not in s["method_text"]


def test_degree_day_normalisation_when_temperatures_are_given(world, wclient):
    leader = world.bearer(world.staff_tokens["leader1"])
    temps = [{"day": date(2026, 3, d).isoformat(), "mean_temp_c": 18.0 - d % 7} for d in range(1, 31)]
    r = wclient.put(f"/api/v1/deployments/{world.deployments['d1']}/temperatures", json=temps, headers=leader)
    assert r.status_code == 200 and r.json()["days"] == 30
    s = get(wclient, world, "A", "/savings", start="2026-03-15", end="2026-03-30").json()
    # The baseline does not depend on temperature (flat 12 kWh): the fit's slope is 0, so the
    # plain mean is kept and said.
    assert s["method"] == "mean"


def test_comparison_needs_five_similar_households(world, wclient):
    c = get(wclient, world, "A", "/comparison", start="2026-03-15", end="2026-03-30").json()
    assert c["status"] == "group_too_small" and c["group_size"] == 1 and c["median_kwh_per_day"] is None
    with world.app.state.sessionmaker() as db:
        from citizenwatt.api.models import Deployment

        dep = db.get(Deployment, world.deployments["d1"])
        for i, watts in enumerate((100.0, 200.0, 250.0, 600.0)):
            hh, _ = admin.create_household(db, dep, f"Voisin {i}", profile="appart-gaz")
            meter = f"voisin-{i}"
            admin.register_meter(db, dep, meter)
            admin.assign_meter(db, hh, meter, date(2026, 3, 1))
            world.store.write(constant_readings(meter, local_ts(2026, 3, 1), NOW - 60, watts, 1800), NOW)
        db.commit()
    c = get(wclient, world, "A", "/comparison", start="2026-03-15", end="2026-03-30").json()
    # Peers: B 300 W and 100, 200, 250, 600 W -> median 250 W = 6 kWh a day.
    assert c["status"] == "ok" and c["group_size"] == 5
    assert c["median_kwh_per_day"] == pytest.approx(6.0)
    assert c["own_kwh_per_day"] == pytest.approx(9.6)
    assert "Voisin" not in json.dumps(c)

    # The median of five is one neighbour's figure (250 W): it is never shown for a single
    # day (the period widens to a week) nor to better than half a kWh a day.
    with world.app.state.sessionmaker() as db:
        from citizenwatt.api.models import Deployment

        dep = db.get(Deployment, world.deployments["d1"])
        for i, watts in enumerate((140.0, 160.0, 170.0, 180.0), start=4):
            hh, _ = admin.create_household(db, dep, f"Voisin {i}", profile="appart-gaz")
            meter = f"voisin-{i}"
            admin.register_meter(db, dep, meter)
            admin.assign_meter(db, hh, meter, date(2026, 3, 1))
            world.store.write(constant_readings(meter, local_ts(2026, 3, 1), NOW - 60, watts, 1800), NOW)
        db.commit()
    c = get(wclient, world, "A", "/comparison", start="2026-03-20", end="2026-03-20").json()
    # peers 100 140 160 170 180 200 250 300 600 W: median 180 W = 4.32 kWh a day -> 4.5
    assert c["status"] == "ok" and c["group_size"] == 9
    assert c["median_kwh_per_day"] == 4.5
    assert c["difference_pct"] == round(100 * (c["own_kwh_per_day"] / 4.5 - 1))


def test_export_holds_everything_about_the_household(world, wclient):
    r = get(wclient, world, "A", "/export")
    doc = r.json()
    assert doc["household"]["name"] == "Foyer A" and doc["meters"][0]["meter_id"] == "meter-a"
    total = sum(h["energy_wh"] for h in doc["meters"][0]["energy_per_utc_hour"])
    month = get(wclient, world, "A", "/energy", resolution="month", start="2026-03-01").json()
    assert total == pytest.approx(month["total"]["energy_wh"]) and total > 12000.0 * 14


def test_household_deletes_itself_and_its_link_stops_working(world, wclient, monkeypatch):
    calls = []
    monkeypatch.setattr(world.store, "delete", lambda m, s, e: calls.append((m, s, e)), raising=False)
    url = f"/api/v1/households/{world.hh('A')}"
    h = world.bearer(world.link("A"))
    r = wclient.delete(url, params={"confirm": "wrong"}, headers=h)
    assert r.status_code == 422 and "Foyer A" in r.json()["detail"]
    r = wclient.delete(url, params={"confirm": "Foyer A"}, headers=h)
    assert r.status_code == 200 and r.json() == {
        "household_id": world.hh("A"),
        "deleted": True,
        "readings_deleted": True,
    }
    assert calls and calls[0][0] == "meter-a" and calls[0][1] == local_ts(2026, 3, 1)
    assert wclient.get(url, headers=h).status_code == 401
    assert wclient.get(f"/h/{world.link('A')}").status_code == 404


def test_reissued_link_replaces_the_old_one_and_revoke_closes_all(world, wclient):
    leader = world.bearer(world.staff_tokens["leader1"])
    old = world.link("A")
    r = wclient.post(f"/api/v1/households/{world.hh('A')}/link", headers=leader)
    assert r.status_code == 201
    new = r.json()["token"]
    assert r.json()["path"] == f"/h/{new}"
    assert wclient.get(f"/h/{old}").status_code == 404
    assert wclient.get(f"/h/{new}").status_code == 200
    assert wclient.delete(f"/api/v1/households/{world.hh('A')}/link", headers=leader).json()["revoked"] == 1
    assert wclient.get(f"/h/{new}").status_code == 404
    assert "(ou plus) valable" in wclient.get(f"/h/{new}").text


def test_deletion_erases_the_readings_of_the_household_period_only(world, wclient):
    # meter-b moves from B to A on 20 March; B asks for deletion: the readings of meter-b
    # before 20 March go, A's keep theirs (meter-b from 20 March, meter-a).
    with world.app.state.sessionmaker() as db:
        from citizenwatt.api.models import Household

        admin.assign_meter(db, db.get(Household, world.hh("A")), "meter-b", date(2026, 3, 20))
        db.commit()
    before = get(wclient, world, "A", "/energy", resolution="month", start="2026-03-01").json()["total"][
        "energy_wh"
    ]
    r = wclient.delete(
        f"/api/v1/households/{world.hh('B')}",
        params={"confirm": "Foyer B"},
        headers=world.bearer(world.link("B")),
    )
    assert r.json()["readings_deleted"] is True
    assert world.store.hourly("meter-b", local_ts(2026, 3, 1), local_ts(2026, 3, 20)) == []
    assert world.store.hourly("meter-b", local_ts(2026, 3, 20), local_ts(2026, 3, 21))
    after = get(wclient, world, "A", "/energy", resolution="month", start="2026-03-01").json()["total"][
        "energy_wh"
    ]
    assert after == pytest.approx(before)
