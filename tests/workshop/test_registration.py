"""The registration client against the real API endpoint (POST /api/v1/meters/register,
docs/api.md), served over HTTP on loopback."""

from __future__ import annotations

import re
import shlex
import time

import pytest

from citizenwatt.i18n import set_lang
from citizenwatt.workshop.errors import WorkshopError
from citizenwatt.workshop.registration import Household, register_meter
from tests.workshop.conftest import DEPLOYMENT, _admin

HH = Household("HH-12", "Famille Martin")


def test_register_then_repeat_is_idempotent(api_server):
    first = register_meter(api_server.url, api_server.leader_token, "cw-0001", HH,
                           {0: "Maison entière", 1: "Chauffe-eau"})
    assert first.created and first.household_ref == "HH-12"
    assert first.household_link.startswith("/h/")
    again = register_meter(api_server.url, api_server.leader_token, "cw-0001", HH,
                           {0: "Maison entière", 1: "Chauffe-eau"})
    assert not again.created
    assert again.household_id == first.household_id
    assert again.household_link is None  # the link is shown once; the first one still works
    token = first.household_link.removeprefix("/h/")
    hh = api_server.get("/api/v1/households/%d" % first.household_id, token=token).json()
    assert hh["name"] == "HH-12" and [m["meter_id"] for m in hh["meters"]] == ["cw-0001"]
    assert [(c["channel"], c["label"]) for c in hh["meters"][0]["channels"]] == \
        [(0, "Maison entière"), (1, "Chauffe-eau")]


@pytest.mark.parametrize("which,key", [("bad", "api.unauthorized"), ("viewer", "api.forbidden"),
                                       ("none", "api.no_token")])
def test_bad_tokens(api_server, which, key):
    token = {"bad": "nope", "viewer": api_server.viewer_token, "none": ""}[which]
    with pytest.raises(WorkshopError) as e:
        register_meter(api_server.url, token, "cw-0001", HH, {0: ""})
    assert e.value.key == key
    # The API's roles and the command that makes a token, never an "installer" role.
    for lang in ("fr", "en"):
        set_lang(lang)
        text = str(e.value)
        assert "citizenwatt admin token" in text and "leader" in text and "admin" in text
        assert "--token" in text and "CITIZENWATT_WORKSHOP__API_TOKEN" in text
        assert "install" not in text.lower()
    set_lang(None)


def test_the_403_message_leads_to_a_token_that_registers(api_server):
    """A leader who runs the commands the 403 sentence gives gets a token that works."""
    with pytest.raises(WorkshopError) as e:
        register_meter(api_server.url, api_server.viewer_token, "cw-0001", HH, {0: ""})
    commands = re.findall(r"`(citizenwatt admin [^`]+)`", str(e.value))
    assert [c.split()[2] for c in commands] == ["staff", "token"]
    output = ""
    for command in commands:
        command = command.replace("NOM DU DÉPLOIEMENT", DEPLOYMENT).replace("NOM", "animateur2")
        output = _admin(*shlex.split(command)[2:], "--data-dir", str(api_server.data_dir))
    token = output.split("une seule fois : ")[1].strip()
    reg = register_meter(api_server.url, token, "cw-0001", HH, {0: ""})
    assert reg.created and reg.household_link.startswith("/h/")


def test_rejections_carry_the_apis_sentence_in_the_workshops_language(api_server):
    register_meter(api_server.url, api_server.leader_token, "cw-0001", HH, {0: ""})
    with pytest.raises(WorkshopError) as e:
        register_meter(api_server.url, api_server.leader_token, "cw-0001",
                       Household("HH-13", "Autre"), {0: ""})
    assert e.value.key == "api.rejected" and "(409)" in str(e.value)
    assert "mesure déjà le foyer « HH-12 »" in str(e.value)
    set_lang("en")
    with pytest.raises(WorkshopError) as e:
        register_meter(api_server.url, api_server.leader_token, "CW BAD", HH, {0: ""})
    assert e.value.key == "api.rejected" and "(422)" in str(e.value)
    assert 'The meter id "CW BAD" is not valid' in str(e.value)
    with pytest.raises(WorkshopError) as e:
        register_meter(api_server.url, api_server.leader_token, "cw-0002",
                       Household("HH-14", "Autre", "America/New_York"), {0: ""})
    assert "on Europe/Paris time, not America/New_York" in str(e.value)


def test_unreachable_and_wrong_url(api_server):
    with pytest.raises(WorkshopError) as e:
        register_meter("http://127.0.0.1:9", api_server.leader_token, "cw-0001", HH, {0: ""},
                       timeout_s=2)
    assert e.value.key == "api.unreachable" and "--api" in str(e.value)
    with pytest.raises(WorkshopError) as e:
        register_meter(api_server.url + "/wrong", api_server.leader_token, "cw-0001", HH, {0: ""})
    assert e.value.key == "api.not_found"


def test_channel_roles_reach_the_api_and_a_sub_is_not_counted_twice(api_server):
    """The water heater's clamp sits under the whole-house clamp: declared "sub", the API
    leaves it out of the household's live total; a redo that does not declare it keeps it."""
    from citizenwatt.store.port import ChannelReading
    from citizenwatt.store.sqlite import SqliteStore

    labels = {0: "Maison entière", 1: "Chauffe-eau"}
    reg = register_meter(api_server.url, api_server.leader_token, "cw-0001", HH, labels,
                         channel_roles={0: "main", 1: "sub"})
    token = reg.household_link.removeprefix("/h/")

    def roles():
        hh = api_server.get("/api/v1/households/%d" % reg.household_id, token=token).json()
        return [(c["channel"], c["role"]) for c in hh["meters"][0]["channels"]]
    assert roles() == [(0, "main"), (1, "sub")]

    store = SqliteStore(api_server.data_dir / "readings.sqlite")
    now = time.time()
    try:
        store.write([ChannelReading("cw-0001", ch, 1, 1, now, True, 10.0, 100.0, power_w,
                                    power_w / 230, False, 230.0, 1.0)
                     for ch, power_w in ((0, 3000.0), (1, 2000.0))], now)
    finally:
        store.close()
    live = api_server.get("/api/v1/households/%d/live" % reg.household_id, token=token).json()
    assert [c["power_w"] for c in live["channels"]] == [3000.0, 2000.0]
    assert live["power_w"] == 3000.0  # not 5000: the water heater is inside the house's 3 kW

    # A redo without roles for channel 1 leaves the staff's (or the first run's) choice alone.
    register_meter(api_server.url, api_server.leader_token, "cw-0001", HH, labels)
    assert roles() == [(0, "main"), (1, "sub")]
    register_meter(api_server.url, api_server.leader_token, "cw-0001", HH, labels,
                   channel_roles={1: "main"})
    assert roles() == [(0, "main"), (1, "main")]


def test_clamps_whose_labels_do_not_tell_their_role_are_refused_with_the_profile_key(api_server):
    set_lang("fr")
    with pytest.raises(WorkshopError) as e:
        register_meter(api_server.url, api_server.leader_token, "cw-0031", Household("HH-31", "X"),
                       {0: "Maison", 1: "Pince 2"})
    assert e.value.key == "api.channel_roles"
    text = str(e.value)
    assert '2 "Pince 2"' in text and 'channel_role = ["main", "sub"]' in text
    # Given in the profile, the same clamps register.
    reg = register_meter(api_server.url, api_server.leader_token, "cw-0031", Household("HH-31", "X"),
                         {0: "Maison", 1: "Pince 2"}, channel_roles={0: "main", 1: "sub"})
    assert reg.created
