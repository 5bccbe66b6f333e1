"""Staff pages that manage: each form's flow through the pages (create a household with its
meter and clamp roles, reissue and revoke its link, reference period, type, tariffs,
temperatures, a publishing meter put in a household), checked on what the JSON API then
answers; roles and form tokens on every form; an audit entry for each change."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import func, select

from citizenwatt.api import admin
from citizenwatt.api.auth import SESSION_COOKIE
from citizenwatt.api.forms import csrf_token
from citizenwatt.api.models import AuditEntry, Household

from .helpers import constant_readings, local_ts
from .world import NOW, PASSWORD

ORIGIN = {"Origin": "http://testserver"}  # the forms are posted from the site itself


def sign_in(c, user: str) -> str:
    """Sign `user` in on client `c`; returns the session's form token."""
    c.cookies.clear()
    r = c.post("/staff/login", data={"username": user, "password": PASSWORD}, headers=ORIGIN,
               follow_redirects=False)
    assert r.status_code == 303, r.text
    return csrf_token(c.cookies[SESSION_COOKIE])


def post(c, url: str, csrf: str, **data):
    return c.post(url, data={**data, "csrf": csrf}, headers=ORIGIN, follow_redirects=False)


def audit_rows(world, **where) -> list[AuditEntry]:
    with world.app.state.sessionmaker() as db:
        q = select(AuditEntry).order_by(AuditEntry.id)
        for k, v in where.items():
            q = q.where(getattr(AuditEntry, k) == v)
        return list(db.scalars(q))


def link_of(page: str) -> str:
    m = re.search(r'id="household-link" href="/h/([A-Za-z0-9_-]+)"', page)
    assert m, page
    return m.group(1)


def savings(c, world, key: str, start: str, end: str, user: str = "admin") -> dict:
    r = c.get(f"/api/v1/households/{world.hh(key)}/savings?start={start}&end={end}",
              headers=world.bearer(world.staff_tokens[user]))
    assert r.status_code == 200, r.text
    return r.json()


def count_households(world) -> int:
    with world.app.state.sessionmaker() as db:
        return db.scalar(select(func.count(Household.id))) or 0


# -- create a household with its meter and roles --------------------------------------------


def test_leader_creates_household_with_meter_and_roles_then_its_link_opens(world, wclient):
    csrf = sign_in(wclient, "leader1")
    d1 = world.deployments["d1"]
    page = wclient.get(f"/staff/deployments/{d1}")
    assert page.status_code == 200 and 'id="household-form"' in page.text and csrf in page.text
    r = post(wclient, f"/staff/deployments/{d1}/households", csrf, name="Foyer N", profile="appart-gaz",
             meter_id="meter-n", valid_from="2026-03-30", ch0_label="Toute la maison", ch0_role="main",
             ch1_label="Chauffe-eau", ch1_role="sub", ch2_label="", ch2_role="")
    assert r.status_code == 200 and "Foyer N" in r.text
    assert r.headers["cache-control"] == "no-store"
    token = link_of(r.text)
    assert f"http://testserver/h/{token}" in r.text  # the whole address, to hand over
    hh_page = wclient.get(f"/h/{token}")
    assert hh_page.status_code == 200 and "Foyer N" in hh_page.text
    hid = int(re.search(r"/staff/households/(\d+)/manage", r.text).group(1))
    h = wclient.get(f"/api/v1/households/{hid}", headers=world.bearer(token)).json()
    assert h["profile"] == "appart-gaz"
    assert [(m["meter_id"], m["valid_from"]) for m in h["meters"]] == [("meter-n", "2026-03-30")]
    assert [(c["channel"], c["label"], c["role"]) for c in h["meters"][0]["channels"]] == [
        (0, "Toute la maison", "main"), (1, "Chauffe-eau", "sub")]
    entries = audit_rows(world, household_id=hid)
    assert [(e.action, e.username, e.deployment_id, e.ts_utc) for e in entries] == [
        ("household.create", "leader1", d1, NOW), ("meter.assign", "leader1", d1, NOW)]
    assert "Chauffe-eau (sub)" in entries[1].detail


