"""The API keeps a household's figures between requests (api/readcache.py: until the
store's data version moves) and reads its link with its meters in one query: none of that
may show a revoked link's data, a stale figure after the collector writes, or an old one
after a meter's settings change. Two apps on the same files stand for two API processes
(workers), a second SqliteStore on the readings file for the collector."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient

from citizenwatt.api import admin
from citizenwatt.api.app import create_app
from citizenwatt.api.db import make_engine
from citizenwatt.api.models import Household, Meter
from citizenwatt.store.sqlite import SqliteStore

from .conftest import Clock
from .helpers import constant_readings, local_ts
from .world import NOW, build_world, two_api_processes


@pytest.fixture
def files(tmp_path):
    """Readings file and households database on disk, shared by two API processes."""
    with two_api_processes(tmp_path, Clock()) as (world, one, two, collector, _url):
        yield world, one, two, collector, tmp_path


def test_a_link_revoked_through_another_process_is_refused_at_once(files):
    world, one, two, _collector, _ = files
    token, hid = world.link("A"), world.hh("A")
    for path in (f"/h/{token}", f"/h/{token}/today"):
        assert one.get(path).status_code == 200
    assert one.get(f"/api/v1/households/{hid}/live", headers=world.bearer(token)).status_code == 200
    # a leader revokes the link on the other process
    r = two.delete(f"/api/v1/households/{hid}/link", headers=world.bearer(world.staff_tokens["leader1"]))
    assert r.status_code == 200 and r.json()["revoked"] == 1
    assert one.get(f"/h/{token}").status_code == 404
    assert one.get(f"/h/{token}/today").status_code == 404
    r = one.get(f"/api/v1/households/{hid}/live", headers=world.bearer(token))
    assert r.status_code == 401 and r.json()["code"] == "bad_token"
    r = one.get(f"/api/v1/households/{hid}/energy", headers=world.bearer(token))
    assert r.status_code == 401


def test_a_deleted_household_is_gone_from_every_process(files):
    world, one, two, _collector, _ = files
    token, hid = world.link("B"), world.hh("B")
    assert one.get(f"/api/v1/households/{hid}/energy?resolution=day&start=2026-03-01&end=2026-03-30",
                   headers=world.bearer(token)).json()["total"]["energy_wh"] > 0
    r = two.delete(f"/api/v1/households/{hid}?confirm=Foyer B", headers=world.bearer(token))
    assert r.status_code == 200 and r.json()["deleted"] is True
    assert one.get(f"/h/{token}").status_code == 404
    r = one.get(f"/api/v1/households/{hid}/energy?resolution=day&start=2026-03-01&end=2026-03-30",
                headers=world.bearer(world.staff_tokens["admin"]))
    assert r.status_code == 404


def _live(client, world, key="A"):
    r = client.get(f"/api/v1/households/{world.hh(key)}/live", headers=world.bearer(world.link(key)))
    assert r.status_code == 200
    return r.json()


def _today_total(client, world, key="A"):
    r = client.get(f"/api/v1/households/{world.hh(key)}/energy?resolution=hour",
                   headers=world.bearer(world.link(key)))
    assert r.status_code == 200
    return r.json()["total"]["energy_wh"]


def test_a_reading_the_collector_writes_shows_on_the_next_request(files):
    world, one, _two, collector, _ = files
    before = _live(one, world)
    total_before = _today_total(one, world)
    page_before = one.get(f"/h/{world.link('A')}/today").text
    assert before["power_w"] == 400.0
    assert _live(one, world) == before  # kept: the same answer
    # the collector, another process, stores the next reading: 2 kW for a minute
    last = world.store.latest("meter-a")[0]
    collector.write([constant_readings("meter-a", last.ts_utc, last.ts_utc + 60, 2000.0, 60,
                                       seq0=last.seq, counter0_wh=last.energy_wh)[0]], NOW)
    after = _live(one, world)
    assert after["power_w"] == 2000.0 and after["ts_utc"] == last.ts_utc + 60
    assert _today_total(one, world) == pytest.approx(total_before + 2000.0 / 60)
    assert one.get(f"/h/{world.link('A')}/today").text != page_before


def test_nothing_is_read_again_until_the_store_changes(files, monkeypatch):
    world, one, _two, collector, _ = files
    calls = []
    for name in ("hourly", "latest", "meters"):
        real = getattr(world.store, name)
        monkeypatch.setattr(world.store, name, lambda *a, _real=real, _n=name, **k: calls.append(_n)
                            or _real(*a, **k))
    link = world.link("A")
    one.get(f"/h/{link}")
    _live(one, world)
    _today_total(one, world)
    assert {"hourly", "latest", "meters"} <= set(calls)
    calls.clear()
    first = one.get(f"/h/{link}").text
    _live(one, world)
    _today_total(one, world)
    assert calls == []
    collector.set_status("meter-b", {"v": 1, "meter": "meter-b", "state": "online"}, NOW)
    assert one.get(f"/h/{link}").text == first  # another meter's news: same figures,
    assert calls  # but read again


def test_a_channel_made_a_sub_circuit_changes_the_figures_at_once(files):
    world, one, two, collector, _ = files
    last = world.store.latest("meter-a")[0]
    collector.write(constant_readings("meter-a", last.ts_utc - 60, last.ts_utc, 300.0, 60, channel=1), NOW)
    assert _live(one, world)["power_w"] == 700.0  # both clamps count: no role given yet
    total = _today_total(one, world)
    with two.app.state.sessionmaker() as db:  # the staff page's settings, on the other process
        meter = db.get(Meter, "meter-a")
        admin.set_channel(db, meter, 0, "Toute la maison", "main")
        admin.set_channel(db, meter, 1, "Chauffe-eau", "sub")
        db.commit()
    live = _live(one, world)
    assert live["power_w"] == 400.0
    assert [(c["channel"], c["label"], c["sub"]) for c in live["channels"]] == [
        (0, "Toute la maison", False), (1, "Chauffe-eau", True)]
    assert _today_total(one, world) == pytest.approx(total - 300.0 / 60)
    assert "chauffe-eau" in one.get(f"/h/{world.link('A')}/today").text


def test_a_meter_moved_to_another_household_is_not_read_from_the_cache(files):
    world, one, two, _collector, _ = files
    assert _live(one, world, "B")["power_w"] == 300.0
    with two.app.state.sessionmaker() as db:
        admin.assign_meter(db, db.get(Household, world.hh("A")), "meter-b", date(2026, 3, 31))
        db.commit()
    assert _live(one, world, "B")["power_w"] is None  # its meter left today
    assert _live(one, world, "A")["power_w"] == 700.0


@pytest.mark.parametrize("hour", [0, 9, 12, 17, 23])
def test_the_kept_today_part_is_what_a_fresh_process_draws(hour, tmp_path):
    """The page part kept between requests is drawn again when the clock passes an hour:
    at any time it is what a process without any cache draws."""
    store = SqliteStore(tmp_path / "readings.sqlite")
    url = f"sqlite:///{tmp_path / 'citizenwatt.sqlite'}"
    clock = Clock()
    world = build_world(store, clock, engine=make_engine(url))
    link = world.link("A")
    with TestClient(world.app) as kept:
        for minute in (0, 1, 59):
            clock.now_s = local_ts(2026, 3, 31, hour, minute)
            for lang in ("fr", "en"):
                page = kept.get(f"/h/{link}/today?lang={lang}").text
                live = kept.get(f"/h/{link}?lang={lang}").text
                fresh = create_app(store, clock=clock, engine=make_engine(url))
                with TestClient(fresh) as c:
                    assert c.get(f"/h/{link}/today?lang={lang}").text == page
                    assert c.get(f"/h/{link}?lang={lang}").text == live
    store.close()
