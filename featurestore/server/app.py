"""The FastAPI app: Feast-compatible serving plus push, materialize, reports, health, metrics.

``create_app(store)`` builds an app around an open store; ``app_from_env()`` is the uvicorn
factory behind ``featurestore serve`` (each worker process opens its own store from
``FEATURESTORE_REPO``). See :mod:`featurestore.server.routes` for where endpoints live.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import logging
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import Depends, FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

import featurestore
from featurestore.reports import parse_iso
from featurestore.server.auth import TokenTable, require_scope
from featurestore.server.door import BodyLimit
from featurestore.server.errors import install_error_handlers
from featurestore.server.metrics import Metrics, MetricsMiddleware
from featurestore.server.refresh import DefinitionWatcher
from featurestore.server.routes import (
    feast,
    ops,
    policies,
    reports,
    rollouts,
    serving,
    ui,
    write,
)
from featurestore.server.routes.docs import install_docs
from featurestore.store import FeatureStore

__all__ = [
    "FREEZE_GC_ENV",
    "REFRESH_ENV",
    "FeatureServer",
    "app_from_env",
    "create_app",
    "scheduled_policy_evaluations",
    "scheduled_skew_checks",
]

logger = logging.getLogger("featurestore.server")

#: seconds between checks of the registry for new definitions (default 5)
REFRESH_ENV = "FEATURESTORE_SERVER_REFRESH_SECONDS"
#: "0" keeps the garbage collector's default (see ``create_app(freeze_gc=...)``)
FREEZE_GC_ENV = "FEATURESTORE_SERVER_FREEZE_GC"


class FeatureServer(FastAPI):
    """The FastAPI app, with the hot path answered before FastAPI's per-request machinery.

    FastAPI's ``__call__`` (its telemetry check, Starlette's middleware stack and router) costs
    more CPU than answering a single-entity request; ``POST /get-online-features`` goes
    straight to :class:`~featurestore.server.routes.serving.OnlineFastPath` (timed by the same
    metrics middleware), everything else to FastAPI.
    """

    fast_path: Any = None  # the ASGI app of the hot path, or None to route it through FastAPI

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fast = self.fast_path
        if fast is not None and serving.is_fast(scope):
            await fast(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(
    store: FeatureStore,
    *,
    refresh_interval: float = 5.0,
    close_store: bool = False,
    fast_path: bool = True,
    freeze_gc: bool = False,
) -> FeatureServer:
    """The HTTP feature server around ``store``.

    Args:
        store: an open feature store; its ``config.serving`` gives the tokens and limits.
        refresh_interval: seconds between checks of the registry for changed definitions.
        close_store: close ``store`` when the app shuts down (the app owns it).
        fast_path: answer ``POST /get-online-features`` ahead of FastAPI (the same answers
            with less CPU per request; see :mod:`featurestore.server.routes.serving`).
        freeze_gc: once the definitions are loaded, move every object alive to the garbage
            collector's permanent generation (``gc.freeze``), for a process that is only this
            server (``featurestore serve`` does). Measured with ``benchmarks/tail_probe.py``, a
            full collection otherwise walks the ~140,000 objects of the loaded libraries and
            definitions, a pause of tens to hundreds of milliseconds that every request in
            flight waits out: the largest single cause of the p99 at high concurrency.

    Returns:
        The app. ``app.state`` holds ``store``, ``metrics`` (:class:`Metrics`), ``watcher``
        (:class:`DefinitionWatcher`) and ``tokens``.
    """
    watcher = DefinitionWatcher(store, interval=refresh_interval)
    interval = store.config.serving.skew_check_interval
    policy_interval = store.config.serving.policy_check_interval

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        watcher.check()  # load the definitions before the first request
        if freeze_gc:
            gc.collect()
            gc.freeze()
        if store.alerts is not None:
            store.alerts.start()  # also posts what earlier processes left pending
        tasks = [asyncio.create_task(watcher.run())]
        if interval:
            tasks.append(asyncio.create_task(scheduled_skew_checks(store, interval)))
        if policy_interval:
            tasks.append(asyncio.create_task(scheduled_policy_evaluations(store, policy_interval)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await store.online.aclose()  # the awaited reads' connections belong to this loop
            if close_store:
                store.close()

    app = FeatureServer(
        title="featurestore",
        version=featurestore.__version__,
        description="Online features with train-serve parity (a Feast-compatible API).",
        lifespan=lifespan,
        docs_url=None,  # served from local assets by routes.docs, not from a CDN
        redoc_url=None,
    )
    install_docs(app)
    metrics = Metrics()

    def count_samples(logged: int, dropped: int) -> None:
        metrics.samples_logged.inc(logged)
        metrics.samples_dropped.inc(dropped)

    store.serving_logger.on_change = count_samples
    app.state.store = store
    app.state.metrics = metrics
    app.state.watcher = watcher
    app.state.tokens = TokenTable.from_config(store.config.serving.tokens)
    install_error_handlers(app)

    secured = bool(app.state.tokens.entries)
    read = [Depends(require_scope("read"))] if secured else []
    write_scope = [Depends(require_scope("write"))] if secured else []
    app.include_router(serving.router, dependencies=read)
    app.include_router(reports.router, dependencies=read)
    app.include_router(policies.router, dependencies=read)
    app.include_router(write.router, dependencies=write_scope)
    app.include_router(feast.router, dependencies=write_scope)
    app.include_router(rollouts.reader, dependencies=read)
    app.include_router(rollouts.writer, dependencies=write_scope)
    app.include_router(ops.router)
    if store.config.serving.ui:
        app.include_router(ui.router)  # checks the read scope itself (header or sign-in cookie)
    app.add_middleware(BodyLimit, limit=store.config.serving.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    if fast_path:  # timed by the metrics middleware as the routed requests are
        route = next(r for r in serving.router.routes if getattr(r, "path", None) == serving.PATH)
        app.fast_path = MetricsMiddleware(serving.OnlineFastPath(app.state, route), metrics)
    return app


async def scheduled_skew_checks(store: FeatureStore, interval: float) -> None:
    """Run the skew check every ``interval`` seconds (``serving.skew_check_interval``); each
    report is recorded in the registry (``GET /reports/skew?latest=true``). Failures are logged.

    Each check covers the samples requested since the previous one (the first: since the last
    recorded skew report, or every sample if there is none), so its cost follows one interval's
    traffic. Checking the whole log every time made each check longer and larger than the last:
    the soak (``benchmarks/soak.py``) saw the server's memory grow by ~35 MB per check. A check
    that fails leaves its window to the next one. With several workers, each runs its own
    schedule.
    """
    window = _SkewWindow(store)
    await _every(interval, window.check, "the scheduled skew check")


class _SkewWindow:
    """The scheduled skew checks' moving window: where the next check starts."""

    def __init__(self, store: FeatureStore) -> None:
        self.store = store
        self.since: dt.datetime | None = None
        self.started = False

    def check(self) -> None:
        if not self.started:
            latest = self.store.registry.reports("skew", limit=1)
            checked = latest[0].get("checked_at") if latest else None
            self.since = parse_iso(checked) if isinstance(checked, str) else None
            self.started = True
        until = dt.datetime.now(dt.UTC)
        self.store.check_skew(since=self.since, until=until)
        self.since = until


async def scheduled_policy_evaluations(store: FeatureStore, interval: float) -> None:
    """Evaluate the retraining policies every ``interval`` seconds
    (``serving.policy_check_interval``); each decision goes to the decision log
    (``GET /policies/decisions``) and a decision to retrain raises the ``retrain`` alert event.

    With several workers, each runs its own schedule; decisions are made under the registry's
    lock, so the cooldown keeps them from firing twice for one retrain.
    """
    await _every(interval, store.evaluate_policies, "the scheduled policy evaluation")


async def _every(interval: float, job: Callable[[], object], what: str) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await run_in_threadpool(job)
        except Exception:
            logger.exception("%s failed", what)


def app_from_env() -> FastAPI:
    """The uvicorn factory: an app around ``FeatureStore(os.environ["FEATURESTORE_REPO"])``."""
    store = FeatureStore(os.environ.get("FEATURESTORE_REPO", "."))
    interval = float(os.environ.get(REFRESH_ENV, "5"))
    freeze = os.environ.get(FREEZE_GC_ENV, "1") != "0"
    return create_app(store, refresh_interval=interval, close_store=True, freeze_gc=freeze)
