"""A body that is not JSON, or JSON that is not an object, gets a sentence about the body,
not 'Le paramètre « ? »' or 'Le paramètre « 0 » (JSON decode error)'."""

from __future__ import annotations


def test_unreadable_or_non_object_bodies_get_a_sentence_about_the_body(world, wclient):
    admin = {**world.bearer(world.staff_tokens["admin"]), "content-type": "application/json"}
    for body in (b"null", b"[1, 2]", b'"texte"', b"{", b"\xff\xfe", b'{"name": "a",}'):
        r = wclient.post("/api/v1/deployments", content=body, headers=admin)
        assert r.status_code in (400, 422), (body, r.status_code)
        detail = r.json()["detail"]
        assert "« ? »" not in detail and "« 0 »" not in detail and "decode" not in detail, (body, detail)
        assert "contenu envoyé" in detail and "JSON" in detail, (body, detail)
    r = wclient.post("/api/v1/deployments?lang=en", content=b"null", headers=admin)
    assert "request body" in r.json()["detail"] and "JSON in UTF-8" in r.json()["detail"]
    assert "{" not in r.json()["detail"]
    r = wclient.put(f"/api/v1/deployments/{world.deployments['d1']}/temperatures", content=b'{"day": 1}',
                    headers=admin)
    assert r.status_code == 422 and "une liste" in r.json()["detail"]
