"""The live page kept whole and the live power by link (routes/pages.live_page_by_link,
deps.household_ref): the link's household is read in one plain query on every request, the
page is drawn once per household, language, store data version and what the clock shows.
None of it may show a figure older than the committed data, another household's page, or a
household as it was before a change. Two apps on the same files stand for two API
processes, a second SqliteStore on the readings file for the collector."""

from __future__ import annotations

import itertools
from datetime import date

import pytest
from fastapi.testclient import TestClient

from citizenwatt.api import admin
from citizenwatt.api.app import create_app
from citizenwatt.api.auth import HOUSEHOLD_EAGER, linked_household
from citizenwatt.api.db import make_engine
from citizenwatt.api.household_data import household_key
from citizenwatt.api.models import Household, Meter

from .conftest import Clock
from .helpers import constant_readings
from .world import NOW, build_world, two_api_processes


@pytest.fixture
def files(tmp_path):
    with two_api_processes(tmp_path, Clock()) as five:
        yield five


def _count_drawings(app, monkeypatch) -> list[str]:
    drawn: list[str] = []
    templates = app.state.templates
    real = templates.TemplateResponse
    monkeypatch.setattr(templates, "TemplateResponse",
                        lambda request, name, *a, **k: drawn.append(name) or real(request, name, *a, **k))
    return drawn


def _power(page: str) -> str:
    """The live power the page shows, its spaces plain."""
    shown = page.split('id="live-power">')[1].split("</p>")[0]
    return " ".join(shown.replace("\u202f", " ").replace("\xa0", " ").split())


def _fresh_page(world, url, path) -> str:
    """The page as a process without anything kept draws it."""
    with TestClient(create_app(world.store, clock=world.clock, engine=make_engine(url))) as c:
        r = c.get(path)
        assert r.status_code == 200
        return r.text


def test_the_live_page_asked_again_is_not_drawn_again(files, monkeypatch):
    world, one, _two, _collector, url = files
    drawn = _count_drawings(world.app, monkeypatch)
    path = f"/h/{world.link('A')}?lang=en"
    first = one.get(path)
    assert first.status_code == 200 and drawn == ["household.html"]
    again = one.get(path)
    assert again.text == first.text and drawn == ["household.html"]
    assert again.headers["cache-control"] == "no-store"
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.headers["x-frame-options"] == first.headers["x-frame-options"]
    assert again.text == _fresh_page(world, url, path)
    one.get(f"/h/{world.link('A')}?lang=fr")  # another language: drawn
    assert drawn == ["household.html", "household.html"]


def test_a_reading_the_collector_commits_is_on_the_next_page(files):
    world, one, _two, collector, url = files
    path = f"/h/{world.link('A')}?lang=en"
    before = one.get(path).text
    assert _power(before) == "400 W"
    last = world.store.latest("meter-a")[0]
    collector.write([constant_readings("meter-a", last.ts_utc, last.ts_utc + 60, 2000.0, 60,
                                       seq0=last.seq, counter0_wh=last.energy_wh)[0]], NOW)
    after = one.get(path).text
    assert _power(after) == "2,000 W"
    assert after == _fresh_page(world, url, path)


def test_the_kept_page_follows_the_clock(files):
    world, one, _two, _collector, url = files
    path = f"/h/{world.link('A')}?lang=en"
    shown = []
    for step_s in (0, 0, 1, 40, 3600):  # same instant, a second, past the stale limit, next hour
        world.clock.now_s = NOW + step_s
        page = one.get(path).text
        assert page == _fresh_page(world, url, path)
        shown.append(page)
    assert shown[0] == shown[1]
    assert len(set(shown[1:])) == 4  # each step changes what the page says of the clock


def test_one_households_page_is_never_another_ones(files):
    world, one, _two, _collector, _url = files
    pages = {key: one.get(f"/h/{world.link(key)}?lang=en").text for key in ("A", "B", "A", "B")}
    for key, other in (("A", "B"), ("B", "A")):
        again = one.get(f"/h/{world.link(key)}?lang=en").text
        assert again == pages[key]
        assert f"Foyer {key}" in again and f"Foyer {other}" not in again
        assert world.link(key) in again and world.link(other) not in again
    # a link to A does not open B's live power, kept or not
    r = one.get(f"/api/v1/households/{world.hh('B')}/live", headers=world.bearer(world.link("A")))
    assert r.status_code == 404


def test_a_change_made_by_another_process_shows_at_once(files):
    world, one, two, _collector, url = files
    token, hid = world.link("A"), world.hh("A")
    path = f"/h/{token}?lang=en"
    assert "Foyer A" in one.get(path).text
    leader = world.bearer(world.staff_tokens["leader1"])
    assert two.patch(f"/api/v1/households/{hid}", json={"name": "Foyer Renamed"},
                     headers=leader).status_code == 200
    page = one.get(path).text
    assert "Foyer Renamed" in page and "Foyer A" not in page
    with two.app.state.sessionmaker() as db:  # a label on the staff page: the page's channel name
        admin.set_channel(db, db.get(Meter, "meter-a"), 0, "Toute la maison", "main")
        admin.set_channel(db, db.get(Meter, "meter-a"), 1, "Chauffe-eau", "sub")
        db.commit()
    assert one.get(path).text == _fresh_page(world, url, path)
    r = two.post(f"/api/v1/households/{hid}/link", headers=leader)  # reissued: the old one is revoked
    assert r.status_code == 201
    assert one.get(path).status_code == 404
    assert one.get(f"/api/v1/households/{hid}/live", headers=world.bearer(token)).status_code == 401
    assert "Foyer Renamed" in one.get(f"/h/{r.json()['token']}?lang=en").text


