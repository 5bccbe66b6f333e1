"""Web security of the API (issue 12): no secret in any log line, no caching of personal
answers, HSTS and Secure cookies over HTTPS, cross-site state-changing requests refused,
failure limits that answer 429 then recover, the same password work for every username,
409 on a taken name, strict numbers, OPTIONS and 405 listing the methods, private files."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from citizenwatt.api import admin
from citizenwatt.api.db import DatabaseError, init_db, make_engine
from citizenwatt.api.security import UNSAFE_METHODS, SecretMaskFilter, mask_secrets
from citizenwatt.cli import app as cli_app
from citizenwatt.config import Settings
from citizenwatt.store.influx import SpoolLedger
from citizenwatt.store.sqlite import SqliteStore

from ..services import free_port
from .conftest import Clock
from .world import PASSWORD, build_world

FOREIGN = "https://evil.example"
OWN = "http://testserver"


def world_with(tmp_path, **api):
    store = SqliteStore(tmp_path / "readings.sqlite")
    return build_world(store, Clock(), settings=Settings(api={"database_url": "sqlite://", **api}))


@pytest.fixture
def w(tmp_path):
    world = world_with(tmp_path)
    yield world
    world.store.close()


def session_of(c: TestClient, username: str = "admin") -> str:
    r = c.post("/staff/login", data={"username": username, "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303, r.text
    c.cookies.clear()  # each request says whether it carries the session
    return r.cookies["cw_session"]


# -- secrets never in a log line ------------------------------------------------------------


def test_mask_secrets_hides_links_bearer_tokens_query_tokens_and_cookies():
    secret = "Zq3-abc_DEF456ghiJKL789mnoPQR012st"
    texts = {
        f'127.0.0.1:5000 - "GET /h/{secret}/history?view=day HTTP/1.1" 200': "/h/***/history?view=day",
        f"Authorization: Bearer {secret}": "Bearer ***",
        f"GET /api/v1/x?lang=fr&token={secret}&a=1": "&token=***&a=1",
        f"cookie: cw_session={secret}; other=1": "cw_session=***; other=1",
    }
    for text, kept in texts.items():
        masked = mask_secrets(text)
        assert secret not in masked and kept in masked, masked
    assert mask_secrets("GET /api/v1/meters 200") == "GET /api/v1/meters 200"


def test_filter_keeps_uvicorn_access_arguments_in_place_and_masks_tracebacks():
    secret = "s3cr3t-link-token-0123456789abcdef"
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:1", "GET", f"/h/{secret}/today", "1.1", 200), None)
    try:
        raise ValueError(f"bad page /h/{secret}")
    except ValueError:
        record.exc_info = sys.exc_info()
    assert SecretMaskFilter().filter(record)
    assert record.args == ("127.0.0.1:1", "GET", "/h/***/today", "1.1", 200)
    line = logging.Formatter("%(message)s").format(record)
    assert secret not in line and "/h/***" in line and "ValueError" in line


def test_an_unexpected_error_on_a_household_page_logs_no_link(w, monkeypatch, caplog):
    token = w.link("A")

    def broken(*_args, **_kwargs):
        raise RuntimeError(f"store failed for /h/{token}")

    monkeypatch.setattr("citizenwatt.api.routes.pages.live_of", broken)
    with TestClient(w.app, raise_server_exceptions=False) as c, caplog.at_level(logging.ERROR):
        assert c.get(f"/h/{token}").status_code == 500
    logged = [r for r in caplog.records if r.name == "citizenwatt.api.errors"]
    assert len(logged) == 1 and "/h/***" in caplog.text and "RuntimeError" in caplog.text
    assert token not in caplog.text
    assert SecretMaskFilter in {type(f) for f in logging.lastResort.filters}


def test_no_link_or_token_in_any_log_line_of_the_running_api(tmp_path):
    """`citizenwatt api` in its own process, with uvicorn's access log: household pages by
    link, JSON by bearer token, a token in a query, a wrong link; then its whole output."""
    old = os.umask(0o022)  # a usual umask, so the modes checked below mean something
    try:
        SqliteStore(tmp_path / "data" / "readings.sqlite").close()  # the collector made the folder
        run = CliRunner()
        d = ["--data-dir", str(tmp_path / "data")]
        assert run.invoke(cli_app, ["admin", "deployment", "Atelier", *d]).exit_code == 0
        r = run.invoke(cli_app, ["admin", "household", "Atelier", "Foyer 1", "--meter", "demo-01", *d])
        assert r.exit_code == 0, r.output
    finally:
        os.umask(old)
    token = re.search(r"/h/(\S+)", r.output).group(1)
    wrong = "Wr0ng-link-that-looks-real-1234567890"
    port = free_port()
    env = {**os.environ, "CITIZENWATT_LANG": "en"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "citizenwatt.cli", "api", *d, "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    base = f"http://127.0.0.1:{port}"

    def get(path, headers=None):
        req = urllib.request.Request(base + path, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status
        except urllib.error.HTTPError as e:
            return e.code

    try:
        deadline = time.monotonic() + 30  # the server listens within this, or the test says why
        while True:
            try:
                assert get("/healthz") == 200
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    pytest.fail("citizenwatt api did not start: " + proc.communicate()[0])
                time.sleep(0.1)
        statuses = [
            get(f"/h/{token}"),
            get(f"/h/{token}/history?view=day&lang=en"),
            get("/api/v1/households/1", {"Authorization": f"Bearer {token}"}),
            get(f"/api/v1/households/1?token={token}", {"Authorization": f"Bearer {token}"}),
            get(f"/h/{wrong}"),
        ]
    finally:
        proc.terminate()
        output = proc.communicate(timeout=30)[0]
    assert statuses == [200, 200, 200, 200, 404], (statuses, output)
    lines = output.splitlines()
    access = [ln for ln in lines if '"GET /' in ln]
    assert len([ln for ln in access if "/h/***" in ln]) == 3, output
    assert any("/api/v1/households/1?token=***" in ln for ln in access), output
    assert token not in output and wrong not in output
    # the data folder, the readings and the households' database were created private
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
    for name in ("readings.sqlite", "citizenwatt.sqlite"):
        assert stat.S_IMODE((tmp_path / "data" / name).stat().st_mode) == 0o600, name


# -- headers ----------------------------------------------------------------------------


def test_personal_answers_are_not_stored_by_browsers_or_proxies(w):
    token, hid = w.link("A"), w.hh("A")
    bearer = w.bearer(token)
    with TestClient(w.app) as c:
        for path in ("", "/history", "/data", "/export.json", "/energy.csv"):
            r = c.get(f"/h/{token}{path}")
            assert r.status_code == 200 and r.headers["cache-control"] == "no-store", path
        for path in ("", "/live", "/energy", "/export", "/energy.csv"):
            r = c.get(f"/api/v1/households/{hid}{path}", headers=bearer)
            assert r.status_code == 200 and r.headers["cache-control"] == "no-store", path
        assert c.get("/h/not-a-link").headers["cache-control"] == "no-store"  # errors too
        assert "cache-control" not in c.get("/static/app.css").headers
        assert "strict-transport-security" not in c.get(f"/h/{token}").headers  # plain HTTP
    with TestClient(w.app, base_url="https://testserver") as c:  # X-Forwarded-Proto: https
        r = c.get(f"/h/{token}")
        assert r.headers["strict-transport-security"].startswith("max-age=")
        assert "secure" in c.post("/staff/login", data={"username": "admin", "password": PASSWORD},
                                  follow_redirects=False).headers["set-cookie"].lower()


@pytest.mark.parametrize("public_url, secure_cookies, hsts, secure", [
    ("https://watt.example.org", None, True, True),
    ("http://watt.example.org", None, False, False),
    (None, None, False, False),
    ("https://watt.example.org", False, True, False),
    (None, True, False, True),
])
def test_hsts_and_secure_cookie_follow_the_public_address(tmp_path, public_url, secure_cookies, hsts, secure):
    w = world_with(tmp_path, public_url=public_url, secure_cookies=secure_cookies)
    with TestClient(w.app) as c:
        assert ("strict-transport-security" in c.get("/staff/login").headers) is hsts
        r = c.post("/staff/login", data={"username": "admin", "password": PASSWORD}, follow_redirects=False)
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie
        assert ("; secure" in cookie) is secure
    w.store.close()


# -- cross-site requests ------------------------------------------------------------------


def walk(routes):
    for r in routes:
        sub = getattr(r, "original_router", None)  # FastAPI's included routers
        yield from walk(sub.routes) if sub is not None else (r,)


def unsafe_routes(app) -> list[tuple[str, str]]:
    return sorted((m, r.path) for r in walk(app.routes) for m in (getattr(r, "methods", None) or ())
                  if m in UNSAFE_METHODS)


def fill(path: str, w) -> str:
    values = {"token": w.link("A"), "household_id": w.hh("A"), "deployment_id": w.deployments["d1"],
              "meter_id": "meter-a", "channel": 0, "token_id": w.staff_token_ids["admin"],
              "version": "0.3.0"}
    # a parameter this test does not know fails here: a new route must be added above
    return re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), path)


def test_every_state_changing_route_refuses_a_cross_site_request(w):
    with TestClient(w.app) as c:
        cookie = {"Cookie": f"cw_session={session_of(c)}"}
        routes = unsafe_routes(w.app)
        assert ("POST", "/api/v1/households/{household_id}/link") in routes and len(routes) >= 15
        refused = []
        for method, path in routes:
            url = fill(path, w)
            for headers in ({"Origin": FOREIGN}, {"Origin": "null"}, {"Referer": FOREIGN + "/x"}, {}):
                r = c.request(method, url, headers={**cookie, **headers}, json={})
                if r.status_code == 403 and ("cross_site" in r.text or "autre site" in r.text):
                    refused.append((method, path, tuple(headers)))
        assert sorted(refused) == sorted((m, p, h) for m, p in routes
                                         for h in (("Origin",), ("Origin",), ("Referer",), ()))
        # the finding: a cross-site POST reissued the link; the household's link still works
        assert c.get(f"/h/{w.link('A')}").status_code == 200


def test_own_origin_and_bearer_calls_are_not_refused(w):
    with TestClient(w.app) as c:
        cookie = {"Cookie": f"cw_session={session_of(c)}"}
        hid = w.hh("A")
        r = c.post(f"/api/v1/households/{hid}/link", headers={**cookie, "Origin": OWN})
        assert r.status_code == 201 and c.get(r.json()["path"]).status_code == 200
        r = c.post(f"/api/v1/households/{hid}/link", headers={**cookie, "Referer": OWN + "/staff"})
        assert r.status_code == 201
        # a script with its token and no cookie: whatever Origin its tool sends
        r = c.post("/api/v1/staff/tokens", json={"name": "script"},
                   headers={**w.bearer(w.staff_tokens["admin"]), "Origin": FOREIGN})
        assert r.status_code == 201
        # a household's own deletion form (no cookie), sent by its browser from the page
        r = c.post(f"/h/{w.link('B')}/delete", data={"confirm": "Foyer B"}, headers={"Origin": OWN})
        assert r.status_code == 200
        r = c.post(f"/h/{w.link('C')}/delete", data={"confirm": "Foyer C"}, headers={"Origin": FOREIGN})
        assert r.status_code == 403


def test_public_address_is_an_own_origin_behind_a_proxy(tmp_path):
    w = world_with(tmp_path, public_url="https://watt.example.org")
    with TestClient(w.app) as c:
        cookie = {"Cookie": f"cw_session={session_of(c)}"}
        url = f"/api/v1/households/{w.hh('A')}/link"
        assert c.post(url, headers={**cookie, "Origin": "https://watt.example.org"}).status_code == 201
        assert c.post(url, headers={**cookie, "Origin": "https://watt.example.org.evil.example"}
                      ).status_code == 403
    w.store.close()


# -- failure limits ---------------------------------------------------------------------------


def test_wrong_links_and_tokens_lock_the_address_then_it_recovers(w):
    limit = w.app.state.settings.auth_max_failures
    window = w.app.state.settings.auth_failure_window_s
    good = w.link("A")
    with TestClient(w.app) as c, TestClient(w.app, client=("10.0.0.9", 4000)) as other:
        for i in range(limit):
            bad = f"guess-{i:04d}-abcdefghijklmnopqrstuvwxyz"
            r = c.get(f"/h/{bad}") if i % 2 else c.get("/api/v1/households/1", headers=w.bearer(bad))
            assert r.status_code in (401, 404), r.status_code
        r = c.get(f"/h/{good}")
        assert r.status_code == 429 and int(r.headers["retry-after"]) == window
        assert "Attendez 15 min" in r.text
        r = c.get(f"/api/v1/households/{w.hh('A')}", headers=w.bearer(good))
        assert r.status_code == 429 and r.json()["code"] == "too_many_failures"
        assert other.get(f"/h/{good}").status_code == 200  # another address is not locked
        w.clock.now_s += window - 1
        assert c.get(f"/h/{good}").headers["retry-after"] == "1"
        w.clock.now_s += 1
        assert c.get(f"/h/{good}").status_code == 200


def test_wrong_passwords_lock_the_address_and_the_account_then_they_recover(w):
    limit = w.app.state.settings.auth_max_failures
    window = w.app.state.settings.auth_failure_window_s

    def login(c, user, password):
        return c.post("/staff/login", data={"username": user, "password": password}, follow_redirects=False)

    with TestClient(w.app) as c, TestClient(w.app, client=("10.0.0.9", 4000)) as other:
        for i in range(limit):
            assert login(c, "leader1", f"wrong {i}").status_code == 401
        r = login(c, "leader1", PASSWORD)
        assert r.status_code == 429 and int(r.headers["retry-after"]) == window
        assert "cw_session" not in r.headers.get("set-cookie", "")
        assert login(c, "viewer1", PASSWORD).status_code == 429  # the address is locked
        assert login(other, "leader1", PASSWORD).status_code == 429  # and the account
        assert login(other, "viewer1", PASSWORD).status_code == 303  # not the others
        w.clock.now_s += window
        assert login(c, "leader1", PASSWORD).status_code == 303


def test_login_does_the_same_password_work_whether_the_user_exists_or_not(w, monkeypatch):
    calls = []
    real = hashlib.scrypt

    def counted(*args, **kwargs):
        calls.append((kwargs["n"], kwargs["r"], kwargs["p"], len(kwargs["salt"])))
        return real(*args, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counted)
    work = {}
    with w.app.state.sessionmaker() as db:
        db.scalar(select(admin.StaffUser).where(admin.StaffUser.username == "viewer1")).disabled = True
        db.flush()
        for username, password in (("nobody", "whatever pass"), ("leader1", "wrong password"),
                                   ("viewer1", PASSWORD), ("leader1", PASSWORD)):
            calls.clear()
            token = admin.login(db, username, password)
            work[username, token is not None] = list(calls)
    assert set(work) == {("nobody", False), ("leader1", False), ("viewer1", False), ("leader1", True)}
    assert len({tuple(c) for c in work.values()}) == 1 and len(work["nobody", False]) == 1


# -- answers the schema documents ---------------------------------------------------------------


def test_duplicate_names_answer_409(w, monkeypatch):
    h = w.bearer(w.staff_tokens["admin"])
    with TestClient(w.app) as c:
        r = c.patch(f"/api/v1/households/{w.hh('A')}", json={"name": "Foyer B"}, headers=h)
        assert r.status_code == 409 and r.json()["code"] == "household_exists"
        assert "Foyer B" in r.json()["detail"]
        r = c.patch(f"/api/v1/households/{w.hh('A')}", json={"name": "Foyer A"}, headers=h)
        assert r.status_code == 200
        r = c.post("/api/v1/deployments", json={"name": "Atelier Lyon"}, headers=h)
        assert r.status_code == 409 and r.json()["code"] == "deployment_exists"
        # two requests racing for one name: the database's rule answers 409, not 500
        monkeypatch.setattr(admin, "check_household_name_free", lambda *a: None)
        r = c.patch(f"/api/v1/households/{w.hh('A')}", json={"name": "Foyer B"}, headers=h)
        assert r.status_code == 409 and r.json()["code"] == "conflict"
        assert c.get(f"/api/v1/households/{w.hh('A')}", headers=h).json()["name"] == "Foyer A"


def test_numbers_are_strict(w):
    h = w.bearer(w.staff_tokens["admin"])
    url = f"/api/v1/deployments/{w.deployments['d1']}"
    with TestClient(w.app) as c:
        for bad in (False, True, "60", None):
            body = {"co2_g_per_kwh": bad} if bad is not None else {"hdd_base_c": "18"}
            assert c.patch(url, json=body, headers=h).status_code == 422, bad
        assert c.get("/api/v1/deployments", headers=h).json()[0]["co2_g_per_kwh"] != 61.5
        assert c.patch(url, json={"co2_g_per_kwh": 61.5}, headers=h).json()["co2_g_per_kwh"] == 61.5
        assert c.patch(url, json={"co2_g_per_kwh": 62}, headers=h).json()["co2_g_per_kwh"] == 62
        r = c.put(f"{url}/temperatures", json=[{"day": "2026-03-01", "mean_temp_c": False}], headers=h)
        assert r.status_code == 422


def test_options_and_405_list_the_methods_of_the_address(w):
    with TestClient(w.app) as c:
        r = c.options("/api/v1/deployments")
        assert r.status_code == 204 and r.headers["allow"] == "GET, HEAD, OPTIONS, POST"
        r = c.options(f"/api/v1/households/{w.hh('A')}")
        assert r.headers["allow"] == "DELETE, GET, HEAD, OPTIONS, PATCH"
        r = c.put("/api/v1/deployments", json={}, headers=w.bearer(w.staff_tokens["admin"]))
        assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD, OPTIONS, POST"
        assert c.options("/nowhere").status_code == 404


# -- private files ----------------------------------------------------------------------------


def test_data_files_and_folders_are_created_private(tmp_path):
    data = tmp_path / "data"
    old = os.umask(0o022)  # a usual umask: the modes below come from the code, not from it
    try:
        store = SqliteStore(data / "readings.sqlite")
        store.write([], 0.0)
        store.set_status("m1", {"state": "online"}, 1.0)
        ledger = SpoolLedger(data / "influx-spool.sqlite")
        engine = make_engine(f"sqlite:///{data / 'citizenwatt.sqlite'}")
        init_db(engine)
    finally:
        os.umask(old)
    files = list(data.iterdir())
    names = {p.name for p in files}
    assert {"readings.sqlite", "readings.sqlite-wal", "influx-spool.sqlite", "citizenwatt.sqlite"} <= names
    assert {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in files} == {p.name: "0o600" for p in files}
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    ledger.close()
    store.close()
    engine.dispose()
    # an existing file keeps the mode its administrator gave it
    shared = tmp_path / "shared.sqlite"
    shared.touch()
    shared.chmod(0o640)
    SqliteStore(shared).close()
    assert stat.S_IMODE(shared.stat().st_mode) == 0o640
    # a mistyped database address is not made up: its missing folder stays missing
    with pytest.raises(DatabaseError):
        init_db(make_engine(f"sqlite:///{tmp_path / 'no' / 'such' / 'db.sqlite'}"))
    assert not (tmp_path / "no").exists()
