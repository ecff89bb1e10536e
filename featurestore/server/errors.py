"""How the server turns errors into answers: ``{"detail": "<one sentence>"}`` and a status.

Every :class:`~featurestore.errors.FeatureStoreError` answers with its ``status_code``; a body
FastAPI could not validate answers 422 naming the first bad field (400 when it is not JSON at
all); unknown paths and methods answer 404/405 in the same shape. Unexpected exceptions never
get here: :class:`~featurestore.server.metrics.MetricsMiddleware` logs them and answers 500.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from featurestore.errors import (
    AuthError,
    ContractError,
    FeatureStoreError,
    ForbiddenError,
    RegistryError,
    RegistryUnavailableError,
    RequestError,
    StoreUnavailableError,
)
from featurestore.limits import clip, quote
from featurestore.server.metrics import Scope, log_detail

__all__ = [
    "BadJSONError",
    "error_response",
    "install_error_handlers",
    "json_response",
    "validation_sentence",
]


class BadJSONError(RequestError):
    """The request body is not valid JSON."""

    status_code = 400


def json_response(
    content: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A JSON answer serialised with orjson (NaN and infinities become null)."""
    return Response(
        orjson.dumps(content),
        status_code=status_code,
        media_type="application/json",
        headers=headers,
    )


def _metrics(request: Request) -> Any:
    return request.app.state.metrics


def error_response(metrics: Any, exc: FeatureStoreError, scope: Scope) -> Response:
    """The answer to ``exc`` (its status, ``{"detail": ...}``) to the request of ``scope``,
    counted in ``metrics``."""
    metrics.error(type(exc).__name__)
    if isinstance(exc, StoreUnavailableError):
        metrics.online_store_errors.inc()
    body: dict[str, Any] = {"detail": clip(_public(exc, scope))}
    headers: dict[str, str] | None = None
    if isinstance(exc, ContractError) and exc.report is not None:
        body["report"] = exc.report.to_dict()
    if isinstance(exc, ForbiddenError):
        headers = {"WWW-Authenticate": 'Bearer error="insufficient_scope"'}
    elif isinstance(exc, AuthError):
        headers = {"WWW-Authenticate": "Bearer"}
    return json_response(body, exc.status_code, headers)


def _public(exc: FeatureStoreError, scope: Scope) -> str:
    """The message a client may see: a registry failure's names its database (URL, host, user),
    which only the server's log shows, in the request's one error line."""
    if not isinstance(exc, RegistryError):
        return exc.message
    log_detail(scope, exc.message)
    if isinstance(exc, RegistryUnavailableError):
        return "the registry does not answer; retry later"
    return "the registry cannot be used; see the server's log"


async def _feature_store_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FeatureStoreError)
    return error_response(_metrics(request), exc, request.scope)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    bad_json = bool(errors) and errors[0].get("type") == "json_invalid"
    error = BadJSONError if bad_json else RequestError
    _metrics(request).error(error.__name__)
    detail = "the request body is not valid JSON" if bad_json else validation_sentence(errors)
    return json_response({"detail": clip(detail)}, error.status_code)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        detail = f"no endpoint {quote(request.url.path)} (see /docs for the API)"
    elif exc.status_code == 405:
        detail = f"method {quote(request.method)} is not allowed on {quote(request.url.path)}"
    elif exc.status_code == 400:  # FastAPI could not decode the body (e.g. not UTF-8)
        _metrics(request).error(BadJSONError.__name__)
        detail = "the request body is not valid JSON"
    else:
        detail = str(exc.detail)
    return json_response({"detail": clip(detail)}, exc.status_code, dict(exc.headers or {}) or None)


def validation_sentence(errors: Sequence[Any]) -> str:
    """One sentence naming the first field pydantic (or FastAPI) refused, and why."""
    if not errors:
        return "the request is invalid"
    first = errors[0]
    location = [str(part) for part in first.get("loc", ())]
    where = location[0] if location else "body"
    path = ".".join(location[1:])
    message = str(first.get("msg", "is invalid"))
    message = message[:1].lower() + message[1:]
    if first.get("type") == "missing":
        return (
            f"the request body is missing required field {path!r}"
            if where == "body" and path
            else "the request body is missing"
            if where == "body"
            else f"{_place(where)} {path!r} is required"
        )
    if first.get("type") == "extra_forbidden":
        return f"the request body has an unknown field {path!r}"
    if not path:
        return f"the request body is invalid: {message}"
    return f"{_place(where)} {path!r}: {message}"


def _place(where: str) -> str:
    return {"body": "field", "query": "query parameter", "path": "path parameter"}.get(where, where)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers above on ``app``."""
    app.add_exception_handler(FeatureStoreError, _feature_store_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
