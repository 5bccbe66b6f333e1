"""How a request picks its language (fr by default, en): ?lang=, then Accept-Language for the
JSON API. The texts themselves are in the one catalogue, citizenwatt.i18n."""

from __future__ import annotations

from fastapi import Request

from citizenwatt.i18n import LANGS


def negotiate(query_lang: str | None, accept_language: str | None, default: str = "fr") -> str:
    """?lang= wins, then the browser's Accept-Language (by q-value), then the default."""
    if query_lang in LANGS:
        return query_lang
    best, best_q = None, 0.0
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        primary = tag.strip().lower().split("-")[0]
        # Earlier entries win ties, as browsers list them in preference order.
        if primary in LANGS and q > best_q:
            best, best_q = primary, q
    return best or default


def request_lang(request: Request) -> str:
    """Pages: ?lang= (the pages' links carry it on), else French, the households' language,
    whatever the phone's locale. JSON API: ?lang=, then the client's Accept-Language (the
    workshop tool sends it), then the default."""
    settings = getattr(request.app.state, "settings", None)
    default = settings.default_lang if settings else "fr"
    accept = request.headers.get("accept-language") if request.url.path.startswith("/api/") else None
    return negotiate(request.query_params.get("lang"), accept, default)
