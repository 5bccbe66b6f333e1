"""Channel roles are decided when a meter joins a household: given, or derived from the
labels (the workshop's or the ones the meter publishes), refused when they cannot be told;
a household's totals count its main clamps only, its sub-circuits are a breakdown, and a
household whose sub-circuits measure more than its whole home is flagged to staff."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from citizenwatt.api import admin
from citizenwatt.api.channel_roles import derive_role, resolve_roles
from citizenwatt.api.errors import ApiError
from citizenwatt.api.models import Channel, Household, MeterAssignment

from .helpers import constant_readings, local_ts
from .world import NOW, PASSWORD

REGISTER = "/api/v1/meters/register"
DAY = "2026-03-30"  # a whole day before world.NOW (31 March, 12:00)


@pytest.mark.parametrize(("channel", "label", "role"), [
    (0, "Toute la maison", "main"), (1, "Chauffe-eau", "sub"), (1, "Ballon d'eau chaude", "sub"),
    (2, "CHAUFFAGE (radiateurs)", "sub"), (1, "Général", "main"), (0, "", "main"),
    (0, "Chauffe-eau", "sub"), (1, "Pince 2", None), (1, "", None), (1, "Water heater", "sub"),
    (0, "Whole house", "main"), (2, "Cuisine", "sub"),
])
def test_a_label_tells_the_role_or_says_it_cannot(channel, label, role):
    assert derive_role(channel, label) == role


def test_resolution_keeps_known_roles_and_refuses_what_it_cannot_tell():
    labels = {0: "Maison", 1: "Garage"}
    # given beats known beats derived
    assert resolve_roles("m", {0, 1}, labels, {1: "sub"}, {}) == {0: "main", 1: "sub"}
    assert resolve_roles("m", {0, 1}, labels, {}, {1: "main"}) == {0: "main", 1: "main"}
    with pytest.raises(ApiError) as e:
        resolve_roles("m", {0, 1}, labels, {}, {})
    assert e.value.code == "channel_roles" and e.value.params["channels"] == [1]
    fr = e.value.message("fr")
    assert '2 "Garage"' in fr and "« main »" in fr and "« sub »" in fr
    # Only sub-circuits by their labels: the household's total would be empty.
    with pytest.raises(ApiError) as e:
        resolve_roles("m", {0, 1}, {0: "Chauffe-eau", 1: "Four"}, {}, {})
    assert e.value.code == "channel_roles" and "aucune de ses pinces" in e.value.message("fr")
    # A meter that never spoke: its one clamp is the whole house.
    assert resolve_roles("m", set(), {}, {}, {}) == {0: "main"}


def _heater_day(world, meter="meter-a"):
    """meter-a's whole-house clamp reads 400 W all day (world); its water heater clamp
    (channel 1) 100 W, and the meter publishes its labels."""
    t0 = local_ts(2026, 3, 30)
    world.store.write(constant_readings(meter, t0, t0 + 24 * 3600, 100.0, 600, channel=1), NOW)
    world.store.set_status(meter, {"v": 1, "meter": meter, "state": "online",
                                   "labels": {"0": "Toute la maison", "1": "Chauffe-eau"}}, NOW - 30)


def test_register_refuses_an_unknown_role_and_stores_nothing(world, wclient):
    leader = world.bearer(world.staff_tokens["leader1"])
    body = {"meter_id": "cw-0077", "household": {"ref": "HH-77"},
            "channels": [{"id": 0, "label": "Maison"}, {"id": 1, "label": "Pince 2"}]}
    r = wclient.post(REGISTER, json=body, headers=leader)
    assert r.status_code == 422 and r.json()["code"] == "channel_roles"
    assert '2 "Pince 2"' in r.json()["detail"] and "« sub »" in r.json()["detail"]
    with world.app.state.sessionmaker() as db:
        assert db.scalar(select(Household).where(Household.name == "HH-77")) is None
        assert db.scalars(select(Channel).where(Channel.meter_id == "cw-0077")).all() == []
    body["channels"][1]["role"] = "sub"
    assert wclient.post(REGISTER, json=body, headers=leader).status_code == 201


def test_register_derives_roles_from_what_the_meter_published(world, wclient):
    world.store.write(constant_readings("cw-0078", NOW - 3600, NOW - 60, 100.0, 600, channel=1), NOW)
    world.store.set_status("cw-0078", {"v": 1, "meter": "cw-0078", "state": "online",
                                       "labels": {"0": "Toute la maison", "1": "Ballon"}}, NOW - 30)
    leader = world.bearer(world.staff_tokens["leader1"])
    r = wclient.post(REGISTER, json={"meter_id": "cw-0078", "household": {"ref": "HH-78"}}, headers=leader)
    assert r.status_code == 201, r.text
    with world.app.state.sessionmaker() as db:
        rows = db.scalars(select(Channel).where(Channel.meter_id == "cw-0078").order_by(Channel.channel))
        assert [(c.channel, c.label, c.role) for c in rows] == [(0, "Toute la maison", "main"),
                                                                 (1, "Ballon", "sub")]


def test_labelling_a_channel_needs_a_role_its_label_does_not_tell(world, wclient):
    leader = world.bearer(world.staff_tokens["leader1"])
    r = wclient.put("/api/v1/meters/meter-a/channels/1", json={"label": "Garage"}, headers=leader)
    assert r.status_code == 422 and r.json()["code"] == "channel_roles"
    r = wclient.put("/api/v1/meters/meter-a/channels/1", json={"label": "Chauffe-eau"}, headers=leader)
    assert r.status_code == 200 and r.json()["role"] == "sub"


def test_totals_count_the_main_clamp_and_show_the_water_heater_as_a_breakdown(world, wclient):
    _heater_day(world)
    with world.app.state.sessionmaker() as db:
        meter = db.get(admin.Meter, "meter-a")
        assert admin.settle_channels(db, meter, {}, world.store) == {0: "main", 1: "sub"}
        db.commit()
    headers = world.bearer(world.link("A"))
    url = f"/api/v1/households/{world.hh('A')}"
    day = wclient.get(f"{url}/energy", params={"resolution": "day", "start": DAY}, headers=headers).json()
    assert day["total"]["energy_wh"] == pytest.approx(400.0 * 24)  # not 500 W x 24 h
    assert day["breakdown"] == [{"label": "Chauffe-eau", "channel": 1, "energy_wh": pytest.approx(2400.0)}]
    hours = wclient.get(f"{url}/energy", params={"resolution": "hour", "start": DAY}, headers=headers).json()
    assert hours["total"]["energy_wh"] == pytest.approx(day["total"]["energy_wh"])
    live = wclient.get(f"{url}/live", headers=headers).json()
    assert live["power_w"] == 400.0
    assert {c["channel"]: c["sub"] for c in live["channels"]} == {0: False, 1: True}
    page = wclient.get(f"/h/{world.link('A')}/history", params={"view": "day", "date": DAY})
    assert "Total : 9,6" in page.text and "dont chauffe-eau : 2,4" in page.text
    # Savings and comparison read the same main-only days.
    with world.app.state.sessionmaker() as db:
        from citizenwatt.api.household_data import day_uses
        hh = db.get(Household, world.hh("A"))
        (use,) = day_uses(world.store, hh, date(2026, 3, 30), date(2026, 3, 30))
        assert use.energy_kwh == pytest.approx(9.6)


def test_sub_circuits_above_the_whole_home_are_flagged_to_staff(world, wclient):
    # The water heater marked main and the whole house sub (clamps swapped in the records).
    _heater_day(world)
    leader = world.bearer(world.staff_tokens["leader1"])
    for channel, label, role in ((0, "Toute la maison", "sub"), (1, "Chauffe-eau", "main")):
        r = wclient.put(f"/api/v1/meters/meter-a/channels/{channel}", json={"label": label, "role": role},
                        headers=leader)
        assert r.status_code == 200
    rows = wclient.get(f"/api/v1/deployments/{world.deployments['d1']}/households", headers=leader).json()
    flags = {r["name"]: r["sub_exceeds_main_on"] for r in rows}
    assert flags == {"Foyer A": "2026-03-31", "Foyer B": None}  # today, 12 h of 400 W > 12 h of 100 W
    r = wclient.put("/api/v1/meters/meter-a/channels/0", json={"label": "Toute la maison", "role": "main"},
                    headers=leader)
    r = wclient.put("/api/v1/meters/meter-a/channels/1", json={"label": "Chauffe-eau", "role": "sub"},
                    headers=leader)
    rows = wclient.get(f"/api/v1/deployments/{world.deployments['d1']}/households", headers=leader).json()
    assert {r["name"]: r["sub_exceeds_main_on"] for r in rows} == {"Foyer A": None, "Foyer B": None}


def test_the_staff_page_shows_the_flag(world, wclient):
    _heater_day(world)
    with world.app.state.sessionmaker() as db:
        for channel, label, role in ((0, "Toute la maison", "sub"), (1, "Chauffe-eau", "main")):
            admin.set_channel(db, db.get(admin.Meter, "meter-a"), channel, label, role)
        db.commit()
    r = wclient.post("/staff/login", data={"username": "leader1", "password": PASSWORD},
                     follow_redirects=False)
    assert r.status_code == 303
    page = wclient.get("/staff")
    assert "ont mesuré plus que tout le logement" in page.text and "31/03/2026" in page.text


def test_moving_a_meter_settles_its_roles_first(world, wclient):
    _heater_day(world, "meter-x")
    leader = world.bearer(world.staff_tokens["leader1"])
    with world.app.state.sessionmaker() as db:
        admin.register_meter(db, db.get(admin.Deployment, world.deployments["d1"]), "meter-x")
        db.commit()
    r = wclient.post(f"/api/v1/households/{world.hh('B')}/meters",
                     json={"meter_id": "meter-x", "valid_from": "2026-03-30"}, headers=leader)
    assert r.status_code == 201, r.text
    chans = [m for m in r.json()["meters"] if m["meter_id"] == "meter-x"][0]["channels"]
    assert [(c["channel"], c["role"]) for c in chans] == [(0, "main"), (1, "sub")]
    with world.app.state.sessionmaker() as db:
        assert db.scalar(select(MeterAssignment).where(MeterAssignment.meter_id == "meter-x")) is not None


def test_the_open_meter_page_counts_the_whole_house_clamp_only(store, clock, client):
    # The demo's page /m/<meter>, before any household exists: the roles come from the
    # labels the meter published.
    t0 = local_ts(2026, 3, 31)
    clock.now_s = t0 + 6 * 3600
    store.write(constant_readings("demo-01", t0, clock.now_s, 400.0, 600, channel=0)
                + constant_readings("demo-01", t0, clock.now_s, 3000.0, 600, channel=1), clock.now_s)
    store.set_status("demo-01", {"v": 1, "meter": "demo-01", "state": "online",
                                 "labels": {"0": "Toute la maison", "1": "Chauffe-eau"}}, clock.now_s)
    main_wh = sum(h.energy_wh for h in store.hourly("demo-01", t0, clock.now_s + 3600, 0))
    page = client.get("/m/demo-01")
    assert page.status_code == 200
    shown = page.text.split("Total depuis minuit : ")[1].split("</p>")[0]
    assert shown.replace("\u202f", " ").replace("\xa0", " ") == f"{main_wh / 1000:.2f} kWh".replace(".", ",")
    assert main_wh == pytest.approx(400.0 * 6, rel=0.01)
    live = page.text.split('id="live-power">')[1].split("</p>")[0]
    assert live == "400\u00a0W"  # live: the whole house only, not 3 400 W
    assert "Chauffe-eau : 3\u202f000\u00a0W" in page.text  # each clamp by its label
    body = client.get("/api/v1/meters/demo-01/live").json()
    assert body["power_w"] == 400.0  # what live.js shows on that page every few seconds
    assert [(c["label"], c["sub"]) for c in body["channels"]] == [("Toute la maison", False),
                                                                   ("Chauffe-eau", True)]


def test_creating_a_household_with_its_meter_settles_the_roles_or_creates_nothing(world, wclient):
    world.store.write(constant_readings("cw-0090", NOW - 3600, NOW - 60, 100.0, 600, channel=1), NOW)
    leader = world.bearer(world.staff_tokens["leader1"])
    url = f"/api/v1/deployments/{world.deployments['d1']}/households"
    body = {"name": "Foyer 90", "meter": {"meter_id": "cw-0090", "valid_from": "2026-03-31"}}
    r = wclient.post(url, json=body, headers=leader)
    assert r.status_code == 422 and r.json()["code"] == "channel_roles"
    assert "Foyer 90" not in [h["name"] for h in wclient.get(url, headers=leader).json()]
    body["meter"]["channels"] = [{"id": 0, "label": "Maison"}, {"id": 1, "label": "Cumulus"}]
    r = wclient.post(url, json=body, headers=leader)
    assert r.status_code == 201, r.text
    rec = wclient.get(f"/api/v1/households/{r.json()['household_id']}", headers=leader).json()
    assert [(c["channel"], c["label"], c["role"]) for c in rec["meters"][0]["channels"]] == \
        [(0, "Maison", "main"), (1, "Cumulus", "sub")]


def test_staff_see_clamps_that_send_readings_without_a_role(world, wclient):
    # meter-a was installed before roles existed (world): its water heater clamp starts
    # sending readings, and counts until staff give it a role.
    _heater_day(world)
    leader = world.bearer(world.staff_tokens["leader1"])
    url = f"/api/v1/deployments/{world.deployments['d1']}/meters"
    rows = {m["meter_id"]: m for m in wclient.get(url, headers=leader).json()}
    assert rows["meter-a"]["channels_without_role"] == [0, 1]
    assert rows["meter-b"]["channels_without_role"] == []
    r = wclient.post("/staff/login", data={"username": "leader1", "password": PASSWORD},
                     follow_redirects=False)
    assert r.status_code == 303
    assert "Compteur meter-a : les pinces 1, 2 n&#39;ont pas encore de rôle" in wclient.get("/staff").text
    for channel, label in ((0, "Toute la maison"), (1, "Chauffe-eau")):
        wclient.put(f"/api/v1/meters/meter-a/channels/{channel}", json={"label": label}, headers=leader)
    rows = {m["meter_id"]: m for m in wclient.get(url, headers=leader).json()}
    assert rows["meter-a"]["channels_without_role"] == []
    assert "pas encore de rôle" not in wclient.get("/staff").text