def test_live_power_by_link_and_by_staff_agree(files):
    world, one, _two, collector, _url = files
    hid = world.hh("A")
    by_link = one.get(f"/api/v1/households/{hid}/live", headers=world.bearer(world.link("A")))
    by_staff = one.get(f"/api/v1/households/{hid}/live", headers=world.bearer(world.staff_tokens["leader1"]))
    assert by_link.status_code == by_staff.status_code == 200
    assert by_link.json() == by_staff.json() and by_link.json()["power_w"] == 400.0
    last = world.store.latest("meter-a")[0]
    collector.write([constant_readings("meter-a", last.ts_utc, last.ts_utc + 60, 900.0, 60,
                                       seq0=last.seq, counter0_wh=last.energy_wh)[0]], NOW)
    assert one.get(f"/api/v1/households/{hid}/live",
                   headers=world.bearer(world.link("A"))).json()["power_w"] == 900.0
    assert one.get(f"/api/v1/households/{hid}/live",
                   headers=world.bearer(world.staff_tokens["admin"])).json()["power_w"] == 900.0


def _assert_linked_is_household_key(engine, world):
    with world.app.state.sessionmaker() as db:
        admin.set_channel(db, db.get(Meter, "meter-a"), 1, "Chauffe-eau", "sub")
        admin.set_channel(db, db.get(Meter, "meter-a"), 0, "Toute la maison", "main")
        # B's meter moves to A: A has two periods, B one that ended
        admin.assign_meter(db, db.get(Household, world.hh("A")), "meter-b", date(2026, 3, 20))
        dep = db.get(Household, world.hh("A")).deployment
        _empty, empty_token = admin.create_household(db, dep, "Foyer sans compteur")
        db.commit()
    for token in (world.link("A"), world.link("B"), empty_token):
        linked = linked_household(engine, token)
        with world.app.state.sessionmaker() as db:
            hh = db.get(Household, linked.id, options=HOUSEHOLD_EAGER)
            assert (linked.id, linked.name, linked.timezone) == (hh.id, hh.name, hh.deployment.timezone)
            assert linked.key == household_key(hh)
    assert len(linked_household(engine, world.link("A")).key[2]) == 2
    assert linked_household(engine, "not-a-link") is None


def test_the_plain_query_reads_the_household_as_the_orm_does(files):
    world, _one, _two, _collector, url = files
    _assert_linked_is_household_key(world.app.state.engine, world)


_n = itertools.count()


def test_the_plain_query_on_postgresql(postgres, store, clock):
    engine = make_engine(postgres.create_database(f"cw_kept_{next(_n)}"))
    assert engine.dialect.name == "postgresql"
    world = build_world(store, clock, engine=engine)
    _assert_linked_is_household_key(engine, world)
    with TestClient(world.app) as c:
        path = f"/h/{world.link('A')}?lang=en"
        first = c.get(path).text
        assert c.get(path).text == first and "Foyer A" in first
        admin_token = world.bearer(world.staff_tokens["admin"])
        r = c.post(f"/api/v1/households/{world.hh('A')}/link", headers=admin_token)
        assert r.status_code == 201 and c.get(path).status_code == 404
    engine.dispose()


def test_energy_kept_as_sent_is_what_a_fresh_process_sends(files):
    world, one, _two, collector, url = files
    path = f"/api/v1/households/{world.hh('A')}/energy?resolution=day&start=2026-03-01&end=2026-03-31"
    link = world.bearer(world.link("A"))
    first = one.get(path, headers=link)
    assert first.status_code == 200 and first.headers["content-type"] == "application/json"
    assert one.get(path, headers=link).content == first.content
    with TestClient(create_app(world.store, clock=world.clock, engine=make_engine(url))) as fresh:
        assert fresh.get(path, headers=link).content == first.content
        assert fresh.get(path, headers=world.bearer(world.staff_tokens["leader1"])).json() == first.json()
    last = world.store.latest("meter-a")[0]
    collector.write([constant_readings("meter-a", last.ts_utc, last.ts_utc + 60, 2000.0, 60,
                                       seq0=last.seq, counter0_wh=last.energy_wh)[0]], NOW)
    after = one.get(path, headers=link).json()
    assert after["total"]["energy_wh"] == pytest.approx(first.json()["total"]["energy_wh"] + 2000.0 / 60)
    r = one.get(path.replace(str(world.hh("A")), str(world.hh("B"))), headers=link)
    assert r.status_code == 404


def test_a_kept_link_is_read_again_once_the_database_changes(files, monkeypatch):
    world, one, two, _collector, _url = files
    reads = []
    real = linked_household
    for where in ("citizenwatt.api.deps", "citizenwatt.api.routes.pages"):
        monkeypatch.setattr(f"{where}.linked_household",
                            lambda engine, token: reads.append(token) or real(engine, token))
    token = world.link("A")
    live = f"/api/v1/households/{world.hh('A')}/live"
    assert one.get(f"/h/{token}").status_code == 200
    assert one.get(live, headers=world.bearer(token)).status_code == 200
    assert reads == [token]
    # any commit, here to another household, by the other process: read again
    leader = world.bearer(world.staff_tokens["leader1"])
    assert two.patch(f"/api/v1/households/{world.hh('B')}", json={"profile": "x"},
                     headers=leader).status_code == 200
    assert one.get(live, headers=world.bearer(token)).status_code == 200
    assert reads == [token, token]


def test_only_the_pages_own_links_are_kept(files, monkeypatch):
    world, one, _two, _collector, _url = files
    drawn = _count_drawings(world.app, monkeypatch)
    for query in ("?lang=en&utm=1", "?lang=en&utm=1", "?lang=en&lang=en", "?lang=en&lang=en"):
        assert one.get(f"/h/{world.link('A')}{query}").status_code == 200
    assert drawn == ["household.html"] * 4  # any other query: drawn each time