def test_create_household_errors_keep_the_form_and_store_nothing(world, wclient):
    csrf = sign_in(wclient, "leader1")
    d1 = world.deployments["d1"]
    before = count_households(world)
    # A clamp with a label and no role: never a silent "main".
    r = post(wclient, f"/staff/deployments/{d1}/households", csrf, name="Foyer Sans Rôle", profile="p1",
             meter_id="meter-q", ch0_label="Toute la maison", ch0_role="")
    assert r.status_code == 422 and "Pince 1" in r.text and "rôle" in r.text
    assert 'value="Foyer Sans Rôle"' in r.text and 'value="Toute la maison"' in r.text
    # Only sub clamps: the total would count nothing.
    r = post(wclient, f"/staff/deployments/{d1}/households", csrf, name="Foyer Sub", meter_id="meter-q",
             ch0_label="Chauffe-eau", ch0_role="sub")
    assert r.status_code == 422 and "principale" in r.text
    # A meter but no clamp at all.
    r = post(wclient, f"/staff/deployments/{d1}/households", csrf, name="Foyer Vide", meter_id="meter-q")
    assert r.status_code == 422 and "meter-q" in r.text
    # A name already taken.
    r = post(wclient, f"/staff/deployments/{d1}/households", csrf, name="Foyer A")
    assert r.status_code == 409 and "appelle déjà" in r.text and 'value="Foyer A"' in r.text
    # A bad meter id.
    r = post(wclient, f"/staff/deployments/{d1}/households", csrf, name="Foyer Z", meter_id="Meter A!",
             ch0_label="Maison", ch0_role="main")
    assert r.status_code == 422 and "pas valide" in r.text
    assert count_households(world) == before
    assert audit_rows(world, action="household.create") == []


# -- links ----------------------------------------------------------------------------------


def test_reissue_then_revoke_the_link(world, wclient):
    old = world.link("A")
    csrf = sign_in(wclient, "leader1")
    hid = world.hh("A")
    manage = wclient.get(f"/staff/households/{hid}/manage")
    assert manage.status_code == 200 and 'id="reissue-form"' in manage.text
    r = post(wclient, f"/staff/households/{hid}/link", csrf)
    assert r.status_code == 200 and "ne fonctionne plus" in r.text
    new = link_of(r.text)
    assert new != old
    wclient.cookies.clear()  # as the household, without the staff session
    assert wclient.get(f"/h/{old}").status_code == 404
    assert wclient.get(f"/api/v1/households/{hid}", headers=world.bearer(old)).status_code == 401
    assert wclient.get(f"/h/{new}").status_code == 200
    assert wclient.get(f"/api/v1/households/{hid}", headers=world.bearer(new)).json()["name"] == "Foyer A"
    csrf = sign_in(wclient, "leader1")
    r = post(wclient, f"/staff/households/{hid}/link/revoke", csrf)
    assert r.status_code == 303 and r.headers["location"].startswith(f"/staff/households/{hid}/manage")
    assert "ne permet plus" in wclient.get(r.headers["location"]).text
    wclient.cookies.clear()
    assert wclient.get(f"/h/{new}").status_code == 404
    assert [e.action for e in audit_rows(world, household_id=hid)] == ["link.issue", "link.revoke"]


def test_link_page_points_to_the_welcome_sheet_when_the_app_has_it(world, wclient):
    from fastapi.responses import PlainTextResponse

    route = "/staff/households/{household_id}/sheet"
    paths = {getattr(r, "path", None) for r in world.app.router.routes}
    if route not in paths:  # the sheet's own part may not be there: add a stand-in
        world.app.add_api_route(route, lambda household_id: PlainTextResponse("sheet"))
    csrf = sign_in(wclient, "leader1")
    r = post(wclient, f"/staff/households/{world.hh('B')}/link", csrf)
    assert f'href="/staff/households/{world.hh("B")}/sheet?lang=fr"' in r.text


# -- settings that change the savings and the comparison -----------------------------------


