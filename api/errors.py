"""Errors a person reads: one exception for the API, and handlers that turn every failure
into a 4xx with a sentence saying what to do (JSON under /api/, a small page elsewhere)."""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from citizenwatt.errors import HttpError
from citizenwatt.i18n import current_lang

from .i18n import MESSAGES, request_lang, t

log = logging.getLogger(__name__)


class ErrorOut(BaseModel):
    """Every 4xx answer: a sentence for a person, a stable code for a program."""
    detail: str
    code: str
    errors: list[dict] | None = None


ERROR_RESPONSES = {status: {"model": ErrorOut} for status in (400, 401, 403, 404, 409, 422)}


class ApiError(HttpError):
    """An answer of status `status` whose message is the i18n entry `key` with `params`."""

    def __init__(self, status: int, key: str, **params):
        super().__init__(key, **params)
        self.status = status
        self.key = key

    def say(self, lang: str | None = None) -> str:
        return t(lang or current_lang(), self.key, **self.params)

    @property
    def sentence(self) -> str:
        return self.say()


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
        request, "error.html",
        {"lang": lang, "status": status, "message": message,
         "heading": error_heading(status, lang), "code_text": t(lang, "errpage.code", status=status),
         "back": back_link(request.url.path, code, lang)},
        status_code=status)


def error_heading(status: int, lang: str) -> str:
    """What happened, in words: the status's own heading, else its family's."""
    key = f"errpage.{status}"
    if key not in MESSAGES:
        key = "errpage.5xx" if status >= 500 else "errpage.4xx"
    return t(lang, key)


def back_link(path: str, code: str, lang: str) -> tuple[str, str]:
    """(url, label): back to the household's pages when the address was under /h/<token>/,
    unless that token is the thing that is wrong (its pages would answer the same error)."""
    parts = path.split("/")
    if len(parts) >= 3 and parts[1] == "h" and parts[2] and code != "bad_token":
        return f"/h/{quote(parts[2], safe='')}?lang={lang}", t(lang, "errpage.back_household")
    return f"/?lang={lang}", t(lang, "errpage.back_home")


# pydantic's problem types, said in the reader's language; others keep pydantic's words.
_PROBLEMS = {
    "missing": ("champ obligatoire", "required"),
    "int_parsing": ("un nombre entier est attendu", "a whole number is expected"),
    "int_type": ("un nombre entier est attendu", "a whole number is expected"),
    "int_from_float": ("un nombre entier est attendu", "a whole number is expected"),
    "float_parsing": ("un nombre est attendu", "a number is expected"),
    "float_type": ("un nombre est attendu", "a number is expected"),
    "finite_number": ("un nombre fini est attendu", "a finite number is expected"),
    "bool_parsing": ("true ou false est attendu", "true or false is expected"),
    "date_parsing": ("une date AAAA-MM-JJ valide est attendue", "a valid date YYYY-MM-DD is expected"),
    "date_from_datetime_parsing": ("une date AAAA-MM-JJ valide est attendue", "a valid date YYYY-MM-DD is expected"),
    "date_from_datetime_inexact": ("une date AAAA-MM-JJ sans heure est attendue", "a date YYYY-MM-DD without a time is expected"),
    "date_type": ("une date AAAA-MM-JJ est attendue", "a date YYYY-MM-DD is expected"),
    "greater_than_equal": ("au moins {ge}", "at least {ge}"),
    "greater_than": ("plus de {gt}", "more than {gt}"),
    "less_than_equal": ("au plus {le}", "at most {le}"),
    "less_than": ("moins de {lt}", "less than {lt}"),
    "string_too_short": ("au moins {min_length} caractère(s)", "at least {min_length} character(s)"),
    "string_too_long": ("au plus {max_length} caractères", "at most {max_length} characters"),
    "string_type": ("un texte est attendu", "a text is expected"),
    "string_pattern_mismatch": ("caractères non acceptés", "characters not accepted"),
    "string_unicode": ("un texte en UTF-8 est attendu", "a UTF-8 text is expected"),
    "too_long": ("au plus {max_length} éléments", "at most {max_length} items"),
    "too_short": ("au moins {min_length} élément(s)", "at least {min_length} item(s)"),
    "list_type": ("une liste est attendue", "a list is expected"),
    "dict_type": ("un objet est attendu", "an object is expected"),
    "model_type": ("un objet est attendu", "an object is expected"),
    "literal_error": ("valeurs possibles : {expected}", "possible values: {expected}"),
    "enum": ("valeurs possibles : {expected}", "possible values: {expected}"),
}


def _problem(err: dict, lang: str) -> str:
    said = _PROBLEMS.get(err.get("type", ""))
    if said is None:
        return err.get("msg", "invalid")
    ctx = {k: str(v) for k, v in (err.get("ctx") or {}).items()}
    if lang == "fr" and "expected" in ctx:
        ctx["expected"] = ctx["expected"].replace(" or ", " ou ")
    try:
        return (said[0] if lang == "fr" else said[1]).format(**ctx)
    except (KeyError, IndexError):
        return err.get("msg", "invalid")


def _describe(err: dict) -> tuple[str, str]:
    loc = [str(p) for p in err.get("loc", ()) if p not in ("query", "path", "body")]
    return (".".join(loc) or "?"), err.get("msg", "invalid")


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        lang = request_lang(request)
        return error_response(request, exc.status, exc.key.removeprefix("err."),
                              t(lang, exc.key, **exc.params))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        lang = request_lang(request)
        errors = exc.errors()
        name, detail = _describe(errors[0]) if errors else ("?", "invalid")
        first = errors[0] if errors else {}
        whole_body = tuple(first.get("loc", ()))[:1] == ("body",) and (
            first.get("type") == "json_invalid" or len(first.get("loc", ())) == 1)
        if whole_body:  # not JSON, or JSON that is not an object: say it about the body
            message = t(lang, "err.body_object")
        elif name == "meter_id":
            value = errors[0].get("input", "")
            message = t(lang, "err.meter_id", value=str(value)[:40])
        else:
            message = t(lang, "err.param", name=name, detail=_problem(errors[0], lang))
        return error_response(
            request, 422, "invalid_parameter", message,
            {"errors": [{"parameter": _describe(e)[0], "problem": _describe(e)[1]}
                        for e in errors]})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        lang = request_lang(request)
        if exc.status_code == 404:
            message, code = t(lang, "err.not_found"), "not_found"
        elif exc.status_code == 400:
            message, code = t(lang, "err.body"), "bad_request"
        elif exc.status_code == 405:
            message, code = t(lang, "err.method", method=request.method), "method_not_allowed"
        else:
            message, code = str(exc.detail), "http_error"
        response = error_response(request, exc.status_code, code, message)
        for k, v in (exc.headers or {}).items():
            response.headers[k] = v
        return response

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception):
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(request, 500, "internal", t(request_lang(request), "err.internal"))
