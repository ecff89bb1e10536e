"""``GET /health`` and ``GET /metrics``: open even when tokens are configured.

They serve probes and Prometheus scrapers and expose no feature data; put the server behind a
network boundary if request counts themselves are sensitive.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from featurestore.errors import StoreUnavailableError
from featurestore.server.errors import json_response
from featurestore.store import FeatureStore

__all__ = ["router"]

router = APIRouter(tags=["operations"])


@router.get(
    "/health",
    response_class=Response,
    responses={503: {"description": "The online store does not answer."}},
)
async def health(request: Request) -> Response:
    """``{"status": "ok"}`` when the online store answers a ping, else 503."""
    store: FeatureStore = request.app.state.store
    try:
        await run_in_threadpool(store.online.ping)
    except StoreUnavailableError as exc:
        metrics = request.app.state.metrics
        metrics.error(type(exc).__name__)
        metrics.online_store_errors.inc()
        return json_response({"status": "unavailable", "detail": exc.message}, 503)
    return json_response({"status": "ok"})


@router.get("/metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus metrics of this worker (text exposition format)."""
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
