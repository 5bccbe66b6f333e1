"""Parameter errors read in the asked language: the sentence around them was French, the
problem inside stayed pydantic's English ("Input should be a valid integer")."""

from __future__ import annotations

ENGLISH = ("Input should", "String should", "Field required", "List should", "Value error")


def test_parameter_problems_are_said_in_french(world, wclient):
    admin = world.bearer(world.staff_tokens["admin"])
    link = world.bearer(world.link("A"))
    hh = world.hh("A")
    cases = [
        ("GET", f"/api/v1/households/{hh}/energy?start=2026-02-30", None, link, "date"),
        ("GET", "/api/v1/households/abc", None, link, "nombre entier"),
        ("GET", f"/api/v1/households/{hh}/energy?channel=-1", None, link, "au moins 0"),
        ("GET", f"/api/v1/households/{hh}/energy?channel=9", None, link, "moins de 6"),
        (
            "GET",
            f"/api/v1/households/{hh}/energy?resolution=decade",
            None,
            link,
            "'hour', 'day', 'week' ou 'month'",
        ),
        ("POST", "/api/v1/deployments", {"name": ""}, admin, "au moins 1 caractère"),
        ("POST", "/api/v1/deployments", {"name": "x" * 200}, admin, "au plus 100 caractères"),
        ("POST", "/api/v1/deployments", {}, admin, "obligatoire"),
        (
            "PATCH",
            f"/api/v1/deployments/{world.deployments['d1']}",
            {"co2_g_per_kwh": "beaucoup"},
            admin,
            "nombre",
        ),
    ]
    for method, url, body, headers, expected in cases:
        r = wclient.request(method, url, json=body, headers=headers)
        assert r.status_code == 422, (url, r.status_code)
        detail = r.json()["detail"]
        assert not any(e in detail for e in ENGLISH), detail
        assert expected in detail, (expected, detail)
    r = wclient.get(f"/api/v1/households/{hh}/energy?channel=-1&lang=en", headers=link)
    assert "at least 0" in r.json()["detail"]
