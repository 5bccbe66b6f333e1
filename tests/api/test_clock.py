"""The app's clock (create_app(clock=...), deps.Now) is read once per request: a page or an
answer computed across midnight still has one "today", and tests pin it in one place."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("path", ["/h/{link}/history", "/h/{link}", "/h/{link}/compare",
                                  "/api/v1/households/{hh}/energy", "/api/v1/households/{hh}/savings"])
def test_the_clock_is_read_once_per_request(world, wclient, path):
    reads = []

    def clock():
        reads.append(world.clock())
        return reads[-1]

    world.app.state.clock = clock
    url = path.format(link=world.link("A"), hh=world.hh("A"))
    r = wclient.get(url, headers=world.bearer(world.link("A")))
    assert r.status_code == 200, r.text
    assert len(reads) == 1
