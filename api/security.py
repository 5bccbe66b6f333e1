"""The API's web defences in one place: secrets masked in every log line, the headers each
answer carries (no caching of personal pages, HSTS over HTTPS), the refusal of cross-site
state-changing requests, and the limit on failed links, tokens and sign-ins."""

from __future__ import annotations

import logging
import math
import re
import threading
from collections import deque
from urllib.parse import urlsplit

from starlette.requests import Request

from citizenwatt.i18n import N_, _

from . import errors
from .auth import SESSION_COOKIE
from .i18n import request_lang

# -- secrets never written to logs ----------------------------------------------------------

MASK = "***"
# A household link is the secret itself (/h/<token>/...); tokens also travel as
# "Authorization: Bearer <token>", as query parameters, and as the staff session cookie.
_SECRETS = [
    (re.compile(r"(/h/)[^/?#\s\"']+"), r"\g<1>" + MASK),
    (re.compile(r"(?i)(bearer\s+)[^\s\"',;]+"), r"\g<1>" + MASK),
    (re.compile(r"(?i)([?&;](?:token|access_token|auth|key|link)=)[^&#\s\"']+"), r"\g<1>" + MASK),
    (re.compile(SESSION_COOKIE + r"=[^;\s\"']+"), SESSION_COOKIE + "=" + MASK),
]


def mask_secrets(text: str) -> str:
    """`text` with every household link, token and session cookie replaced by ***."""
    for pattern, repl in _SECRETS:
        text = pattern.sub(repl, text)
    return text


def _masked(value):
    if isinstance(value, str):
        return mask_secrets(value)
    if isinstance(value, int | float | bool) or value is None:
        return value
    text = str(value)  # an URL object, an exception: keep it only if it held no secret
    masked = mask_secrets(text)
    return value if masked == text else masked


class SecretMaskFilter(logging.Filter):
    """Rewrites a record's message, arguments and traceback with the secrets masked. The
    arguments keep their number and place: uvicorn's access formatter unpacks them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = mask_secrets(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_masked(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _masked(v) for k, v in record.args.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_secrets(record.exc_text)
        return True


_FILTER = SecretMaskFilter()
LOGGERS = ("uvicorn", "uvicorn.access", "uvicorn.error", "citizenwatt", "citizenwatt.api.errors",
           "fastapi")


def install_log_filter() -> None:
    """Mask secrets in the API's logs: on the loggers that may name a request (uvicorn's
    access and error logs, ours) and on every handler they write through, so records
    propagated from child loggers are masked too. Call it after logging is configured
    (uvicorn configures its own loggers when its Config is made); calling it again is
    harmless."""
    loggers = [logging.getLogger(), *(logging.getLogger(n) for n in LOGGERS)]
    # lastResort: what writes a warning or an error when no handler is configured (the
    # unexpected-error log of `citizenwatt api`, whose root logger has none).
    handlers = [h for logger in loggers for h in logger.handlers]
    if logging.lastResort is not None:
        handlers.append(logging.lastResort)
    for filterer in [*loggers, *handlers]:
        if _FILTER not in filterer.filters:
            filterer.addFilter(_FILTER)


# -- headers of every answer ----------------------------------------------------------------

# The pages load nothing from elsewhere (the machine may be offline) and run no inline
# script. Referrer-Policy same-origin: the household's secret link never leaves in a Referer
# header, while our own forms still send their Origin (no-referrer turns it into "null").
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
        "form-action 'self'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
HSTS = "max-age=31536000"
# Only the static files may be kept by a browser or a proxy: every other answer may be a
# household's data (pages, JSON, exports) or a staff page.
CACHEABLE_PREFIXES = ("/static/",)


def is_https(scope, public_url: str | None) -> bool:
    """Served over HTTPS: the public address says so, or the request came over HTTPS (uvicorn
    takes X-Forwarded-Proto from the trusted proxies of api.trusted_proxies)."""
    return scope.get("scheme") == "https" or (public_url or "").lower().startswith("https://")


class SecurityHeaders:
    """ASGI middleware, outermost: every answer (errors included) gets SECURITY_HEADERS,
    `Cache-Control: no-store` unless it is a static file or sets its own, and HSTS over
    HTTPS."""

    def __init__(self, app, public_url: str | None = None):
        self.app = app
        self.public_url = public_url

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        extra = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
        if not scope["path"].startswith(CACHEABLE_PREFIXES):
            extra.append((b"cache-control", b"no-store"))
        if is_https(scope, self.public_url):
            extra.append((b"strict-transport-security", HSTS.encode()))

        async def with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _v in headers}
                headers += [(k, v) for k, v in extra if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        return await self.app(scope, receive, with_headers)


def cookie_secure(request: Request) -> bool:
    """The session cookie's Secure flag: api.secure_cookies if set, else whether the site is
    served over HTTPS (api.public_url, or this request)."""
    settings = request.app.state.settings
    if settings.secure_cookies is not None:
        return settings.secure_cookies
    return is_https(request.scope, settings.public_url)


# -- cross-site requests --------------------------------------------------------------------

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def own_origins(scope, headers: dict[bytes, bytes], public_url: str | None) -> set[str]:
    """The origins this app answers as: the address the request was sent to, and the public
    address (a reverse proxy may pass on another Host)."""
    host = headers.get(b"host", b"").decode("latin-1").lower()
    origins = {f"{scope.get('scheme', 'http')}://{host}"} if host else set()
    if public_url and (o := _origin(public_url)):
        origins.add(o)
    return origins


def cross_site(scope, public_url: str | None) -> bool:
    """A state-changing request a browser may have sent on another site's behalf: one that
    is not a bearer-token call, and whose Origin (else Referer) is another site, "null", or
    missing while it carries the staff session cookie. A request with an Authorization
    header is answered for that token alone (a wrong one is a 401, never the cookie), and no
    browser adds that header to another site's request by itself."""
    if scope["method"] not in UNSAFE_METHODS:
        return False
    headers = dict(scope.get("headers") or ())
    cookie = headers.get(b"cookie", b"").decode("latin-1")
    has_session = SESSION_COOKIE + "=" in cookie
    if headers.get(b"authorization"):
        return False  # a script with its token: a browser never adds this header by itself
    origin = headers.get(b"origin", b"").decode("latin-1").strip().lower()
    if not origin:
        referer = headers.get(b"referer", b"").decode("latin-1").strip()
        origin = (_origin(referer) or "null") if referer else ""
    if not origin:
        return has_session
    return origin not in own_origins(scope, headers, public_url)