def test_reference_period_form_changes_the_savings(world, wclient):
    csrf = sign_in(wclient, "leader1")
    hid = world.hh("A")
    before = savings(wclient, world, "A", "2026-03-16", "2026-03-28")
    # A: 500 W before the 15th, 400 W after; 13 days saving 2.4 kWh each.
    assert before["saved_kwh"] == pytest.approx(13 * (12.0 - 9.6), abs=0.01)
    r = post(wclient, f"/staff/households/{hid}/settings", csrf, profile="appart-gaz",
             baseline_start="2026-03-16", baseline_end="2026-03-22", tariff_option="base",
             offpeak_start_h="22", offpeak_end_h="6")
    assert r.status_code == 303
    after = savings(wclient, world, "A", "2026-03-23", "2026-03-28")
    assert (after["baseline_start"], after["baseline_end"]) == ("2026-03-16", "2026-03-22")
    assert after["baseline_kwh_per_day"] == pytest.approx(9.6, abs=0.01)
    assert after["saved_kwh"] == pytest.approx(0.0, abs=0.01)
    # Both days empty: no reference period, and the savings say so.
    post(wclient, f"/staff/households/{hid}/settings", csrf, profile="appart-gaz", baseline_start="",
         baseline_end="", tariff_option="base", offpeak_start_h="22", offpeak_end_h="6")
    assert savings(wclient, world, "A", "2026-03-23", "2026-03-28")["status"] == "no_baseline"
    entries = audit_rows(world, action="household.update")
    assert len(entries) == 2 and "baseline_start" in entries[0].detail and entries[0].username == "leader1"


def test_reference_period_errors_say_what_to_fix_and_change_nothing(world, wclient):
    csrf = sign_in(wclient, "leader1")
    hid = world.hh("A")
    r = post(wclient, f"/staff/households/{hid}/settings", csrf, profile="x", baseline_start="2026-03-10",
             baseline_end="", tariff_option="base", offpeak_start_h="22", offpeak_end_h="6")
    assert r.status_code == 422 and "le début et la fin" in r.text and 'value="2026-03-10"' in r.text
    r = post(wclient, f"/staff/households/{hid}/settings", csrf, profile="x", baseline_start="10/03/2026",
             baseline_end="2026-03-14", tariff_option="base", offpeak_start_h="22", offpeak_end_h="6")
    assert r.status_code == 422 and "Période de référence : premier jour" in r.text
    h = wclient.get(f"/api/v1/households/{hid}", headers=world.bearer(world.link("A"))).json()
    assert (h["profile"], h["baseline_start"]) == ("appart-gaz", "2026-03-01")
    assert audit_rows(world, action="household.update") == []


def test_profile_and_tariff_option_forms(world, wclient):
    csrf = sign_in(wclient, "leader1")
    hid = world.hh("B")
    common = {"baseline_start": "2026-03-01", "baseline_end": "2026-03-14", "offpeak_start_h": "23",
              "offpeak_end_h": "7"}
    r = post(wclient, f"/staff/households/{hid}/settings", csrf, profile="maison-elec",
             tariff_option="hphc", **common)
    assert r.status_code == 303
    h = wclient.get(f"/api/v1/households/{hid}", headers=world.bearer(world.link("B"))).json()
    assert (h["profile"], h["tariff_option"], h["offpeak_start_h"], h["offpeak_end_h"]) == (
        "maison-elec", "hphc", 23, 7)
    c = wclient.get(f"/api/v1/households/{hid}/comparison?start=2026-03-16&end=2026-03-28",
                    headers=world.bearer(world.link("B"))).json()
    assert c["profile"] == "maison-elec"


