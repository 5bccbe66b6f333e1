"""The registration call refuses a channel listed twice (which label would win?) and
changes nothing."""

from __future__ import annotations

from sqlalchemy import select

from citizenwatt.api.models import Channel, Household


def test_a_channel_given_twice_is_refused_and_nothing_is_stored(world, wclient):
    leader = world.bearer(world.staff_tokens["leader1"])
    body = {"meter_id": "cw-0042", "household": {"ref": "HH-42"},
            "channels": [{"id": 0, "label": "Maison"}, {"id": 1, "label": "Four"},
                         {"id": 0, "label": "Chauffe-eau"}]}
    r = wclient.post("/api/v1/meters/register", json=body, headers=leader)
    assert r.status_code == 422
    assert r.json()["code"] == "channel_twice"
    assert "voie 0" in r.json()["detail"] and "une seule fois" in r.json()["detail"]
    with world.app.state.sessionmaker() as db:
        assert db.scalar(select(Household).where(Household.name == "HH-42")) is None
        assert db.scalars(select(Channel).where(Channel.meter_id == "cw-0042")).all() == []
    body["channels"] = body["channels"][:2]
    r = wclient.post("/api/v1/meters/register", json=body, headers=leader)
    assert r.status_code == 201, r.text