class CrossSiteGuard:
    """ASGI middleware: a cross-site state-changing request (see cross_site) is refused with
    403 before any route runs, whatever SameSite the browser applies."""

    def __init__(self, app, public_url: str | None = None):
        self.app = app
        self.public_url = public_url

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not cross_site(scope, self.public_url):
            return await self.app(scope, receive, send)
        request = Request(scope)
        response = errors.error_response(
            request, 403, "cross_site",
            _("This request comes from another site, so it was refused. Open the page of Citizen "
              "Watt itself and try again from there.", lang=request_lang(request)))
        return await response(scope, receive, send)


# -- failed links, tokens and sign-ins ------------------------------------------------------


class FailureLimiter:
    """Counts failures per key (a client address, an account) over a sliding window: after
    `limit` failures within `window_s` the key is refused until the oldest of them leaves
    the window, so a legitimate user locked out only has to wait. Times come from the
    caller (the app's clock). In memory, per API process; at most `max_keys` keys."""

    def __init__(self, limit: int, window_s: float, max_keys: int = 50_000):
        self.limit = limit
        self.window_s = window_s
        self.max_keys = max_keys
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and (times[0] <= now - self.window_s or times[0] > now):
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def retry_after(self, key: tuple[str, str], now: float) -> int:
        """Seconds until `key` may try again; 0: it may now."""
        with self._lock:
            times = self._recent(key, now)
            if times is None or len(times) < self.limit:
                return 0
            return max(1, math.ceil(times[-self.limit] + self.window_s - now))

    def fail(self, key: tuple[str, str], now: float) -> None:
        with self._lock:
            if key not in self._failures and len(self._failures) >= self.max_keys:
                self._prune(now)
            times = self._recent(key, now) or self._failures.setdefault(key, deque())
            times.append(now)
            while len(times) > self.limit:
                times.popleft()

    def clear(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def _prune(self, now: float) -> None:
        for key in list(self._failures):
            self._recent(key, now)
        if len(self._failures) >= self.max_keys:  # a flood of addresses: forget the oldest half
            by_age = sorted(self._failures, key=lambda k: self._failures[k][-1])
            for key in by_age[: len(by_age) // 2]:
                del self._failures[key]


def client_address(request: Request) -> str:
    """The caller's address (uvicorn puts the proxy's X-Forwarded-For there when the proxy
    is trusted, api.trusted_proxies)."""
    return request.client.host if request.client else "?"


def too_many(retry_after_s: int, msgid: str) -> errors.ApiError:
    err = errors.ApiError(429, "too_many_failures", msgid, minutes=math.ceil(retry_after_s / 60))
    err.headers = {"Retry-After": str(retry_after_s)}
    return err


LINK_LOCKED = N_("Too many wrong links or tokens were tried from your connection. Wait {minutes} "
                 "min, then try again with the right link.")
LOGIN_LOCKED = N_("Too many failed sign-ins. Wait {minutes} min, then try again, or ask an "
                  "administrator to reset your account.")


def check_link_attempt(request: Request, now: float) -> None:
    """429 if the caller's address has failed too many links or tokens lately."""
    limiter: FailureLimiter = request.app.state.failures
    wait = limiter.retry_after(("link", client_address(request)), now)
    if wait:
        raise too_many(wait, LINK_LOCKED)


def link_failed(request: Request, now: float) -> None:
    request.app.state.failures.fail(("link", client_address(request)), now)


def login_retry_after(request: Request, username: str, now: float) -> int:
    """Seconds before a sign-in may be tried from this address or for this account."""
    limiter: FailureLimiter = request.app.state.failures
    return max(limiter.retry_after(("login", client_address(request)), now),
               limiter.retry_after(("account", username), now))


def login_failed(request: Request, username: str, now: float) -> None:
    limiter: FailureLimiter = request.app.state.failures
    limiter.fail(("login", client_address(request)), now)
    limiter.fail(("account", username), now)


def login_succeeded(request: Request, username: str) -> None:
    request.app.state.failures.clear(("account", username))
