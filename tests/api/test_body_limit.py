"""Oversized request bodies: a 413 with a sentence on every route, before the body is read
into memory (declared by Content-Length or counted as it arrives)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from citizenwatt.api.app import MAX_BODY_BYTES


def test_oversized_body_is_refused_with_413_and_a_sentence(world, wclient):
    admin = world.bearer(world.staff_tokens["admin"])
    big = b'{"name": "' + b"a" * (MAX_BODY_BYTES + 10) + b'"}'
    for method, url in (("POST", "/api/v1/deployments"),
                        ("PUT", f"/api/v1/deployments/{world.deployments['d1']}/temperatures"),
                        ("POST", "/api/v1/meters/register")):
        r = wclient.request(method, url, content=big,
                            headers={**admin, "content-type": "application/json"})
        assert r.status_code == 413, (url, r.status_code)
        assert r.json()["code"] == "body_too_large"
        assert "Mo" in r.json()["detail"] and "envoyez" in r.json()["detail"]
    r = wclient.post("/api/v1/deployments?lang=en", content=big,
                     headers={**admin, "content-type": "application/json"})
    assert r.status_code == 413 and "MB" in r.json()["detail"]


def test_oversized_body_without_content_length_is_refused(world, wclient):
    admin = world.bearer(world.staff_tokens["admin"])

    def chunks():
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b" " * 65536

    r = wclient.post("/api/v1/deployments", content=chunks(),
                     headers={**admin, "content-type": "application/json"})
    assert "content-length" not in {k.lower() for k in r.request.headers}
    assert r.status_code == 413 and r.json()["code"] == "body_too_large"


def test_oversized_login_form_page_says_it_in_french(world):
    with TestClient(world.app) as c:
        r = c.post("/staff/login", content=b"username=" + b"a" * (MAX_BODY_BYTES + 1),
                   headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413 and "<html" in r.text and "Mo" in r.text


def test_small_bodies_still_pass(world, wclient):
    admin = world.bearer(world.staff_tokens["admin"])
    r = wclient.post("/api/v1/deployments", json={"name": "Atelier Nantes"}, headers=admin)
    assert r.status_code == 201
