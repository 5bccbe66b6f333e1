"""A script adding tariffs learns from the OpenAPI schema that valid_to is excluded (the
day the next tariff starts), and the API prices that day with the next tariff."""

from __future__ import annotations


def test_schema_says_valid_to_is_excluded_and_the_day_after_uses_the_next_tariff(world, wclient):
    schema = wclient.get("/openapi.json").json()["components"]["schemas"]["TariffIn"]["properties"]
    assert "excluded" in schema["valid_to"]["description"]
    assert "included" in schema["valid_from"]["description"]
    admin = world.bearer(world.staff_tokens["admin"])
    dep = world.deployments["d1"]
    for body in (
        {"option": "base", "valid_from": "2026-03-15", "valid_to": "2026-03-16", "base_eur_per_kwh": 1.0},
        {"option": "base", "valid_from": "2026-03-16", "base_eur_per_kwh": 2.0},
    ):
        assert wclient.post(f"/api/v1/deployments/{dep}/tariffs", json=body, headers=admin).status_code == 201
    link = world.bearer(world.link("A"))
    day = {
        d: wclient.get(f"/api/v1/households/{world.hh('A')}/savings?start={d}&end={d}", headers=link).json()
        for d in ("2026-03-15", "2026-03-16")
    }
    # 12 kWh expected, 9.6 kWh used: 2.4 kWh saved each day, at 1 EUR then 2 EUR.
    assert day["2026-03-15"]["saved_eur"] == 2.4 and day["2026-03-16"]["saved_eur"] == 4.8
