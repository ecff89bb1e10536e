"""``GET /reports/*`` (need the ``read`` scope). ``/reports/skew|drift|performance`` go here."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from featurestore.server.errors import json_response
from featurestore.store import FeatureStore

__all__ = ["router"]

router = APIRouter(prefix="/reports", tags=["reports"])


@router.get("/contracts", response_class=Response)
async def contracts(
    request: Request,
    view: Annotated[str | None, Query(description="Only this feature view's runs.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="How many runs, newest first.")] = 20,
) -> Response:
    """Ingestion runs (batch and push): counts, violations with examples, data health."""
    store: FeatureStore = request.app.state.store

    def load() -> list[dict[str, object]]:
        if view is not None:
            store.get_feature_view(view)  # an unknown view is a 404, not an empty list
        return [report.to_dict() for report in store.contract_reports(view=view, limit=limit)]

    async def run() -> list[dict[str, object]]:
        return await run_in_threadpool(load)

    return json_response(await request.app.state.watcher.retry_on_miss(run))
