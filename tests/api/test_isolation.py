"""Isolation: for every endpoint and page, one household never reads another's data, and
staff of one deployment never read another's. The route list comes from the app itself:
a new route that is not listed here makes test_every_route_is_covered fail."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from citizenwatt.config import Settings

from .conftest import Clock
from .world import build_world


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    from citizenwatt.store.sqlite import SqliteStore
    store = SqliteStore(tmp_path_factory.mktemp("iso") / "readings.sqlite")
    # Hundreds of wrong tokens from one address, on purpose: no failure limit here (it has
    # its own tests, test_web_security.py).
    settings = Settings(api={"database_url": "sqlite://", "auth_max_failures": 10_000})
    world = build_world(store, Clock(), settings=settings)
    yield world
    store.close()


@pytest.fixture(scope="module")
def c(w):
    with TestClient(w.app) as client:
        yield client


# Request bodies valid enough that a refusal can only come from the access rules.
BODIES = {
    ("PATCH", "/api/v1/households/{household_id}"): {"profile": "x"},
    ("POST", "/api/v1/households/{household_id}/meters"): {"meter_id": "meter-b", "valid_from": "2026-03-30"},
    ("PUT", "/api/v1/meters/{meter_id}/channels/{channel}"): {"label": "x", "role": "main"},
    ("POST", "/api/v1/deployments/{deployment_id}/households"): {"name": "Intrus"},
    ("POST", "/api/v1/deployments/{deployment_id}/meters"): {"meter_id": "meter-z"},
    ("POST", "/api/v1/deployments/{deployment_id}/tariffs"): {
        "option": "base",
        "valid_from": "2027-01-01",
        "base_eur_per_kwh": 0.3,
    },
    ("PUT", "/api/v1/deployments/{deployment_id}/temperatures"): [{"day": "2026-03-01", "mean_temp_c": 5}],
    ("PATCH", "/api/v1/deployments/{deployment_id}"): {"co2_g_per_kwh": 1},
    ("POST", "/api/v1/deployments"): {"name": "Nouveau"},
    ("POST", "/api/v1/staff/users"): {
        "username": "intrus",
        "password": "0123456789ab",
        "role": "admin",
        "deployment_id": 1,
    },
    ("POST", "/api/v1/staff/tokens"): {"name": "x"},
    ("POST", "/api/v1/meters/{meter_id}/update"): {"version": "0.3.0"},
    # Naming the victim's deployment (1, Belleville) and its household and meter.
    ("POST", "/api/v1/meters/register"): {
        "meter_id": "meter-b",
        "household": {"ref": "Foyer B"},
        "channels": [{"id": 0, "label": "x"}],
        "deployment_id": 1,
    },
}
QUERY = {"confirm": "Foyer B"}

# Routes that are about the caller itself or public: reachable, but they must not leak.
SELF_OR_PUBLIC = {
    "/api/v1/staff/me",
    "/api/v1/staff/tokens",
    "/api/v1/deployments",
    "/api/v1/meters",
    "/",
    "/healthz",
    "/staff/login",
    "/staff/logout",
    "/staff",
    "/staff/audit",  # the caller's own deployment's entries (test_self_routes_do_not_leak)
    # Firmware releases belong to the association, not to a deployment: no household data
    # (tests/api/test_firmware_api.py: who may publish, list and download).
    "/api/v1/firmware",
    "/api/v1/firmware-key",
    "/api/v1/firmware/{version}",
    "/api/v1/firmware/{version}/build",
    "/api/firmware/{version}/archive",  # public: what the meters download, signed
}
# Pages opened by a household's own secret link: the victim's link is never known to the
# attacker, so they are checked by what the attacker's own link shows (test_own_pages...).
LINK_PAGES_PREFIX = "/h/{token}"


def _walk(items):
    for r in items:
        sub = getattr(r, "original_router", None)  # FastAPI's included routers
        if sub is not None:
            yield from _walk(sub.routes)
        else:
            yield r


def routes(app):
    out = []
    for r in _walk(app.routes):
        if isinstance(r, APIRoute):
            for m in sorted(r.methods - {"HEAD"}):
                out.append((m, r.path))
    assert len(out) > 40, "the route walk found too few routes"
    return out


def fill(path, w, victim_key, victim_dep):
    return (
        path.replace("{household_id}", str(w.hh(victim_key)))
        .replace("{deployment_id}", str(w.deployments[victim_dep]))
        .replace("{meter_id}", f"meter-{victim_key.lower()}")
        .replace("{channel}", "0")
        .replace("{token_id}", str(w.staff_token_ids["leader1" if victim_dep == "d1" else "leader2"]))
    )


def call(c, method, path, headers, body_key):
    body = BODIES.get(body_key)
    return c.request(
        method,
        path,
        headers=headers,
        params=QUERY if method == "DELETE" else None,
        json=body,
        follow_redirects=False,
    )


def markers(w, victim_key):
    return [f"Foyer {victim_key}", f"meter-{victim_key.lower()}"]


def attackers(w):
    return {
        # Household A's link against household B (same deployment) and C (other one).
        "household-A->B": (w.bearer(w.link("A")), "B", "d1"),
        "household-A->C": (w.bearer(w.link("A")), "C", "d2"),
        # A leader of Lyon against Belleville's households, meters and settings.
        "leader2->B": (w.bearer(w.staff_tokens["leader2"]), "B", "d1"),
        "anonymous->B": ({}, "B", "d1"),
        "bad-token->B": ({"Authorization": "Bearer not-a-real-token"}, "B", "d1"),
    }


def test_every_route_is_covered(w):
    for method, path in routes(w.app):
        if path in SELF_OR_PUBLIC or path.startswith(LINK_PAGES_PREFIX) or path.startswith("/static"):
            continue
        assert any(
            p in path for p in ("{household_id}", "{deployment_id}", "{meter_id}", "{token_id}")
        ) or path in (
            "/api/v1/meters",
            "/api/v1/deployments",
            "/api/v1/staff/users",
            "/api/v1/meters/register",
            "/openapi.json",
            "/docs",
            "/docs/oauth2-redirect",
            "/redoc",
            "/h/{token}/delete",
        ), f"{method} {path}: add it to the isolation matrix"


@pytest.mark.parametrize(
    "attacker", ["household-A->B", "household-A->C", "leader2->B", "anonymous->B", "bad-token->B"]
)
def test_no_route_gives_another_households_data(w, c, attacker):
    headers, victim, victim_dep = attackers(w)[attacker]
    checked = 0
    for method, path in routes(w.app):
        if (
            path in SELF_OR_PUBLIC
            or path.startswith(LINK_PAGES_PREFIX)
            or path in ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc")
        ):
            continue
        url = fill(path, w, victim, victim_dep)
        r = call(c, method, url, headers, (method, path))
        assert r.status_code in (401, 403, 404), (
            f"{attacker}: {method} {url} -> {r.status_code} {r.text[:200]}"
        )
        for m in markers(w, victim):
            if m in url:
                continue  # an error may repeat the id the caller sent: that is no leak
            assert m not in r.text, f"{attacker}: {method} {url} leaks {m!r}"
        checked += 1
    assert checked >= 30


def test_self_routes_do_not_leak(w, c):
    # Belleville's audit log gets an entry naming Foyer B (changed, then put back).
    leader1 = w.bearer(w.staff_tokens["leader1"])
    for option in ("hphc", "base"):
        r = c.patch(f"/api/v1/households/{w.hh('B')}", json={"tariff_option": option}, headers=leader1)
        assert r.status_code == 200
    assert "Foyer B" in c.get("/staff/audit", headers=leader1).text
    for name, headers in (
        ("household A", w.bearer(w.link("A"))),
        ("leader2", w.bearer(w.staff_tokens["leader2"])),
    ):
        for method, path in (
            ("GET", "/api/v1/deployments"),
            ("GET", "/api/v1/staff/me"),
            ("GET", "/api/v1/meters"),
            ("GET", "/api/v1/staff/tokens"),
            ("GET", "/"),
            ("GET", "/staff"),
            ("GET", "/staff/audit"),
        ):
            r = c.request(method, path, headers=headers, follow_redirects=False)
            assert r.status_code < 500
            for m in ("Foyer B", "meter-b", "Atelier Belleville"):
                assert m not in r.text, f"{name}: {path} leaks {m!r}"


def test_own_link_pages_show_only_own_household(w, c):
    token = w.link("A")
    for path in (
        "",
        "/today",
        "/history",
        "/history?view=month",
        "/history?view=year",
        "/savings",
        "/compare",
        "/data",
        "/export.json",
        "/energy.csv",
        "/readings.csv",
    ):
        r = c.get(f"/h/{token}{path}")
        assert r.status_code == 200, path
        for m in ("Foyer B", "meter-b", "Foyer C", "meter-c"):
            assert m not in r.text, f"/h/<A>{path} leaks {m!r}"
    for path in ("", "/history", "/export.json"):
        assert c.get(f"/h/{token[:-1]}x{path}").status_code == 404


def test_staff_household_pages_follow_the_deployment(w, c):
    # A Lyon leader's session cannot open Belleville's household pages.
    from citizenwatt.api import admin
    from citizenwatt.api.models import StaffUser

    with w.app.state.sessionmaker() as db:
        from sqlalchemy import select

        u = db.scalar(select(StaffUser).where(StaffUser.username == "leader2"))
        _, session = admin.create_token(db, u, "session")
        db.commit()
    cookies = {"cw_session": session}
    for path in ("", "/history", "/savings", "/export.json"):
        r = c.get(f"/staff/households/{w.hh('B')}{path}", cookies=cookies)
        assert r.status_code == 404 and "Foyer B" not in r.text
        assert c.get(f"/staff/households/{w.hh('C')}{path}", cookies=cookies).status_code == 200
    assert c.get(f"/staff/households/{w.hh('C')}").status_code == 401  # no cookie
    staff = c.get("/staff", cookies=cookies)
    assert "Foyer C" in staff.text and "Foyer B" not in staff.text and "meter-b" not in staff.text


def test_household_can_read_itself_through_every_household_endpoint(w, c):
    h = w.bearer(w.link("A"))
    for path in ("", "/live", "/energy", "/energy.csv", "/readings.csv", "/savings", "/comparison",
                 "/export", "/month", "/month.pdf"):
        r = c.get(f"/api/v1/households/{w.hh('A')}{path}", headers=h)
        assert r.status_code == 200, path
        assert "Foyer B" not in r.text and "meter-b" not in r.text
    # ...but not the staff endpoints of its own deployment.
    r = c.get(f"/api/v1/deployments/{w.deployments['d1']}/meters", headers=h)
    assert r.status_code == 403 and "réservée à l'équipe" in r.json()["detail"]


def test_roles(w, c):
    viewer = w.bearer(w.staff_tokens["viewer1"])
    leader = w.bearer(w.staff_tokens["leader1"])
    d1 = w.deployments["d1"]
    assert c.get(f"/api/v1/households/{w.hh('B')}/energy", headers=viewer).status_code == 200
    r = c.post(f"/api/v1/households/{w.hh('B')}/link", headers=viewer)
    assert r.status_code == 403 and "leader" in r.json()["detail"]
    assert c.post("/api/v1/deployments", json={"name": "X"}, headers=leader).status_code in (403, 404)
    r = c.post(
        "/api/v1/staff/users",
        json={"username": "new", "password": "0123456789ab", "role": "viewer", "deployment_id": d1},
        headers=leader,
    )
    assert r.status_code == 403
    admin_h = w.bearer(w.staff_tokens["admin"])
    assert {d["name"] for d in c.get("/api/v1/deployments", headers=admin_h).json()} == {
        "Atelier Belleville",
        "Atelier Lyon",
    }
    assert [d["name"] for d in c.get("/api/v1/deployments", headers=leader).json()] == ["Atelier Belleville"]


BAD_QUERY = {"start": "x", "end": "2026-13-01", "resolution": "bogus", "channel": "-1", "tz": "Mars/X"}


def test_who_is_asked_before_what(w, c):
    # Wrong dates and bodies from a caller without rights get the access answer, not the
    # input rules: who is asking is checked (api/deps.py) before the input is read.
    checked = 0
    for method, path in routes(w.app):
        if not path.startswith("/api/v1/"):
            continue
        url = fill(path, w, "B", "d1")
        body = None if method in ("GET", "DELETE") else {"bogus": [1]}
        r = c.request(method, url, params=BAD_QUERY, json=body)
        assert r.status_code == 401, f"anonymous: {method} {url} -> {r.status_code} {r.text[:200]}"
        r = c.request(method, url, params=BAD_QUERY, json=body, headers=w.bearer(w.link("A")))
        assert r.status_code in (403, 404), f"household A: {method} {url} -> {r.status_code}"
        checked += 1
    assert checked >= 30