def test_tariff_form_changes_the_euros_saved(world, wclient):
    csrf = sign_in(wclient, "leader1")
    d1 = world.deployments["d1"]
    r = post(wclient, f"/staff/deployments/{d1}/tariffs", csrf, option="base", valid_from="2026-03-15",
             valid_to="", base_eur_per_kwh="0,30", peak_eur_per_kwh="", offpeak_eur_per_kwh="",
             source="Test")
    assert r.status_code == 303
    s = savings(wclient, world, "A", "2026-03-16", "2026-03-28")
    assert s["priced_days"] == 13 and s["saved_eur"] == pytest.approx(s["saved_kwh"] * 0.30)
    assert "0.3" in wclient.get(f"/staff/deployments/{d1}").text
    # An hphc tariff without its off-peak price: said, and nothing added.
    r = post(wclient, f"/staff/deployments/{d1}/tariffs", csrf, option="hphc", valid_from="2026-03-15",
             peak_eur_per_kwh="0,25", source="")
    assert r.status_code == 422 and "offpeak_eur_per_kwh" in r.text and 'value="0,25"' in r.text
    r = post(wclient, f"/staff/deployments/{d1}/tariffs", csrf, option="base", valid_from="2026-03-15",
             base_eur_per_kwh="trente")
    assert r.status_code == 422 and "Prix de base (€/kWh)" in r.text
    assert [e.detail for e in audit_rows(world, action="tariff.add")] == ["base 2026-03-15"]


def test_temperature_form_switches_the_savings_to_degree_days(world, wclient, store):
    # Meter T: each day uses 2 kWh + 0.5 kWh per degree-day; baseline 1-14 March.
    temps = {d: 4.0 + (d * 7) % 11 for d in range(1, 29)}
    kwh = {d: 2.0 + 0.5 * max(0.0, 18.0 - t) for d, t in temps.items()}
    rows, counter, seq = [], 0.0, 0
    for d in range(1, 29):
        t0, t1 = local_ts(2026, 3, d), local_ts(2026, 3, d + 1)
        rows += constant_readings("meter-t", t0, t1, kwh[d] * 1000 / 24, 600, seq0=seq, counter0_wh=counter)
        seq, counter = seq + 144, counter + kwh[d] * 1000
    store.write(rows, NOW)
    with world.app.state.sessionmaker() as db:
        from datetime import date

        dep = db.get(admin.Deployment, world.deployments["d1"])
        hh, token = admin.create_household(db, dep, "Foyer T", baseline_start=date(2026, 3, 1),
                                           baseline_end=date(2026, 3, 14))
        admin.meter_in_household(db, hh, "meter-t", date(2026, 3, 1), [(0, "Maison", "main")])
        db.commit()
        hid = hh.id
    world.households["T"] = (hid, token)
    s = savings(wclient, world, "T", "2026-03-15", "2026-03-28")
    assert s["method"] == "mean"
    csrf = sign_in(wclient, "leader1")
    text = "\n".join(f"2026-03-{d:02d} {str(t).replace('.', ',')}" for d, t in temps.items())
    r = post(wclient, f"/staff/deployments/{world.deployments['d1']}/temperatures", csrf, temperatures=text)
    assert r.status_code == 303
    s = savings(wclient, world, "T", "2026-03-15", "2026-03-28")
    assert s["method"] == "degree_days"
    assert s["dd_intercept_kwh"] == pytest.approx(2.0, abs=1e-3)
    assert s["dd_slope_kwh_per_hdd"] == pytest.approx(0.5, abs=1e-3)
    assert s["expected_kwh"] == pytest.approx(sum(kwh[d] for d in range(15, 29)), abs=0.01)
    # A line that is not "day temperature": said with its number, nothing stored.
    r = post(wclient, f"/staff/deployments/{world.deployments['d1']}/temperatures", csrf,
             temperatures="2026-04-01 5\n2026-04-02 chaud")
    assert r.status_code == 422 and "Ligne 2" in r.text
    assert [e.detail for e in audit_rows(world, action="temperatures.set")] == [
        "28: 2026-03-01 → 2026-03-28"]


def test_clamp_roles_form(world, wclient):
    csrf = sign_in(wclient, "leader1")
    hid = world.hh("A")
    r = post(wclient, f"/staff/households/{hid}/meters/meter-a/channels", csrf,
             ch0_label="Toute la maison", ch0_role="main", ch1_label="Chauffe-eau", ch1_role="sub")
    assert r.status_code == 303
    h = wclient.get(f"/api/v1/households/{hid}", headers=world.bearer(world.link("A"))).json()
    assert [(c["label"], c["role"]) for c in h["meters"][0]["channels"]] == [
        ("Toute la maison", "main"), ("Chauffe-eau", "sub")]
    # Another household's meter is not this household's to label.
    r = post(wclient, f"/staff/households/{hid}/meters/meter-b/channels", csrf,
             ch0_label="X", ch0_role="main")
    assert r.status_code == 404
    assert [e.action for e in audit_rows(world, household_id=hid)] == ["channel.set"]


