"""The FastAPI application: create_app(store) wires the routes, pages and error handlers
around one ReadingStore (the embedded SqliteStore or any other backend of the port)."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.engine import Engine
from starlette.routing import Match

from citizenwatt import __version__
from citizenwatt.config import Settings
from citizenwatt.i18n import _, install_jinja
from citizenwatt.store.port import ReadingStore

from . import errors
from .db import init_db, make_engine
from .i18n import request_lang
from .readcache import KeptLinks, StoreReads
from .routes import firmware, households, meters, pages, register, staff, staff_pages
from .security import CrossSiteGuard, FailureLimiter, SecurityHeaders, install_log_filter

HERE = Path(__file__).parent

# The largest request body any route takes (a few thousand daily temperatures is ~200 kB):
# bigger ones are refused with 413 before they are read into memory or parsed.
MAX_BODY_BYTES = 1024 * 1024

class BodyLimit:
    """ASGI middleware: a body over `limit` bytes (declared by Content-Length or counted as
    it arrives, chunked) gets a 413 with a sentence; smaller bodies are passed on as read."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES):
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or ()).get(b"content-length", b"")
        too_big = declared.isdigit() and int(declared) > self.limit
        messages = []
        if not too_big:
            size = 0
            while True:
                message = await receive()
                messages.append(message)
                if message["type"] != "http.request":
                    break
                size += len(message.get("body", b""))
                if size > self.limit:
                    too_big = True
                    break
                if not message.get("more_body", False):
                    break
        if too_big:
            request = Request(scope)  # scope["app"] is set by Starlette before middleware
            response = errors.error_response(
                request,
                413,
                "body_too_large",
                _(
                    "The request body is larger than {max_mb} MB: send it in several smaller parts.",
                    lang=request_lang(request),
                    max_mb=self.limit // (1024 * 1024),
                ),
            )
            return await response(scope, receive, send)
        replay = iter(messages)

        async def replayed():
            return next(replay, None) or await receive()

        return await self.app(scope, replayed, send)


class HeadAsGet:
    """ASGI middleware: HEAD answers what GET would, without the body (uptime checks and
    link checkers use it; FastAPI's GET routes alone answer HEAD with 405)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "HEAD":
            return await self.app(scope, receive, send)

        async def without_body(message):
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        return await self.app({**scope, "method": "GET"}, receive, without_body)


def leaf_routes(routes) -> Iterator:
    """Every route, inside the routers FastAPI keeps whole when they are included."""
    for route in routes:
        sub = getattr(route, "original_router", None)
        if sub is not None:
            yield from leaf_routes(sub.routes)
        else:
            yield route


class AllowedMethods:
    """ASGI middleware: OPTIONS answers 204 with the methods the address takes, and a 405
    lists them all in Allow (FastAPI makes one route per method, and the router's 405 named
    only the first route's)."""

    def __init__(self, app):
        self.app = app

    @staticmethod
    def methods(scope) -> set[str]:
        found: set[str] = set()
        for route in leaf_routes(scope["app"].router.routes):
            methods = getattr(route, "methods", None)
            if methods and route.matches(scope)[0] != Match.NONE:
                found |= methods
        if found:
            found |= {"HEAD", "OPTIONS"} if "GET" in found else {"OPTIONS"}
        return found

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if scope["method"] == "OPTIONS":
            allowed = self.methods(scope)
            if allowed:
                response = Response(status_code=204, headers={"Allow": ", ".join(sorted(allowed))})
                return await response(scope, receive, send)

        async def full_allow(message):
            if message["type"] == "http.response.start" and message["status"] == 405:
                allowed = self.methods(scope)  # none: a mounted app (static files) said its own
                if allowed:
                    headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                    headers.append((b"allow", ", ".join(sorted(allowed)).encode()))
                    message = {**message, "headers": headers}
            await send(message)

        return await self.app(scope, receive, full_allow)


@asynccontextmanager
async def _lifespan(app: FastAPI):
    # A year of hourly energy is ~9,000 small objects per request. With the whole
    # application heap in the oldest GC generation, every few requests paid a full
    # collection (60 ms on the benchmark machine): freeze what exists at start-up.
    gc.collect()
    gc.freeze()
    install_log_filter()  # again, once the server has configured its logging
    yield
    app.state.reads.close()
    app.state.links.close()
    if getattr(app.state, "owns_store", False):  # a worker's own store (app_from_environment)
        app.state.store.close()


def create_app(
    store: ReadingStore,
    settings: Settings | None = None,
    clock: Callable[[], float] = time.time,
    engine: Engine | None = None,
) -> FastAPI:
    """Build the API around `store` with `settings` (the [api] section and the data
    directory); None: the defaults and the environment, with an in-memory database (tests).
    `clock` (UTC seconds) is replaceable for tests. The relational database is `engine`,
    else settings.database_url (api.database_url, else DATA_DIR/citizenwatt.sqlite)."""
    if settings is None:
        settings = Settings(api={"database_url": "sqlite://"})
    app = FastAPI(
        lifespan=_lifespan,
        title="Citizen Watt API",
        version=__version__,
        description="Household electricity consumption from Citizen Watt meters. "
        "Energy buckets follow the household's local time (23 or 25 hour DST days); "
        "buckets without readings are null, never 0.",
    )
    app.state.store = store
    app.state.reads = StoreReads(store)  # store figures kept until the store changes
    app.state.settings = settings.api  # what the routes and pages read
    app.state.config = settings  # the whole object (data directory, other sections)
    app.state.clock = clock
    app.state.templates = Jinja2Templates(directory=str(HERE / "templates"))
    install_jinja(app.state.templates.env)  # _() and ngettext() in the page's `lang`
    if engine is None:
        engine = make_engine(settings.database_url)
    app.state.engine = engine
    app.state.sessionmaker = init_db(engine)
    app.state.links = KeptLinks(engine)  # households of live links, kept until the database changes

    app.state.failures = FailureLimiter(settings.api.auth_max_failures, settings.api.auth_failure_window_s)

    errors.install(app)
    app.include_router(meters.router)
    app.include_router(households.router)
    app.include_router(staff.router)
    app.include_router(register.router)
    app.include_router(firmware.router)
    app.include_router(firmware.public_router)
    app.include_router(staff_pages.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    # Outermost last: headers on every answer, HEAD as GET, the cross-site refusal before
    # any body is read, OPTIONS and the 405's Allow, the body limit.
    app.add_middleware(BodyLimit)
    app.add_middleware(AllowedMethods)
    app.add_middleware(CrossSiteGuard, public_url=settings.api.public_url)
    app.add_middleware(HeadAsGet)
    app.add_middleware(SecurityHeaders, public_url=settings.api.public_url)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict:
        return {"ok": True}

    return app


def app_from_environment() -> FastAPI:
    """The app as each worker process builds it when `citizenwatt api` runs several
    (api.workers > 1): the settings from the environment and CITIZENWATT_CONFIG, which the
    parent process set, and a store of its own, closed when the worker stops."""
    from citizenwatt.config import load_settings
    from citizenwatt.store.backends import open_store

    settings = load_settings()
    app = create_app(open_store(settings, for_collector=False), settings)
    app.state.owns_store = True
    return app
