"""Staff: sign-in, the meters status page, management endpoints, API tokens."""

from __future__ import annotations

from .world import NOW, PASSWORD


def login(c, user="leader1", password=PASSWORD):
    return c.post("/staff/login", data={"username": user, "password": password}, follow_redirects=False)


def test_login_page_wrong_password_then_staff_page(world, wclient):
    assert "Connexion de l&#39;équipe" in wclient.get("/staff/login").text
    r = login(wclient, password="nope")
    assert r.status_code == 401 and "Identifiant ou mot de passe incorrect" in r.text
    r = login(wclient)
    assert r.status_code == 303 and r.headers["location"].startswith("/staff")
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower() and "secure" not in cookie.lower()
    page = wclient.get("/staff").text
    assert "Atelier Belleville" in page and "Atelier Lyon" not in page
    # meter-a: online, 1 clamp fault, 3 readings dropped; meter-b said offline.
    row_a = page.split('data-meter="meter-a"')[1].split("</tr>")[0]
    assert "en ligne" in row_a and "1: unplugged" in row_a and ">3<" in row_a and "Foyer A" in row_a
    row_b = page.split('data-meter="meter-b"')[1].split("</tr>")[0]
    assert "hors ligne" in row_b
    # a browser's own form sends its Origin (tests/api/test_web_security.py: without it, 403)
    r = wclient.post("/staff/logout", headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert r.status_code == 303
    assert wclient.get("/staff", follow_redirects=False).status_code == 303


def test_meter_status_json(world, wclient):
    h = world.bearer(world.staff_tokens["viewer1"])
    rows = {
        m["meter_id"]: m
        for m in wclient.get(f"/api/v1/deployments/{world.deployments['d1']}/meters", headers=h).json()
    }
    assert set(rows) == {"meter-a", "meter-b"}
    assert rows["meter-a"]["online"] is True and rows["meter-a"]["queue_drops"] == 3
    assert rows["meter-a"]["clamp_faults"] == ["1: unplugged"]
    assert rows["meter-b"]["online"] is False and rows["meter-b"]["household"] == "Foyer B"
    assert rows["meter-a"]["last_seen_age_s"] == NOW - rows["meter-a"]["last_seen_utc"]


def test_leader_creates_household_meter_and_link(world, wclient):
    h = world.bearer(world.staff_tokens["leader1"])
    d1 = world.deployments["d1"]
    r = wclient.post(
        f"/api/v1/deployments/{d1}/households", json={"name": "Foyer N", "profile": "appart-gaz"}, headers=h
    )
    assert r.status_code == 201
    hid, token = r.json()["household_id"], r.json()["token"]
    assert (
        wclient.post(f"/api/v1/deployments/{d1}/households", json={"name": "Foyer N"}, headers=h).status_code
        == 409
    )
    assert (
        wclient.post(f"/api/v1/deployments/{d1}/meters", json={"meter_id": "meter-n"}, headers=h).status_code
        == 201
    )
    r = wclient.post(
        f"/api/v1/households/{hid}/meters",
        json={"meter_id": "meter-n", "valid_from": "2026-03-30"},
        headers=h,
    )
    assert r.status_code == 201 and r.json()["meters"][0]["meter_id"] == "meter-n"
    r = wclient.post(
        f"/api/v1/households/{hid}/meters",
        json={"meter_id": "meter-n", "valid_from": "2026-03-01"},
        headers=h,
    )
    assert r.status_code == 409 and "date après" in r.json()["detail"]
    page = wclient.get(f"/h/{token}")
    assert page.status_code == 200 and "Foyer N" in page.text
    # The other deployment's meters cannot be taken.
    r = wclient.post(
        f"/api/v1/households/{hid}/meters",
        json={"meter_id": "meter-c", "valid_from": "2026-03-30"},
        headers=h,
    )
    assert r.status_code == 404


def test_api_tokens_can_be_listed_and_revoked(world, wclient):
    h = world.bearer(world.staff_tokens["viewer1"])
    r = wclient.post("/api/v1/staff/tokens", json={"name": "script"}, headers=h)
    assert r.status_code == 201
    new = r.json()
    names = [t["name"] for t in wclient.get("/api/v1/staff/tokens", headers=h).json()]
    assert "script" in names and all(
        "token" not in t or t["token"] is None for t in wclient.get("/api/v1/staff/tokens", headers=h).json()
    )
    h2 = world.bearer(new["token"])
    assert wclient.get("/api/v1/staff/me", headers=h2).json()["username"] == "viewer1"
    assert wclient.delete(f"/api/v1/staff/tokens/{new['id']}", headers=h).status_code == 200
    r = wclient.get("/api/v1/staff/me", headers=h2)
    assert r.status_code == 401 and "plus) valable" in r.json()["detail"]


def test_tariffs_and_carbon_factor(world, wclient):
    leader = world.bearer(world.staff_tokens["leader1"])
    d1 = world.deployments["d1"]
    tariffs = wclient.get(f"/api/v1/deployments/{d1}/tariffs", headers=leader).json()
    assert [
        (t["option"], t["valid_from"], t["base_eur_per_kwh"] or t["peak_eur_per_kwh"]) for t in tariffs
    ] == [
        ("base", "2024-02-01", 0.2516),
        ("base", "2025-02-01", 0.2016),
        ("base", "2025-08-01", 0.1952),
        ("hphc", "2025-08-01", 0.2081),
    ]
    r = wclient.post(
        f"/api/v1/deployments/{d1}/tariffs",
        json={"option": "base", "valid_from": "2026-03-20", "base_eur_per_kwh": 0.25, "source": "test"},
        headers=leader,
    )
    assert r.status_code == 201
    r = wclient.post(
        f"/api/v1/deployments/{d1}/tariffs",
        json={"option": "hphc", "valid_from": "2026-03-20", "peak_eur_per_kwh": 0.25},
        headers=leader,
    )
    assert r.status_code == 422 and "offpeak_eur_per_kwh" in r.json()["detail"]
    admin_h = world.bearer(world.staff_tokens["admin"])
    r = wclient.patch(
        f"/api/v1/deployments/{d1}",
        json={"co2_g_per_kwh": 22, "co2_source": "RTE 2024, production"},
        headers=admin_h,
    )
    assert r.status_code == 200
    s = wclient.get(
        f"/api/v1/households/{world.hh('A')}/savings?start=2026-03-15&end=2026-03-30",
        headers=world.bearer(world.link("A")),
    ).json()
    saved = s["saved_kwh"]
    # 15-19 March at 0.1952, 20-30 March at 0.25 (a 23-hour day on the 29th).
    per_day = 12.0 - 9.6
    expected_eur = 5 * per_day * 0.1952 + (10 * per_day + (11.5 - 9.2)) * 0.25
    assert s["saved_eur"] == __import__("pytest").approx(expected_eur)
    assert s["co2_source"] == "RTE 2024, production" and s["saved_kg_co2"] == __import__("pytest").approx(
        saved * 0.022
    )
