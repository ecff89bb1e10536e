"""Prometheus metrics of one app, and the ASGI middleware that records them.

Each app gets its own ``CollectorRegistry`` (two apps in one process never mix counts). With
several uvicorn workers every worker counts only its own requests, so a scrape sees one worker
at a time; run one worker per port (or prometheus-client's multiprocess mode) when exact totals
across workers matter.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector

__all__ = ["Metrics", "MetricsMiddleware", "log_detail"]

logger = logging.getLogger("featurestore.server")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Online reads take well under a millisecond; materialization can take minutes.
_LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    10.0,
    60.0,
)
_UNMATCHED = "unmatched"
_LOGGED_BODY = 2048  # bytes of an error answer kept for its log line
_LOGGED_DETAIL = 300  # characters of its detail logged
_LOG_DETAIL = "featurestore.log_detail"  # the scope key of log_detail's detail


class Metrics:
    """The server's metrics, exposed as ``app.state.metrics``.

    Attributes:
        registry: the app's own Prometheus registry (what ``GET /metrics`` renders).
        request_latency: seconds per request, by endpoint: the route's template
            (``/reports/skew/{view}``), never the raw path, so label values stay few.
        requests: requests by endpoint and HTTP status code.
        errors: errors answered, by error class (``NotFoundError``, ``StoreUnavailableError``...).
        online_store_errors: requests the online store failed to answer.
        samples_logged: serving-log samples written (``metrics.samples_logged.inc(n)``).
        samples_dropped: serving-log samples dropped because the buffer was full.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        # process_* (resident memory, CPU seconds, open files, start time) of this worker
        ProcessCollector(registry=self.registry)
        self.request_latency = Histogram(
            "featurestore_request_duration_seconds",
            "Time to answer a request, by endpoint.",
            ["endpoint"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.requests = Counter(
            "featurestore_requests",
            "Requests answered, by endpoint and status code.",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.errors = Counter(
            "featurestore_errors",
            "Errors answered, by error class.",
            ["error"],
            registry=self.registry,
        )
        self.online_store_errors = Counter(
            "featurestore_online_store_errors",
            "Requests the online store failed to answer.",
            registry=self.registry,
        )
        self.samples_logged = Counter(
            "featurestore_serving_log_samples_logged",
            "Served rows sampled into the serving log.",
            registry=self.registry,
        )
        self.samples_dropped = Counter(
            "featurestore_serving_log_samples_dropped",
            "Serving-log samples dropped because the buffer was full.",
            registry=self.registry,
        )
        # Looking up a labelled child takes a lock; the hot path keeps the children it met.
        self._children: dict[tuple[str, int], tuple[Any, Any]] = {}

    def observe(self, endpoint: str, status: int, seconds: float) -> None:
        """Record one answered request."""
        children = self._children.get((endpoint, status))
        if children is None:
            children = (
                self.request_latency.labels(endpoint),
                self.requests.labels(endpoint, str(status)),
            )
            self._children[(endpoint, status)] = children
        children[0].observe(seconds)
        children[1].inc()

    def error(self, error_class: str) -> None:
        """Count one error answered (any status), by class name."""
        self.errors.labels(error_class).inc()


_INTERNAL = orjson.dumps({"detail": "internal error"})


class MetricsMiddleware:
    """Times every HTTP request, logs every error answered (one line; a traceback for an
    unexpected exception) and answers unexpected exceptions with a 500.

    Args:
        app: the inner ASGI app.
        metrics: where to record.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        started = False
        error_body = b""  # the start of an error answer, for its one log line

        async def send_and_note(message: Message) -> None:
            nonlocal status, started, error_body
            if message["type"] == "http.response.start":
                status = message["status"]
                started = True
            elif status >= 400 and len(error_body) < _LOGGED_BODY:
                error_body += message.get("body", b"")[:_LOGGED_BODY]
            await send(message)

        failed = False
        try:
            await self.app(scope, receive, send_and_note)
        except Exception as exc:  # anything a handler did not turn into an answer
            failed = True
            logger.exception(
                "500 %s %s: unexpected %s", scope["method"], _clip(scope), type(exc).__name__
            )
            self.metrics.error(type(exc).__name__)
            if not started:
                await _send_internal_error(send)
            status = 500
        finally:
            route = scope.get("route")
            endpoint = getattr(route, "path", _UNMATCHED)
            self.metrics.observe(endpoint, status, time.perf_counter() - start)
        if status >= 400 and not failed:
            _log_answered_error(scope, status, error_body)


def log_detail(scope: Scope, detail: str) -> None:
    """Have the request's error line give ``detail`` instead of the answer's: a detail only the
    server's log may show (a registry failure names its database)."""
    scope[_LOG_DETAIL] = detail


def _log_answered_error(scope: Scope, status: int, body: bytes) -> None:
    """One line for an error the app answered itself: a 5xx (a store down) as an error, a
    4xx (the client's mistake) as a warning, each with the answer's detail (or the one
    :func:`log_detail` gave)."""
    detail = scope.get(_LOG_DETAIL)
    if detail is None:  # the answer's detail quotes the client's input: kept short
        try:
            detail = str(orjson.loads(body).get("detail", ""))
        except (orjson.JSONDecodeError, AttributeError):
            detail = body.decode("utf-8", "replace")
        detail = detail[:_LOGGED_DETAIL]
    detail = " ".join(detail.split())  # the server's own detail (a registry failure) whole
    level = logging.ERROR if status >= 500 else logging.WARNING
    logger.log(level, "%d %s %s: %s", status, scope["method"], _clip(scope), detail)


def _clip(scope: Scope) -> str:
    path = str(scope.get("path", ""))
    return path if len(path) <= _LOGGED_DETAIL else path[:_LOGGED_DETAIL] + "..."


async def _send_internal_error(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(_INTERNAL)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": _INTERNAL})
