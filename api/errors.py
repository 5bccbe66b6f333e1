"""Errors a person reads: one exception for the API, and handlers that turn every failure
into a 4xx with a sentence saying what to do (JSON under /api/, a small page elsewhere)."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from citizenwatt.errors import HttpError
from citizenwatt.i18n import N_, _, pydantic_problem

from .i18n import request_lang

log = logging.getLogger(__name__)


class ErrorOut(BaseModel):
    """Every 4xx answer: a sentence for a person, a stable code for a program."""
    detail: str
    code: str
    errors: list[dict] | None = None


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut} for status in (400, 401, 403, 404, 409, 422, 429)}


class ApiError(HttpError):
    """An answer of status `status`: `code` for a program, and for a person the English
    sentence `msgid` (marked with N_) with `params`, said in the reader's language."""

    def __init__(self, status: int, code: str, msgid: str, **params):
        super().__init__(msgid, **params)
        self.status = status
        self.code = code
        self.msgid = msgid
        self.headers: dict[str, str] = {}  # sent with the answer (Retry-After with a 429)

    def message(self, lang: str | None = None) -> str:
        return _(self.msgid, lang=lang, **self.params)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/openapi.json"


def error_response(request: Request, status: int, code: str, message: str,
                   extra: dict | None = None):
    if _wants_json(request):
        body = {"detail": message, "code": code}
        if extra:
            body.update(extra)
        return JSONResponse(body, status_code=status)
    lang = request_lang(request)
    templates = request.app.state.templates
    return templates.TemplateResponse(
        request,
        "error.html",
        {
            "lang": lang,
            "status": status,
            "message": message,
            "heading": error_heading(status, lang),
            "code_text": _("Error code {status}", lang=lang, status=status),
            "back": back_link(request.url.path, code, lang),
        },
        status_code=status,
    )


_HEADINGS = {
    400: N_("Request not readable"),
    401: N_("Sign-in needed"),
    403: N_("Access denied"),
    404: N_("Page not found"),
    405: N_("Action not allowed here"),
    409: N_("Already taken"),
    413: N_("Too much sent"),
    422: N_("Request to correct"),
    429: N_("Too many attempts"),
}


def error_heading(status: int, lang: str) -> str:
    """What happened, in words: the status's own heading, else its family's."""
    heading = _HEADINGS.get(status) or (N_("Server error") if status >= 500 else N_("Request refused"))
    return _(heading, lang=lang)


def back_link(path: str, code: str, lang: str) -> tuple[str, str]:
    """(url, label): back to the household's pages when the address was under /h/<token>/,
    unless that token is the thing that is wrong (its pages would answer the same error)."""
    parts = path.split("/")
    if len(parts) >= 3 and parts[1] == "h" and parts[2] and code != "bad_token":
        return f"/h/{quote(parts[2], safe='')}?lang={lang}", _("Back to my electricity use", lang=lang)
    return f"/?lang={lang}", _("Back to the home page", lang=lang)


def _problem(err: dict, lang: str) -> str:
    return pydantic_problem(err, lang=lang)


def _describe(err: dict) -> tuple[str, str]:
    loc = [str(p) for p in err.get("loc", ()) if p not in ("query", "path", "body")]
    return (".".join(loc) or "?"), err.get("msg", "invalid")


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        lang = request_lang(request)
        response = error_response(request, exc.status, exc.code, exc.message(lang))
        response.headers.update(exc.headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        lang = request_lang(request)
        errors = exc.errors()
        name, detail = _describe(errors[0]) if errors else ("?", "invalid")
        first = errors[0] if errors else {}
        whole_body = tuple(first.get("loc", ()))[:1] == ("body",) and (
            first.get("type") == "json_invalid" or len(first.get("loc", ())) == 1
        )
        if whole_body:  # not JSON, or JSON that is not an object: say it about the body
            message = _(
                "The request body does not have the expected shape: JSON in UTF-8, an object or a "
                "list depending on the address (see /docs). Fix it and try again.",
                lang=lang,
            )
        elif name == "meter_id":
            value = errors[0].get("input", "")
            message = _(
                'The meter id "{value}" is not valid: use 1 to 32 characters among a-z, 0-9, - and _.',
                lang=lang,
                value=str(value)[:40],
            )
        else:
            message = _(
                'The parameter "{name}" is not valid ({detail}). Fix it and try again.',
                lang=lang,
                name=name,
                detail=_problem(errors[0], lang),
            )
        return error_response(
            request,
            422,
            "invalid_parameter",
            message,
            {"errors": [{"parameter": _describe(e)[0], "problem": _describe(e)[1]} for e in errors]},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        lang = request_lang(request)
        if exc.status_code == 404:
            message, code = _("This page does not exist. Check the address.", lang=lang), "not_found"
        elif exc.status_code == 400:
            message, code = (
                _(
                    "The request body cannot be read (JSON in UTF-8 expected). Fix it and try again.",
                    lang=lang,
                ),
                "bad_request",
            )
        elif exc.status_code == 405:
            message, code = (
                _("This address does not accept the {method} method.", lang=lang, method=request.method),
                "method_not_allowed",
            )
        else:
            message, code = str(exc.detail), "http_error"
        response = error_response(request, exc.status_code, code, message)
        for k, v in (exc.headers or {}).items():
            response.headers[k] = v
        return response

    @app.exception_handler(IntegrityError)
    async def _conflict(request: Request, exc: IntegrityError):
        # Two requests racing for one name: the database's unique rule answers, not a 500.
        log.warning("conflicting write on %s %s: %s", request.method, request.url.path, exc.orig)
        return error_response(
            request,
            409,
            "conflict",
            _("This name is already taken (or was just taken by someone else): pick another one and "
              "try again.", lang=request_lang(request)),
        )

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception):
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(
            request,
            500,
            "internal",
            _(
                "An internal error occurred. Try again in a moment; if it persists, tell the workshop team.",
                lang=request_lang(request),
            ),
        )