# -- a meter that publishes without a household --------------------------------------------


def day_kwh(c, world, key: str, day: str) -> float | None:
    r = c.get(f"/api/v1/households/{world.hh(key)}/energy?resolution=day&start={day}&end={day}",
              headers=world.bearer(world.link(key)))
    assert r.status_code == 200, r.text
    wh = r.json()["total"]["energy_wh"]
    return None if wh is None else wh / 1000


def test_unassigned_meter_is_listed_then_counts_for_the_household(world, wclient, store):
    store.write(constant_readings("meter-x", local_ts(2026, 3, 20), NOW - 60, 200.0, 600), NOW)
    store.write(constant_readings("meter-y", local_ts(2026, 3, 25), NOW - 60, 100.0, 600), NOW)
    with world.app.state.sessionmaker() as db:
        admin.register_meter(db, db.get(admin.Deployment, world.deployments["d1"]), "meter-x")
        db.commit()
    csrf = sign_in(wclient, "leader1")
    overview = wclient.get("/staff").text
    listed = overview.split('id="unassigned"')[1].split("</section>")[0]
    # meter-x is registered in leader1's deployment; meter-y in none: only admins see it.
    assert 'data-meter="meter-x"' in listed and "meter-y" not in listed
    assert wclient.get("/staff/meters/meter-y/assign").status_code == 404
    form = wclient.get("/staff/meters/meter-x/assign").text
    assert 'value="2026-03-20"' in form  # from its first reading: all of them count
    assert day_kwh(wclient, world, "B", "2026-03-25") == pytest.approx(7.2, abs=0.01)
    r = post(wclient, "/staff/meters/meter-x/assign", csrf, household_id=str(world.hh("B")),
             valid_from="2026-03-20", ch0_label="Toute la maison", ch0_role="main")
    assert r.status_code == 303
    assert day_kwh(wclient, world, "B", "2026-03-25") == pytest.approx(7.2 + 4.8, abs=0.01)
    assert "meter-x" not in (wclient.get("/staff").text.split('id="unassigned"') + [""])[1]
    # An admin of the association sees meter-y and puts it in the other deployment's household.
    csrf = sign_in(wclient, "admin")
    assert 'data-meter="meter-y"' in wclient.get("/staff").text
    r = post(wclient, "/staff/meters/meter-y/assign", csrf, household_id=str(world.hh("C")),
             ch0_label="Maison", ch0_role="main")
    assert r.status_code == 303
    assert day_kwh(wclient, world, "C", "2026-03-26") == pytest.approx(16.8 + 2.4, abs=0.01)
    assign = [(e.username, e.deployment_id) for e in audit_rows(world, action="meter.assign")]
    assert assign == [("leader1", world.deployments["d1"]), ("admin", world.deployments["d2"])]


# -- roles and form tokens on every form ------------------------------------------------------


def forms(world) -> list[tuple[str, dict]]:
    d1, a = world.deployments["d1"], world.hh("A")
    return [
        (f"/staff/deployments/{d1}/households", {"name": "Foyer R"}),
        (f"/staff/deployments/{d1}/tariffs", {"option": "base", "valid_from": "2026-03-01",
                                              "base_eur_per_kwh": "0.2"}),
        (f"/staff/deployments/{d1}/temperatures", {"temperatures": "2026-03-01 5"}),
        (f"/staff/households/{a}/settings", {"profile": "z"}),
        (f"/staff/households/{a}/link", {}),
        (f"/staff/households/{a}/link/revoke", {}),
        (f"/staff/households/{a}/meters", {"meter_id": "meter-z", "ch0_label": "M", "ch0_role": "main"}),
        (f"/staff/households/{a}/meters/meter-a/channels", {"ch0_label": "M", "ch0_role": "main"}),
    ]


