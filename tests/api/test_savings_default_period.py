"""Savings are for a period after the baseline: without ?start, the API and the page start
the day after the baseline ends (the world's baseline is 1-14 March, today 31 March), not
30 days back, which would count baseline days as 'savings'."""

from __future__ import annotations

from datetime import date

from citizenwatt.api.models import Household


def test_api_default_savings_period_starts_after_the_baseline(world, wclient):
    r = wclient.get(f"/api/v1/households/{world.hh('A')}/savings",
                    headers=world.bearer(world.link("A")))
    assert r.status_code == 200
    s = r.json()
    assert s["start"] == "2026-03-15" and s["baseline_end"] == "2026-03-14"
    # A 400 W period against a 500 W baseline: 20 % saved, not diluted by baseline days.
    assert s["status"] == "ok" and round(s["saved_pct"]) == 20


def test_page_default_savings_period_starts_after_the_baseline(world, wclient):
    text = wclient.get(f"/h/{world.link('A')}/savings").text
    assert "Du 15 mars 2026 au 30 mars 2026" in text
    assert "20\u00a0%" in text


def test_explicit_start_and_old_baselines_are_left_alone(world, wclient):
    r = wclient.get(f"/api/v1/households/{world.hh('A')}/savings?start=2026-03-01&end=2026-03-30",
                    headers=world.bearer(world.link("A")))
    assert r.json()["start"] == "2026-03-01"
    with world.app.state.sessionmaker() as db:
        hh = db.get(Household, world.hh("A"))
        hh.baseline_start, hh.baseline_end = date(2026, 1, 1), date(2026, 1, 31)
        db.commit()
    r = wclient.get(f"/api/v1/households/{world.hh('A')}/savings",
                    headers=world.bearer(world.link("A")))
    assert r.json()["start"] == "2026-03-01"
    assert "Du 1er mars 2026 au 30 mars 2026" in wclient.get(f"/h/{world.link('A')}/savings").text
