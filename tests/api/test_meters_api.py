"""JSON endpoints on a real SqliteStore: energy sums, DST days, gaps, live power, bad input."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from citizenwatt.store.port import ChannelReading

from .helpers import constant_readings, local_ts


def energy(client, meter="m1", **params):
    r = client.get(f"/api/v1/meters/{meter}/energy", params=params)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("day, hours", [("2026-03-29", 23), ("2026-10-25", 25), ("2026-06-01", 24)])
def test_dst_day_sums_its_own_number_of_hours(store, client, day, hours):
    y, m, d = map(int, day.split("-"))
    t0 = local_ts(y, m, d)
    t1 = t0 + hours * 3600
    assert t1 == local_ts(
        *(date(y, m, d) + timedelta(days=1)).timetuple()[:3]
    )  # the local day really lasts `hours` hours
    store.write(constant_readings("m1", t0, t1, power_w=1000.0, step_s=60), t1)

    hourly = energy(client, resolution="hour", start=day)
    assert len(hourly["buckets"]) == hours
    assert all(b["energy_wh"] == pytest.approx(1000.0, abs=1e-6) for b in hourly["buckets"])
    assert hourly["total"]["energy_wh"] == pytest.approx(1000.0 * hours, rel=1e-9)
    assert hourly["total"]["gap_buckets"] == 0

    # The reading ending at exactly 00:00 belongs to this day: the next one holds nothing.
    prev = (date(y, m, d) - timedelta(days=1)).isoformat()
    nxt = (date(y, m, d) + timedelta(days=1)).isoformat()
    daily = energy(client, resolution="day", start=prev, end=nxt)
    assert [b["hours"] for b in daily["buckets"]] == [24, hours, 24]
    assert daily["buckets"][0]["energy_wh"] is None
    assert daily["buckets"][2]["energy_wh"] is None
    assert daily["buckets"][1]["energy_wh"] == pytest.approx(1000.0 * hours)
    assert daily["buckets"][1]["complete"] is True
    assert daily["total"]["energy_wh"] == pytest.approx(1000.0 * hours)


def test_autumn_hours_are_labelled_in_local_time_with_offsets(store, client):
    t0 = local_ts(2026, 10, 25)
    store.write(constant_readings("m1", t0, t0 + 25 * 3600, 500.0, step_s=300), t0)
    starts = [b["start"] for b in energy(client, start="2026-10-25")["buckets"]]
    assert starts[:4] == [
        "2026-10-25T00:00:00+02:00",
        "2026-10-25T01:00:00+02:00",
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:00:00+01:00",
    ]
    assert starts[-1] == "2026-10-25T23:00:00+01:00"


def test_month_day_and_week_totals_agree(store, client):
    t0, t1 = local_ts(2026, 3, 1), local_ts(2026, 4, 1)
    store.write(constant_readings("m1", t0, t1, 250.0, step_s=3600), t1)
    month = energy(client, resolution="month", start="2026-03-01", end="2026-03-31")
    days = energy(client, resolution="day", start="2026-03-01", end="2026-03-31")
    assert len(days["buckets"]) == 31
    assert month["buckets"][0]["hours"] == 743
    assert month["total"]["energy_wh"] == pytest.approx(250.0 * 743)
    assert sum(b["energy_wh"] for b in days["buckets"]) == pytest.approx(250.0 * 743)
    weeks = energy(client, resolution="week", start="2026-03-02", end="2026-03-29")
    assert [b["start"][:10] for b in weeks["buckets"]] == [
        "2026-03-02",
        "2026-03-09",
        "2026-03-16",
        "2026-03-23",
    ]
    assert weeks["buckets"][3]["hours"] == 167  # the week holding the spring change
    assert weeks["total"]["energy_wh"] == pytest.approx(250.0 * (4 * 168 - 1))


def test_gap_hours_are_null_not_zero(store, client):
    # Meter runs 00:00-09:59, is unplugged, restarts at 13:00 with its counter from 0
    # (a new boot): 10:00-13:00 has no data at all.
    t0 = local_ts(2026, 6, 1)
    store.write(constant_readings("m1", t0, t0 + 10 * 3600 - 60, 600.0, step_s=60), t0)
    store.write(constant_readings("m1", t0 + 13 * 3600, t0 + 24 * 3600, 600.0, step_s=60, boot=2), t0)
    got = energy(client, start="2026-06-01")
    values = [b["energy_wh"] for b in got["buckets"]]
    assert values[10:13] == [None, None, None]
    assert values[9] == pytest.approx(590.0) and values[13] == pytest.approx(600.0)
    assert got["total"]["gap_buckets"] == 3
    assert got["total"]["energy_wh"] == pytest.approx(600.0 * 21 - 10)
    day = energy(client, resolution="day", start="2026-06-01")["buckets"][0]
    assert day["energy_wh"] == pytest.approx(600.0 * 21 - 10) and day["covered_h"] == 21
    assert day["complete"] is False


def test_zero_consumption_is_zero_and_channels_can_be_asked_alone(store, client):
    t0 = local_ts(2026, 6, 2)
    store.write(
        constant_readings("m1", t0, t0 + 3600, 0.0, step_s=60)
        + constant_readings("m1", t0, t0 + 3600, 1200.0, step_s=60, channel=1),
        t0,
    )
    assert energy(client, start="2026-06-02", channel=0)["buckets"][0]["energy_wh"] == 0.0
    assert energy(client, start="2026-06-02", channel=1)["buckets"][0]["energy_wh"] == pytest.approx(1200.0)
    assert energy(client, start="2026-06-02")["buckets"][0]["energy_wh"] == pytest.approx(1200.0)


def test_default_range_is_today_in_paris(store, client, clock):
    t0 = local_ts(2026, 7, 14)
    clock.now_s = t0 + 5 * 3600 + 30
    store.write(constant_readings("m1", t0, t0 + 5 * 3600, 100.0, step_s=60), clock.now_s)
    got = energy(client)
    assert got["start"] == "2026-07-14" and got["timezone"] == "Europe/Paris"
    assert got["total"]["energy_wh"] == pytest.approx(500.0)


def test_live_power_per_channel_total_and_age(store, client, clock):
    clock.now_s = local_ts(2026, 6, 1, 12)
    rows = [
        ChannelReading("m1", c, 1, 7, clock.now_s - 4, True, 10.0, 50.0 + c, p, p / 230, False, 231.0, 0.9)
        for c, p in ((0, 800.0), (1, 1500.5))
    ]
    store.write(rows, clock.now_s)
    r = client.get("/api/v1/meters/m1/live")
    assert r.status_code == 200
    body = r.json()
    assert body["power_w"] == pytest.approx(2300.5)
    assert [c["power_w"] for c in body["channels"]] == [800.0, 1500.5]
    assert body["channels"][1]["vrms_v"] == 231.0 and body["channels"][1]["pf"] == 0.9
    assert body["age_s"] == pytest.approx(4.0) and body["stale"] is False
    assert body["ts"].endswith("+02:00")
    clock.now_s += 3600
    assert client.get("/api/v1/meters/m1/live").json()["stale"] is True


def test_unknown_meter_live_is_404_with_a_sentence(client):
    r = client.get("/api/v1/meters/nobody/live")
    assert r.status_code == 404
    assert "n'a encore rien envoyé" in r.json()["detail"]


def test_meter_list(store, client):
    t0 = local_ts(2026, 6, 1)
    store.write(
        constant_readings("b-2", t0, t0 + 600, 10.0) + constant_readings("a-1", t0, t0 + 1200, 10.0), t0
    )
    store.set_status("a-1", {"v": 1, "meter": "a-1", "state": "online"}, t0)
    meters = client.get("/api/v1/meters").json()["meters"]
    assert [(m["meter_id"], m["readings"], m["state"]) for m in meters] == [
        ("a-1", 20, "online"),
        ("b-2", 10, None),
    ]


BAD = [
    ("/api/v1/meters/M1/energy", {}, "identifiant de compteur"),
    ("/api/v1/meters/" + "a" * 33 + "/energy", {}, "identifiant de compteur"),
    ("/api/v1/meters/a.b/live", {}, "identifiant de compteur"),
    ("/api/v1/meters/m1/energy", {"start": "2026-02-30"}, "« start »"),
    ("/api/v1/meters/m1/energy", {"end": "2026-1-5"}, "« end »"),
    ("/api/v1/meters/m1/energy", {"start": "hier"}, "« start »"),
    ("/api/v1/meters/m1/energy", {"start": "2026-03-02", "end": "2026-03-01"}, "avant la date de début"),
    ("/api/v1/meters/m1/energy", {"start": "2026-01-01", "end": "2026-06-01"}, "Raccourcissez"),
    (
        "/api/v1/meters/m1/energy",
        {"resolution": "day", "start": "2020-01-01", "end": "2100-01-01"},
        "Raccourcissez",
    ),
    ("/api/v1/meters/m1/energy", {"start": "1999-01-01"}, "hors des limites"),
    ("/api/v1/meters/m1/energy", {"resolution": "minute"}, "« resolution »"),
    ("/api/v1/meters/m1/energy", {"channel": "6"}, "« channel »"),
    ("/api/v1/meters/m1/energy", {"channel": "-1"}, "« channel »"),
    ("/api/v1/meters/m1/energy", {"tz": "Mars/Olympus"}, "fuseau horaire"),
    ("/api/v1/meters/m1/energy", {"tz": "../../etc/passwd"}, "fuseau horaire"),
]


@pytest.mark.parametrize("url, params, words", BAD)
def test_bad_parameters_get_a_4xx_sentence_in_french(client, url, params, words):
    r = client.get(url, params=params)
    assert 400 <= r.status_code < 500, r.text
    assert words in r.json()["detail"]


def test_errors_in_english_when_asked(client):
    r = client.get(
        "/api/v1/meters/m1/energy",
        params={"start": "2026-03-02", "end": "2026-03-01"},
        headers={"Accept-Language": "en-GB,en;q=0.9,fr;q=0.5"},
    )
    assert r.status_code == 422
    assert r.json()["detail"] == "The end date (2026-03-01) is before the start date (2026-03-02): swap them."
    r = client.get(
        "/api/v1/meters/m1/energy", params={"start": "2026-03-02", "end": "2026-03-01", "lang": "en"}
    )
    assert r.json()["detail"].startswith("The end date")


def test_unknown_route_and_method(client):
    assert client.get("/api/v1/nothing").json()["code"] == "not_found"
    r = client.post("/api/v1/meters")
    assert r.status_code == 405 and "POST" in r.json()["detail"]
