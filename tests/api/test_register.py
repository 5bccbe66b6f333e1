"""POST /api/v1/meters/register: the workshop tool's one call (meter, household by its
reference, channel labels), idempotent, scoped to the token's deployment, leaders only."""

from __future__ import annotations

REGISTER = "/api/v1/meters/register"


def body(meter_id="cw-0001", ref="HH-12", **kw):
    b = {"meter_id": meter_id,
         "household": {"ref": ref, "name": "Famille Martin", "timezone": "Europe/Paris"},
         "channels": [{"id": 0, "label": "Maison entière"}, {"id": 1, "label": "Chauffe-eau"}]}
    b.update(kw)
    return b


def test_register_creates_household_and_link_then_repeats_idempotently(world, wclient):
    leader = world.bearer(world.staff_tokens["leader1"])
    r = wclient.post(REGISTER, json=body(), headers=leader)
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["meter_id"] == "cw-0001" and first["household_ref"] == "HH-12"
    assert first["deployment_id"] == world.deployments["d1"]
    assert first["from_date"] == "2026-03-31"  # today in the deployment's time zone (world.NOW)
    link = first["household_link"]
    assert link.startswith("/h/") and len(link) > 30
    # The link opens the household, which has the meter and its labels.
    hh = wclient.get(f"/api/v1/households/{first['household_id']}",
                     headers=world.bearer(link.removeprefix("/h/"))).json()
    assert hh["name"] == "HH-12"
    assert [(m["meter_id"], m["valid_from"]) for m in hh["meters"]] == [("cw-0001", "2026-03-31")]
    assert [(c["channel"], c["label"], c["role"]) for c in hh["meters"][0]["channels"]] == \
        [(0, "Maison entière", "main"), (1, "Chauffe-eau", "sub")]  # roles told by the labels
    # The family name given by the workshop is not kept: the API holds pseudonyms.
    export = wclient.get(f"/api/v1/households/{first['household_id']}/export", headers=leader)
    assert export.status_code == 200 and "Martin" not in export.text

    # Staff mark the water heater as a sub-circuit; a redone board registers again.
    wclient.put("/api/v1/meters/cw-0001/channels/1", json={"label": "Chauffe-eau", "role": "sub"},
                headers=leader)
    again = wclient.post(REGISTER, json=body(channels=[{"id": 1, "label": "Ballon"}]), headers=leader)
    assert again.status_code == 200, again.text
    out = again.json()
    assert (out["household_id"], out["from_date"]) == (first["household_id"], "2026-03-31")
    assert out["household_link"] is None  # shown once; the first link still works
    assert wclient.get(link).status_code == 200
    hh = wclient.get(f"/api/v1/households/{first['household_id']}", headers=leader).json()
    assert len(hh["meters"]) == 1
    assert [(c["channel"], c["label"], c["role"]) for c in hh["meters"][0]["channels"]] == \
        [(0, "Maison entière", "main"), (1, "Ballon", "sub")]


def test_existing_household_keeps_its_link(world, wclient):
    leader = world.bearer(world.staff_tokens["leader1"])
    r = wclient.post(REGISTER, json=body("cw-0002", "Foyer A", from_date="2026-03-20"), headers=leader)
    assert r.status_code == 201, r.text
    assert r.json()["household_id"] == world.hh("A") and r.json()["household_link"] is None
    assert wclient.get(f"/h/{world.link('A')}").status_code == 200
    hh = wclient.get(f"/api/v1/households/{world.hh('A')}", headers=leader).json()
    assert {m["meter_id"] for m in hh["meters"]} == {"meter-a", "cw-0002"}


def test_a_meter_in_another_household_is_not_moved(world, wclient):
    leader = world.bearer(world.staff_tokens["leader1"])
    r = wclient.post(REGISTER, json=body("meter-b", "HH-99"), headers=leader)
    assert r.status_code == 409
    assert r.json()["code"] == "meter_in_household"
    assert "mesure déjà le foyer « Foyer B » (depuis le 2026-03-01)" in r.json()["detail"]
    assert "POST /api/v1/households/<foyer>/meters" in r.json()["detail"]
    r = wclient.post(REGISTER, json=body("meter-b", "HH-99"), headers={**leader, "Accept-Language": "en"})
    assert "already measures household \"Foyer B\"" in r.json()["detail"]
    # Nothing was left behind by the refused call.
    names = [h["name"] for h in wclient.get(f"/api/v1/deployments/{world.deployments['d1']}/households",
                                            headers=leader).json()]
    assert "HH-99" not in names


def test_roles_and_credentials(world, wclient):
    r = wclient.post(REGISTER, json=body(), headers=world.bearer(world.staff_tokens["viewer1"]))
    assert r.status_code == 403 and "(leader)" in r.json()["detail"]
    r = wclient.post(REGISTER, json=body(), headers=world.bearer(world.link("A")))
    assert r.status_code == 403 and r.json()["code"] == "staff_only"
    assert wclient.post(REGISTER, json=body()).status_code == 401
    assert wclient.post(REGISTER, json=body(), headers={"Authorization": "Bearer nope"}).status_code == 401


def test_deployment_scope(world, wclient):
    admin_h = world.bearer(world.staff_tokens["admin"])  # sees every deployment
    r = wclient.post(REGISTER, json=body(), headers=admin_h)
    assert r.status_code == 422 and "deployment_id" in r.json()["detail"]
    r = wclient.post(REGISTER, json=body(deployment_id=world.deployments["d2"]), headers=admin_h)
    assert r.status_code == 201 and r.json()["deployment_id"] == world.deployments["d2"]
    # A Lyon leader can neither name Belleville nor take one of its meters.
    lyon = world.bearer(world.staff_tokens["leader2"])
    r = wclient.post(REGISTER, json=body("cw-0003", deployment_id=world.deployments["d1"]), headers=lyon)
    assert r.status_code == 404
    r = wclient.post(REGISTER, json=body("meter-b", "Foyer B"), headers=lyon)
    assert r.status_code == 409 and r.json()["code"] == "meter_elsewhere"
    assert "Foyer B" not in r.text and "Belleville" not in r.text


def test_bad_input_answers_a_sentence(world, wclient):
    leader = world.bearer(world.staff_tokens["leader1"])
    cases = [
        (body("CW BAD"), "L'identifiant de compteur « CW BAD » n'est pas valide"),
        (body(household={"ref": "HH-1", "timezone": "America/New_York"}), "à l'heure de Europe/Paris"),
        (body(household={"ref": "HH-1", "timezone": "Europe"}), "fuseau horaire « Europe » est inconnu"),
        (body(from_date="1999-12-31"), "hors des limites"),
        (body(channels=[{"id": 9, "label": "x"}]), "channels.0.id"),
        (body(household={"ref": ""}), "household.ref"),
        ({"meter_id": "cw-0001"}, "household"),
    ]
    for b, sentence in cases:
        r = wclient.post(REGISTER, json=b, headers=leader)
        assert r.status_code == 422, (b, r.text)
        assert sentence in r.json()["detail"], (b, r.json()["detail"])
    assert wclient.get(f"/api/v1/deployments/{world.deployments['d1']}/households",
                       headers=leader).json()[-1]["name"] == "Foyer B"  # nothing created