def test_every_form_refuses_viewers_and_other_deployments(world, wclient, store):
    store.write(constant_readings("meter-w", local_ts(2026, 3, 20), NOW - 60, 100.0, 600), NOW)
    with world.app.state.sessionmaker() as db:
        admin.register_meter(db, db.get(admin.Deployment, world.deployments["d1"]), "meter-w")
        db.commit()
    everything = [*forms(world), ("/staff/meters/meter-w/assign",
                                  {"household_id": str(world.hh("A")), "ch0_label": "M", "ch0_role": "main"})]
    csrf = sign_in(wclient, "viewer1")
    for url, data in everything:
        r = post(wclient, url, csrf, **data)
        assert r.status_code == 403, (url, r.status_code)
    # A viewer reads the pages, without the forms.
    page = wclient.get(f"/staff/households/{world.hh('A')}/manage")
    assert page.status_code == 200 and 'id="reissue-form"' not in page.text
    csrf = sign_in(wclient, "leader2")
    for url, data in everything:
        r = post(wclient, url, csrf, **data)
        assert r.status_code == 404, (url, r.status_code)
    assert wclient.get(f"/staff/households/{world.hh('A')}/manage").status_code == 404
    assert wclient.get(f"/staff/deployments/{world.deployments['d1']}").status_code == 404
    assert audit_rows(world) == []
    assert wclient.get(f"/h/{world.link('A')}").status_code == 200  # the link still works


def test_every_form_needs_the_sessions_token(world, wclient):
    sign_in(wclient, "admin")
    other = csrf_token("another session")
    for url, data in forms(world):
        for token in ("", other):
            r = post(wclient, url, token, **data)
            assert r.status_code == 403 and "Rechargez la page" in r.text, (url, token)
    assert audit_rows(world) == []
    wclient.cookies.clear()
    r = post(wclient, forms(world)[0][0], "", **forms(world)[0][1])
    assert r.status_code == 401  # no session at all: sign in first


# -- the audit log ----------------------------------------------------------------------------


def test_json_api_changes_are_audited_too(world, wclient):
    h = world.bearer(world.staff_tokens["leader1"])
    hid = world.hh("A")
    r = wclient.patch(f"/api/v1/households/{hid}", json={"profile": "maison"}, headers=h)
    assert r.status_code == 200
    assert wclient.post(f"/api/v1/households/{hid}/link", headers=h).status_code == 201
    assert wclient.delete(f"/api/v1/households/{hid}/link", headers=h).status_code == 200
    r = wclient.post(f"/api/v1/deployments/{world.deployments['d1']}/tariffs", headers=h,
                     json={"option": "base", "valid_from": "2026-03-20", "base_eur_per_kwh": 0.25})
    assert r.status_code == 201
    assert [(e.action, e.username, e.ts_utc) for e in audit_rows(world)] == [
        ("household.update", "leader1", NOW), ("link.issue", "leader1", NOW),
        ("link.revoke", "leader1", NOW), ("tariff.add", "leader1", NOW)]
    assert audit_rows(world)[0].detail == "Foyer A: profile"


def test_audit_page_by_role_and_deployment(world, wclient):
    csrf = sign_in(wclient, "leader1")
    post(wclient, f"/staff/households/{world.hh('A')}/link", csrf)
    csrf = sign_in(wclient, "leader2")
    post(wclient, f"/staff/households/{world.hh('C')}/link", csrf)
    page = wclient.get("/staff/audit").text  # leader2: its deployment's entries only
    assert "Foyer C" in page and "Foyer A" not in page and "Nouveau lien" in page
    assert 'id="audit-filter"' not in page
    sign_in(wclient, "viewer1")
    assert wclient.get("/staff/audit").status_code == 403
    sign_in(wclient, "admin")
    page = wclient.get("/staff/audit").text
    assert "Foyer C" in page and "Foyer A" in page and "leader1" in page and "leader2" in page
    page = wclient.get(f"/staff/audit?deployment={world.deployments['d1']}").text
    assert "Foyer A" in page and "Foyer C" not in page
    assert wclient.get("/staff/audit?deployment=999").status_code == 404
    en = wclient.get("/staff/audit?lang=en").text
    assert "New link issued" in en and "Audit log" in en


# -- in a real browser --------------------------------------------------------------------------


