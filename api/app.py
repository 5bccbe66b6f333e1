"""The FastAPI application: create_app(store) wires the routes, pages and error handlers
around one ReadingStore (the embedded SqliteStore or any other backend of the port)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from citizenwatt import __version__
from citizenwatt.collector.store import ReadingStore

from . import errors, routes_meters, routes_pages
from .settings import ApiSettings

HERE = Path(__file__).parent

# The pages load nothing from elsewhere (the machine may be offline) and run no inline
# script; the household's secret link must not leak through the Referer header.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
        "form-action 'self'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def api_settings(settings) -> ApiSettings:
    """ApiSettings from None, an ApiSettings, or the system-wide citizenwatt.settings.Settings."""
    if isinstance(settings, ApiSettings):
        return settings
    if settings is None:
        return ApiSettings()
    return ApiSettings(default_lang=getattr(settings, "lang", None) or "fr")


def create_app(store: ReadingStore, settings=None,
               clock: Callable[[], float] = time.time) -> FastAPI:
    """Build the API around `store`. `settings`: ApiSettings, the system Settings, or None
    (defaults and CITIZENWATT_API_* variables). `clock` (UTC seconds) is replaceable for tests."""
    system_settings = settings
    settings = api_settings(settings)
    app = FastAPI(
        title="Citizen Watt API",
        version=__version__,
        description="Household electricity consumption from Citizen Watt meters. "
                    "Energy buckets follow the household's local time (23 or 25 hour DST days); "
                    "buckets without readings are null, never 0.",
    )
    app.state.store = store
    app.state.settings = settings
    app.state.system_settings = system_settings
    app.state.clock = clock
    app.state.templates = Jinja2Templates(directory=str(HERE / "templates"))

    @app.middleware("http")
    async def _security_headers(request: Request, call_next):
        response = await call_next(request)
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        return response

    errors.install(app)
    app.include_router(routes_meters.router)
    app.include_router(routes_pages.router)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict:
        return {"ok": True}

    return app
