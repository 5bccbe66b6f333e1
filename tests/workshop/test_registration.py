"""The registration client against a stand-in of the API endpoint (the contract in
notes/registration-contract.md), over real HTTP on loopback."""

from __future__ import annotations

import pytest

from citizenwatt.workshop.errors import WorkshopError
from citizenwatt.workshop.registration import Household, register_meter
from tests.workshop.conftest import INSTALLER_TOKEN, VIEWER_TOKEN

HH = Household("HH-12", "Famille Martin")


def test_register_then_repeat_is_idempotent(standin_api):
    first = register_meter(standin_api["url"], INSTALLER_TOKEN, "cw-0001", HH,
                           {0: "Maison entière", 1: "Chauffe-eau"})
    assert first.created and first.household_ref == "HH-12"
    assert first.household_link.startswith("/h/")
    again = register_meter(standin_api["url"], INSTALLER_TOKEN, "cw-0001", HH,
                           {0: "Maison entière", 1: "Chauffe-eau"})
    assert not again.created
    assert (again.household_id, again.household_link) == (first.household_id, first.household_link)
    stored = standin_api["app"].state.meters["cw-0001"]
    assert stored["channels"] == [{"id": 0, "label": "Maison entière"},
                                  {"id": 1, "label": "Chauffe-eau"}]


@pytest.mark.parametrize("token,key", [("nope", "api.unauthorized"),
                                       (VIEWER_TOKEN, "api.forbidden")])
def test_bad_tokens(standin_api, token, key):
    with pytest.raises(WorkshopError) as e:
        register_meter(standin_api["url"], token, "cw-0001", HH, {0: ""})
    assert e.value.key == key


def test_rejections_carry_the_detail(standin_api):
    register_meter(standin_api["url"], INSTALLER_TOKEN, "cw-0001", HH, {0: ""})
    with pytest.raises(WorkshopError) as e:
        register_meter(standin_api["url"], INSTALLER_TOKEN, "cw-0001",
                       Household("HH-13", "Autre"), {0: ""})
    assert e.value.key == "api.rejected" and "another household" in str(e.value)
    with pytest.raises(WorkshopError) as e:
        register_meter(standin_api["url"], INSTALLER_TOKEN, "CW BAD", HH, {0: ""})
    assert e.value.key == "api.rejected" and "422" in str(e.value) and "meter_id" in str(e.value)


def test_unreachable_and_wrong_url(standin_api):
    with pytest.raises(WorkshopError) as e:
        register_meter("http://127.0.0.1:9", INSTALLER_TOKEN, "cw-0001", HH, {0: ""}, timeout_s=2)
    assert e.value.key == "api.unreachable" and "--api" in str(e.value)
    with pytest.raises(WorkshopError) as e:
        register_meter(standin_api["url"] + "/wrong", INSTALLER_TOKEN, "cw-0001", HH, {0: ""})
    assert e.value.key == "api.not_found"
