"""``POST /get-online-features``: the hot path (needs the ``read`` scope).

Two ways in, one answer (:func:`answer`). FastAPI's per-request machinery (its telemetry check,
the middleware stack, dependency solving, exit stacks, exception wrapping) costs more CPU than
the answer to a single-entity request (``benchmarks/serving_cpu.py``), so the app
(:class:`~featurestore.server.app.FeatureServer`) hands POSTs to this path to
:class:`OnlineFastPath` before FastAPI sees them: it checks the token, reads the body and sends
the bytes, with the same errors as everywhere else. The FastAPI route declares the endpoint for
the OpenAPI schema and answers when the fast path is off (``create_app(..., fast_path=False)``);
other methods on the path still reach FastAPI (405).

The body is parsed with orjson and checked by hand, answered by
:func:`featurestore.serving.answer_async` from the store's current serving state, serialised
straight to bytes and sent; the store's monitor then samples the answer into the serving log.
When no other request is in flight the sampling waits (:meth:`Monitor.defer
<featurestore.monitoring.Monitor.defer>`) until the next request waits on its online read, or
5 ms: sampling a 100-entity answer costs 100-200 µs in the running server, which a client on
one connection would otherwise wait for before its next request is read. Under load the loop is
busy anyway and samples at once. The gain is within this machine's noise: 100x50 at concurrency
1 ran at 1.12-1.16x the floor sampling at once and 1.22-1.25x deferred in interleaved runs of
``benchmarks/online_serving.py``'s servers, and ``online_serving.py --compare-sample-rates``
gives rate 0.01 at 0.92x (at once) and 0.94x (deferred) of rate 0.
On a standalone Redis the read is awaited (``online/_redis_async.py``), so the loop parses,
computes and answers other requests during the round trip; other online stores are read on the
loop itself (a local round trip takes less time than handing it to a thread), and a down server
is answered at once (503). The request path is written out in :mod:`featurestore.serving`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from functools import partial
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.background import BackgroundTask

from featurestore.errors import FeatureStoreError
from featurestore.server.auth import TokenTable, check_token
from featurestore.server.door import header, read_body
from featurestore.server.errors import error_response
from featurestore.server.refresh import DefinitionWatcher
from featurestore.server.schemas import GetOnlineFeaturesBody, body_schema, online_request
from featurestore.serving import answer_async
from featurestore.store import FeatureStore

__all__ = ["PATH", "OnlineFastPath", "answer", "is_fast", "router"]

PATH = "/get-online-features"

router = APIRouter(tags=["serving"])

_ANSWER = {
    200: {
        "description": "Feast's column-oriented answer: `metadata.feature_names` (join keys "
        "first) and `results[i] = {values, statuses, event_timestamps}`.",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


async def answer(
    store: FeatureStore, watcher: DefinitionWatcher, raw: bytes
) -> tuple[bytes, Callable[[], None]]:
    """The JSON answer to a ``/get-online-features`` body (raises FeatureStoreError), from the
    store's current serving state (:func:`~featurestore.serving.answer_async`), and what samples
    it into the serving log (its monitor's ``log_served``; never raises).

    Callers sample once the answer is sent (see the module docstring): the answer is
    immutable, so sampling it afterwards logs exactly what was sent.
    """
    request = online_request(raw, store.config.serving.max_entities)

    async def serve() -> tuple[bytes, Callable[[], None]]:
        state = store.state
        response = await answer_async(state, request, store.online)
        versions = state.view_versions if request.feature_view_metadata else None
        content = response.to_feast_json(view_versions=versions)
        return content, partial(store.monitor.log_served, response, state)

    return await watcher.retry_on_miss(serve)


@router.post(
    PATH,
    response_class=Response,
    responses=_ANSWER,  # type: ignore[arg-type]
    openapi_extra=body_schema(GetOnlineFeaturesBody),
    summary="Online feature values for a batch of entities",
)
async def get_online_features(request: Request) -> Response:
    """Features (or a feature service) for the given entities, in one online-store round trip."""
    state = request.app.state
    limit = state.store.config.serving.max_body_bytes
    raw = await read_body(request.scope, request.receive, limit)
    content, log = await answer(state.store, state.watcher, raw)

    async def sample() -> None:  # on the loop once sent (a plain function would go to a thread)
        log()

    return Response(content, media_type="application/json", background=BackgroundTask(sample))


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
_JSON = (b"content-type", b"application/json")
#: seconds after an answer is sent by which it is sampled into the serving log when no request
#: comes to wait on a read meanwhile
_SAMPLE_WITHIN = 0.005


def is_fast(scope: Scope) -> bool:
    """Whether the fast path answers this request: ``POST /get-online-features``."""
    if scope["type"] != "http" or scope["method"] != "POST":
        return False
    path: str = scope["path"]
    return path.removeprefix(scope.get("root_path", "")) == PATH


class OnlineFastPath:
    """The ASGI app answering ``POST /get-online-features`` (see :func:`is_fast`).

    Args:
        state: the FastAPI app's state (``store``, ``watcher``, ``tokens``, ``metrics``).
        route: the FastAPI route of the path, put in the scope so metrics label the request
            as the router would.
    """

    def __init__(self, state: Any, route: Any) -> None:
        self.route = route
        self.store: FeatureStore = state.store
        self.watcher: DefinitionWatcher = state.watcher
        self.tokens: TokenTable = state.tokens
        self.metrics: Any = state.metrics
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None
        self._busy = 0  # requests past their first line and not yet answered

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = self.route
        monitor = self.store.monitor
        if monitor.has_deferred:  # runs when this request first waits (on its online read)
            asyncio.get_running_loop().call_soon(monitor.log_deferred)
        self._busy += 1
        try:
            if self.tokens.entries:
                check_token(self.tokens, header(scope, b"authorization"), "read", PATH)
            limit = self.store.config.serving.max_body_bytes
            raw = await read_body(scope, receive, limit)  # after the token: never unauthorised
            content, log = await answer(self.store, self.watcher, raw)
        except FeatureStoreError as exc:
            await error_response(self.metrics, exc, scope)(scope, receive, send)
            return
        finally:
            self._busy -= 1
        length = (b"content-length", str(len(content)).encode())
        await send({"type": "http.response.start", "status": 200, "headers": [_JSON, length]})
        await send({"type": "http.response.body", "body": content})
        if self._busy:  # other requests keep the loop busy: no wait to sample in
            log()
            return
        monitor.defer(log)
        loop = asyncio.get_running_loop()
        if self._timer is None or self._timer_loop is not loop:  # (an app may outlive a loop)
            self._timer, self._timer_loop = loop.call_later(_SAMPLE_WITHIN, self._sample), loop

    def _sample(self) -> None:
        """No request came to wait on a read: sample what waits anyway."""
        self._timer = None
        self.store.monitor.log_deferred()
