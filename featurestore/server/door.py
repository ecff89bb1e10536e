"""The door: how a request body gets in, if it does.

Every JSON body is read here, after the token was checked (routes take their body through the
:func:`json_body` dependency, which FastAPI solves after the router's auth dependency; FastAPI
reads a body before any dependency only when an endpoint declares a body parameter, and none
does), and:

- never beyond ``serving.max_body_bytes``: a ``Content-Length`` over it is a 413 before a byte is
  read, and a body that grows past it while streaming (chunked) is a 413 when it does;
  :class:`BodyLimit` holds every other reader of the app (the sign-in form) to the same bound;
- parsed as JSON whatever its ``Content-Type`` (``curl -d`` sends form-urlencoded, and Feast's
  documentation does that), with orjson, which also refuses lone surrogates and stops at 1024
  levels of nesting;
- walked (without recursion) for nesting deeper than :data:`~featurestore.limits.MAX_DEPTH` and,
  in the bodies that change data, integers beyond int64 (:func:`featurestore.limits.check_fields`);
- validated by the route's pydantic model, refused with one sentence naming the field.

Error details never repeat more than a short quote of the input
(:func:`featurestore.limits.clip` is the backstop).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, TypeVar

import orjson
from fastapi import Request
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from featurestore.errors import RequestError
from featurestore.limits import MAX_DEPTH, check_fields
from featurestore.server.errors import BadJSONError, validation_sentence

__all__ = [
    "BodyLimit",
    "BodyTooLargeError",
    "header",
    "json_body",
    "parse_json",
    "read_body",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
M = TypeVar("M", bound=BaseModel)

#: bodies larger than this are parsed in a worker thread, not on the event loop
_THREAD_AT = 256 * 1024
_NO_DEFAULT: Any = object()


class BodyTooLargeError(RequestError):
    """The request body is larger than ``serving.max_body_bytes``."""

    status_code = 413


def _too_large(limit: int) -> BodyTooLargeError:
    return BodyTooLargeError(
        f"the request body is larger than {limit} bytes (serving.max_body_bytes)"
    )


def header(scope: Scope, name: bytes) -> str | None:
    """The value of the request header ``name`` (lowercase bytes), or None."""
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _declared_length(scope: Scope) -> int | None:
    declared = header(scope, b"content-length")
    try:
        return None if declared is None else int(declared)
    except ValueError:
        return None  # the server's HTTP parser refuses these first


def _limited(receive: Receive, limit: int) -> Receive:
    """``receive`` raising BodyTooLargeError once more than ``limit`` body bytes arrived."""
    seen = 0

    async def bounded() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _too_large(limit)
        return message

    return bounded


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole body of an ASGI request, at most ``limit`` bytes.

    Raises:
        BodyTooLargeError: ``Content-Length`` says more than ``limit`` (nothing is read), or more
            arrived.
    """
    declared = _declared_length(scope)
    if declared is not None and declared > limit:
        raise _too_large(limit)
    # Bounded here although BodyLimit bounds the routed requests' receive too: the hot path
    # (OnlineFastPath) is answered before the middleware stack, so only this holds it.
    bounded = _limited(receive, limit)
    message = await bounded()
    body = message.get("body", b"")
    if not message.get("more_body", False):
        return bytes(body)
    chunks = [body]
    while message.get("more_body", False):
        message = await bounded()
        chunks.append(message.get("body", b""))
    return b"".join(chunks)


def parse_json(raw: bytes, *, empty: Any = _NO_DEFAULT, walk: bool = True) -> Any:
    """A parsed JSON body; ``empty`` (when given) stands for a body of only whitespace.

    The nesting walk runs only when the body has more brackets than the nesting limit, so the
    small bodies of the hot path pay two ``bytes.count`` calls for it.

    Raises:
        RequestError: the body is missing (422) or nests too deep.
        BadJSONError: the body is not JSON (400).
    """
    if not raw.strip():
        if empty is not _NO_DEFAULT:
            return empty
        raise RequestError("the request body is missing; send a JSON object")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if exc.msg == "depth limit exceeded":  # orjson's own limit (1024): the same refusal
            nested = f"the request body nests deeper than {MAX_DEPTH} levels of JSON"
            raise RequestError(nested) from None
        raise BadJSONError(f"the request body is not valid JSON ({exc.msg})") from None
    if walk and raw.count(b"[") + raw.count(b"{") > MAX_DEPTH:
        check_fields(body)
    return body


def _checked(raw: bytes, model: type[M], empty: Any) -> M:
    body = parse_json(raw, empty=empty, walk=False)  # walked once, below
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    check_fields(body)
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e.get("loc", ()))} for e in exc.errors()]
        raise RequestError(validation_sentence(errors)) from None


def json_body(model: type[M], *, empty: Any = _NO_DEFAULT) -> Callable[[Request], Awaitable[M]]:
    """A FastAPI dependency: the request body, read through the door and validated by ``model``.

    Args:
        model: the pydantic model of the body.
        empty: the body to assume when none is sent (e.g. ``{}``: every field's default);
            without it a missing body is a 422.

    Returns:
        The dependency; declare it ``Annotated[Model, Depends(json_body(Model))]``.
    """

    async def read(request: Request) -> M:
        limit = request.app.state.store.config.serving.max_body_bytes
        raw = await read_body(request.scope, request.receive, limit)
        if len(raw) > _THREAD_AT:  # parsing megabytes would hold up every other request
            return await run_in_threadpool(_checked, raw, model, empty)
        return _checked(raw, model, empty)

    return read


class BodyLimit:
    """ASGI middleware: no reader of a request body gets more than ``limit`` bytes of it (a
    BodyTooLargeError, answered 413, when it would).

    :func:`read_body` bounds its own reads (the hot path does not pass through here); this is
    for the readers that do not use it, such as the UI's sign-in form (``request.body()``).
    """

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            receive = _limited(receive, self.limit)
        await self.app(scope, receive, send)
