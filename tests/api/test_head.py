"""HEAD answers like GET without a body (uptime checks, link checkers), with the same
access rules: a household link, not another household's data."""

from __future__ import annotations


def test_head_answers_like_get_without_body(world, wclient):
    link = world.bearer(world.link("A"))
    for url, headers, status in (("/healthz", {}, 200),
                                 (f"/h/{world.link('A')}", {}, 200),
                                 (f"/api/v1/households/{world.hh('A')}", link, 200),
                                 (f"/api/v1/households/{world.hh('B')}", link, 404),
                                 (f"/api/v1/households/{world.hh('A')}", {}, 401),
                                 ("/nowhere", {}, 404)):
        got = wclient.head(url, headers=headers)
        assert got.status_code == status, (url, got.status_code)
        assert got.content == b""
        assert got.headers["content-type"] == wclient.get(url, headers=headers).headers["content-type"]