@pytest.fixture
def served(world):
    """The test world's app on a loopback port, for the browser."""
    import threading

    import uvicorn

    from tests.services import free_port, wait_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(world.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_port("127.0.0.1", port, 15)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_browser_create_household_then_its_link_opens_its_page(world, served, tmp_path):
    """A leader, on a 360 px phone: sign in, create a household with its meter and clamps,
    see its link once, follow it to the household's page; then every staff flow in the
    browser: settings, a new link, revoking it, a tariff, temperatures, the audit log."""
    import shutil
    from pathlib import Path

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from .test_browser import ARTIFACTS, wait_for

    binary = shutil.which("chromium") or "/usr/bin/chromium"
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not (Path(binary).exists() and Path(driver_path).exists()):
        pytest.fail("chromium et chromium-driver sont nécessaires : apt-get install chromium "
                    "chromium-driver", pytrace=False)
    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=360,800", f"--user-data-dir={tmp_path / 'p'}"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=opts)
    driver.set_page_load_timeout(30)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 360, "height": 740, "deviceScaleFactor": 1, "mobile": True})
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def fits(shot: str) -> None:
        wait_for(lambda: driver.execute_script("return document.readyState") == "complete")
        assert driver.execute_script("return document.documentElement.scrollWidth") <= \
            driver.execute_script("return window.innerWidth"), f"{shot}: scrolls sideways at 360 px"
        driver.save_screenshot(str(ARTIFACTS / f"{shot}.png"))

    try:
        driver.get(f"{served}/staff/login")
        driver.find_element(By.NAME, "username").send_keys("leader1")
        driver.find_element(By.NAME, "password").send_keys(PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "form.stack button").click()
        wait_for(lambda: driver.current_url.split("?")[0].endswith("/staff"), what="the staff page")
        deployment_url = driver.find_element(By.CSS_SELECTOR, "a.manage-deployment").get_attribute("href")
        driver.find_element(By.CSS_SELECTOR, "a.manage-deployment").click()
        wait_for(lambda: driver.find_elements(By.ID, "household-form"), what="the new household form")
        form = driver.find_element(By.ID, "household-form")
        form.find_element(By.NAME, "name").send_keys("Foyer Navigateur")
        form.find_element(By.NAME, "profile").send_keys("appart-gaz")
        form.find_element(By.NAME, "meter_id").send_keys("meter-n")
        form.find_element(By.NAME, "ch0_label").send_keys("Toute la maison")
        Select(form.find_element(By.NAME, "ch0_role")).select_by_value("main")
        form.find_element(By.NAME, "ch1_label").send_keys("Chauffe-eau")
        Select(form.find_element(By.NAME, "ch1_role")).select_by_value("sub")
        fits("staff-new-household-form")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        link = wait_for(lambda: driver.find_elements(By.ID, "household-link"), what="the new link")[0]
        assert "n'est affiché qu'une fois" in driver.find_element(By.ID, "new-link").text
        assert link.text.startswith(f"{served}/h/")
        link_text = link.text
        fits("staff-household-link")
        manage_url = driver.find_element(By.ID, "manage-link").get_attribute("href")
        link.click()
        wait_for(lambda: "/h/" in driver.current_url, what="the household's page")
        fits("staff-household-link-opened")
        # the household's own page, its name in the header (the heading says what the page shows)
        assert "Foyer Navigateur" in driver.find_element(By.TAG_NAME, "header").text
        driver.get(manage_url)
        wait_for(lambda: driver.find_elements(By.ID, "settings-form"), what="the household's settings")
        fits("staff-household-manage")
        assert "Toute la maison" in driver.find_element(By.ID, "meters").get_attribute("innerHTML")

        def set_value(element, value: str) -> None:  # a date field, whatever the browser's locale
            driver.execute_script("arguments[0].value = arguments[1]", element, value)

        def submit_and_wait_for_the_next_page(form) -> None:
            """Post the form, then wait until the page it answers has replaced this one."""
            from selenium.common.exceptions import WebDriverException
            from selenium.webdriver.support.ui import WebDriverWait

            # Mark this document, then wait for one without the mark: a new page has loaded.
            # (Selenium's staleness_of asks the old node, and Chromium can answer that with
            # an inspector error instead of "stale" while the page is being replaced.)
            driver.execute_script("window.__cwOldPage = true")
            form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            # A script run while the page is changing can fail: try again until the deadline.
            WebDriverWait(driver, 15, ignored_exceptions=(WebDriverException,)).until(
                lambda d: d.execute_script(
                    "return window.__cwOldPage !== true && document.readyState === 'complete'"))

        # the reference period, through the settings form
        form = driver.find_element(By.ID, "settings-form")
        set_value(form.find_element(By.NAME, "baseline_start"), "2026-03-01")
        set_value(form.find_element(By.NAME, "baseline_end"), "2026-03-14")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        try:
            wait_for(lambda: driver.find_elements(By.ID, "saved"), what="the saved settings")
        except AssertionError:  # say what the page answered instead
            page = driver.find_element(By.TAG_NAME, "body").text[:1500]
            raise AssertionError(f"{driver.current_url}\n{page}") from None
        fits("staff-household-settings-saved")
        # a new link (shown once), then the link revoked
        driver.find_element(By.CSS_SELECTOR, "#reissue-form button").click()
        new_link = wait_for(lambda: driver.find_elements(By.ID, "household-link"), what="the new link")[0]
        assert new_link.text.startswith(f"{served}/h/") and new_link.text != link_text
        fits("staff-household-link-reissued")
        driver.get(manage_url)
        wait_for(lambda: driver.find_elements(By.ID, "revoke-form"), what="the revoke form")
        driver.find_element(By.CSS_SELECTOR, "#revoke-form button").click()
        wait_for(lambda: "saved=revoked" in driver.current_url, what="the revoked link")
        assert "ne permet plus" in driver.find_element(By.ID, "saved").text
        fits("staff-household-link-revoked")
        # a tariff and temperatures, on the deployment's page
        driver.get(deployment_url)
        form = wait_for(lambda: driver.find_elements(By.ID, "tariff-form"), what="the tariff form")[0]
        set_value(form.find_element(By.NAME, "valid_from"), "2026-04-01")
        form.find_element(By.NAME, "base_eur_per_kwh").send_keys("0,2516")
        form.find_element(By.NAME, "source").send_keys("Navigateur")
        submit_and_wait_for_the_next_page(form)
        assert "Navigateur" in driver.find_element(By.ID, "tariffs").text
        fits("staff-deployment-tariff-added")
        form = driver.find_element(By.ID, "temperatures-form")
        form.find_element(By.NAME, "temperatures").send_keys("2026-01-15 4,5\n2026-01-16 -1")
        submit_and_wait_for_the_next_page(form)
        assert driver.find_elements(By.ID, "temperatures-form")
        fits("staff-deployment-temperatures-saved")
        # and every action in the audit log
        driver.get(f"{served}/staff/audit?lang=fr")
        fits("staff-audit")
        audit_text = driver.find_element(By.TAG_NAME, "main").text
        assert "Foyer Navigateur" in audit_text
    finally:
        driver.quit()
    with world.app.state.sessionmaker() as db:
        hh = db.scalar(select(Household).where(Household.name == "Foyer Navigateur"))
        assert hh is not None and [a.meter_id for a in hh.assignments] == ["meter-n"]
        assert [(c.label, c.role) for c in hh.assignments[0].meter.channels] == [
            ("Toute la maison", "main"), ("Chauffe-eau", "sub")]
        # what each form saved
        assert (str(hh.baseline_start), str(hh.baseline_end)) == ("2026-03-01", "2026-03-14")
        assert all(link.revoked_utc is not None for link in hh.links)
        assert db.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.household_id == hh.id)) >= 4  # created, settings, new link, revoked
    tariffs = {(t["valid_from"], t["base_eur_per_kwh"], t["source"])
               for t in httpx.get(f"{served}/api/v1/deployments/{world.deployments['d1']}/tariffs",
                                  headers=world.bearer(world.staff_tokens["leader1"]), timeout=10).json()}
    assert ("2026-04-01", 0.2516, "Navigateur") in tariffs
