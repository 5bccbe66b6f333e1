"""Every page and every API error in one language: French by default, English with ?lang=en
(pages) or Accept-Language: en (JSON API). A page or an error that mixes in a sentence of the
other language fails here."""

from __future__ import annotations

import ast
import html
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from citizenwatt.api.app import create_app
from citizenwatt.api.errors import ApiError
from citizenwatt.config import Settings

from .helpers import constant_readings, local_ts
from .world import PASSWORD

ENGLISH = (" the ", " this ", " and ", " your ", " you ", " is ", " are ", " of ", " with ",
           " not ", " to ", " at ", " no ", "Back to", "Error code", "Sign in", "Download")
FRENCH = (" le ", " la ", " les ", " des ", " du ", " une ", " est ", " et ", " pour ", " vous ",
          " votre ", " pas ", "é", "è", "ê", "à ", "ç", "« ", "Retour")
ATTRS = re.compile(r'\s(?:aria-label|title|placeholder|alt|data-t-[\w-]+)="([^"]*)"')


def words(page: str) -> str:
    """What a person reads on a page: its text and its labels, not its markup, scripts or the
    link to the other language (named in that language on purpose)."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    page = re.sub(r'<a class="lang"[^>]*>.*?</a>', " ", page, flags=re.S)
    labels = " ".join(ATTRS.findall(page))
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", page).split()) + " " + labels)


def mixed(text: str, lang: str) -> list[str]:
    other = ENGLISH if lang == "fr" else FRENCH
    return [w for w in other if w in f" {text} "]


def household_pages(world):
    token = world.link("A")
    base = f"/h/{token}"
    return [base, f"{base}/today", f"{base}/history", f"{base}/history?view=week",
            f"{base}/history?view=month",
            f"{base}/history?view=year", f"{base}/savings", f"{base}/compare",
            f"{base}/compare?start=2026-03-20&end=2026-03-30", f"{base}/data", "/",
            "/staff/login"]


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_household_and_staff_pages_speak_one_language(world, wclient, lang):
    q = "" if lang == "fr" else "lang=en"
    seen = []
    for url in household_pages(world):
        r = wclient.get(url + (("&" if "?" in url else "?") + q if q else ""))
        assert r.status_code == 200, (url, r.status_code)
        assert f'<html lang="{lang}">' in r.text or url.endswith("/today")  # a fragment
        seen.append((url, mixed(words(r.text), lang)))
    r = wclient.post("/staff/login?" + q, data={"username": "admin", "password": PASSWORD},
                     follow_redirects=False)
    assert r.status_code == 303
    wclient.cookies.set("cw_session", r.cookies.get("cw_session") or "")
    hid = world.hh("B")
    for url in ("/staff", f"/staff/households/{hid}", f"/staff/households/{hid}/savings"):
        r = wclient.get(url + ("?" + q if q else ""))
        assert r.status_code == 200 and ("Foyer B" in r.text), (url, r.status_code)
        seen.append((url, mixed(words(r.text), lang)))
    # The deletion form refused, then done: the data page with its error, the goodbye page.
    token = world.link("B")
    own = {"Origin": "http://testserver"}  # the browser's own form, with the staff cookie set
    r = wclient.post(f"/h/{token}/delete?{q}", data={"confirm": "Foyer Z"}, headers=own)
    assert r.status_code == 422 and 'id="delete-error"' in r.text
    seen.append(("delete refused", mixed(words(r.text), lang)))
    r = wclient.post(f"/h/{token}/delete?{q}", data={"confirm": "Foyer B"}, headers=own)
    assert r.status_code == 200 and 'id="deleted"' in r.text
    seen.append(("deleted", mixed(words(r.text), lang)))
    assert [s for s in seen if s[1]] == []


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_open_mode_meter_pages_speak_one_language(store, client, clock, lang):
    q = "" if lang == "fr" else "?lang=en"
    assert mixed(words(client.get("/" + q).text), lang) == []  # no meter yet
    t0 = local_ts(2026, 6, 1)
    clock.now_s = t0 + 6 * 3600 - 100
    store.write(constant_readings("m1", t0 + 3600, t0 + 6 * 3600 - 120, 1500.0, step_s=60),
                clock.now_s)
    for url in ("/", "/m/m1", "/m/m1/today"):
        r = client.get(url + q)
        assert r.status_code == 200
        assert mixed(words(r.text), lang) == [], url


def error_pages(world):
    token = world.link("A")
    return {
        "/nulle-part": 404, "/h/pas-un-lien/history": 404,
        f"/h/{token}/history?view=day&date=2026-02-30": 422,
        f"/h/{token}/savings?start=2026-03-10&end=2026-03-01": 422,
        f"/h/{token}/compare?start=2020-01-01&end=2026-03-01": 422,
        f"/h/{token}/history?date=1900-01-01": 422,
        f"/h/{token}/energy.csv?resolution=minute": 422,
        "/staff/households/1": 401,
    }


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_error_pages_speak_one_language(world, wclient, lang):
    for url, status in error_pages(world).items():
        r = wclient.get(url + ("&" if "?" in url else "?") + f"lang={lang}")
        assert r.status_code == status, url
        assert 'id="error-message"' in r.text
        assert mixed(words(r.text), lang) == [], (url, words(r.text))


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_api_errors_speak_the_clients_language(world, wclient, lang):
    headers = {"Accept-Language": "en-GB,en;q=0.9"} if lang == "en" else {}
    admin = {**headers, **world.bearer(world.staff_tokens["admin"])}
    household = {**headers, **world.bearer(world.link("A"))}
    hid = world.hh("A")
    calls = [
        ("get", "/api/v1/nope", headers, None, 404),
        ("put", "/api/v1/meters", headers, None, 405),
        ("get", f"/api/v1/households/{hid}", headers, None, 401),
        ("get", f"/api/v1/households/{hid}", world.bearer("pas-un-jeton") | headers, None, 401),
        ("get", "/api/v1/staff/me", household, None, 403),
        ("get", "/api/v1/households/999999", admin, None, 404),
        ("get", "/api/v1/meters/inconnu/live", admin, None, 404),
        ("get", "/api/v1/meters/UPPER CASE/live", admin, None, 422),
        ("get", f"/api/v1/households/{hid}/energy?start=2026-03-10&end=2026-03-01", admin, None, 422),
        (
            "get",
            f"/api/v1/households/{hid}/energy?resolution=hour&start=2020-01-01&end=2026-03-01",
            admin,
            None,
            422,
        ),
        ("get", f"/api/v1/households/{hid}/energy?start=demain", admin, None, 422),
        ("post", "/api/v1/deployments", admin, {"name": "Atelier Belleville"}, 409),
        ("post", "/api/v1/deployments", admin, [1, 2], 422),
        ("post", "/api/v1/staff/users", admin, {"username": "x", "password": "y", "role": "chef"}, 422),
    ]
    for method, url, h, body, status in calls:
        r = wclient.request(method.upper(), url, headers=h, json=body)
        assert r.status_code == status, (url, r.status_code, r.text)
        detail = r.json()["detail"]
        assert mixed(detail, lang) == [], (url, detail)


def api_error_messages():
    """Every ApiError raised in the API: (file:line, status, code, msgid, placeholders)."""
    root = Path(__file__).resolve().parents[2] / "api"
    for path in sorted(root.rglob("*.py")):  # api/routes/ raises too
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", "") == "ApiError"
                and len(node.args) == 3
                and isinstance(node.args[2], ast.Call)
            ):
                msgid = node.args[2].args[0].value
                yield (
                    f"{path.relative_to(root)}:{node.lineno}",
                    node.args[1].value,
                    msgid,
                    set(re.findall(r"\{(\w+)", msgid)),
                )


def test_every_api_error_kind_is_said_in_french_and_in_english():
    kinds = list(api_error_messages())
    assert len({code for _w, code, _m, _p in kinds}) >= 25  # the walk found the raise sites
    for where, code, msgid, params in kinds:
        e = ApiError(400, code, msgid, **{p: "X" for p in params})
        fr, en = e.message("fr"), e.message("en")
        assert fr != en and mixed(fr, "fr") == [] and mixed(en, "en") == [], (where, fr, en)


def test_settings_default_language_is_used_when_the_request_says_nothing(store, clock):
    app = create_app(store, Settings(api={"default_lang": "en", "database_url": "sqlite://"}), clock=clock)
    with TestClient(app) as c:
        assert '<html lang="en">' in c.get("/").text
        assert c.get("/api/v1/nope").json()["detail"] == "This page does not exist. Check the address."
