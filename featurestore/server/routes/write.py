"""Endpoints that change data (need the ``write`` scope): ``/push``, ``/materialize``,
``/feedback``.

They run in the thread pool: validation, feature computation and writes take milliseconds to
minutes and must not hold up online reads.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from featurestore.reports import IngestReport, MaterializeReport, as_utc
from featurestore.server.errors import json_response
from featurestore.server.schemas import FeedbackBody, MaterializeBody, PushBody
from featurestore.store import FeatureStore

__all__ = ["router", "run_materialize"]

router = APIRouter(tags=["write"])

_REJECTED = {
    422: {"description": "Bad input, or a batch the contract rejected (`report` says why)."}
}


def _store(request: Request) -> FeatureStore:
    store: FeatureStore = request.app.state.store
    return store


@router.post("/push", response_class=Response, responses=_REJECTED)  # type: ignore[arg-type]
async def push(body: PushBody, request: Request) -> Response:
    """Validate pushed rows with the view's contract and write their features (Feast's push)."""
    store = _store(request)

    async def run() -> IngestReport:
        return await run_in_threadpool(
            lambda: store.push(body.push_source_name, body.df, to=body.to)
        )

    report = await request.app.state.watcher.retry_on_miss(run)
    return json_response(report.to_dict())


@router.post("/materialize", response_class=Response)
async def materialize(request: Request, body: MaterializeBody | None = None) -> Response:
    """Load the latest offline values into the online store (incremental by default; an empty
    body means the defaults). Takes Feast's ``start_ts``, ``end_ts``, ``feature_views`` too."""
    start, end, views = (body or MaterializeBody()).window()
    return await run_materialize(request, views, start=start, end=end)


async def run_materialize(
    request: Request,
    views: list[str] | None,
    *,
    start: dt.datetime | None,
    end: dt.datetime | None,
) -> Response:
    """Materialize ``views`` in the thread pool and answer the report."""
    store = _store(request)

    async def run() -> MaterializeReport:
        return await run_in_threadpool(lambda: store.materialize(views, start=start, end=end))

    report = await request.app.state.watcher.retry_on_miss(run)
    return json_response(report.to_dict())


_FEEDBACK = {
    404: {"description": "An unknown request_id (no online answer carried it)."},
    409: {"description": "That prediction, label or another group is already stored for it."},
    422: {"description": "Neither prediction nor label, or a value of the wrong type."},
}


@router.post("/feedback", response_class=Response, responses=_FEEDBACK)  # type: ignore[arg-type]
async def feedback(body: FeedbackBody, request: Request) -> Response:
    """Record a prediction and/or a label for a served request (``metadata.request_id``)."""
    store = _store(request)
    await run_in_threadpool(
        store.log_feedback,
        body.request_id,
        prediction=body.prediction,
        label=body.label,
        timestamp=as_utc(body.timestamp),
        group=body.group,
    )
    return json_response({"request_id": body.request_id, "stored": True})
