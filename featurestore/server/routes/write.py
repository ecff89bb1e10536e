"""Endpoints that change data (need the ``write`` scope): ``/push``, ``/materialize``,
``/feedback``.

They run in the thread pool: validation, feature computation and writes take milliseconds to
minutes and must not hold up online reads.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from featurestore.definitions import PushSource
from featurestore.limits import check_time, quote
from featurestore.reports import IngestReport, MaterializeReport, as_utc, parse_iso
from featurestore.server.door import json_body
from featurestore.server.errors import json_response
from featurestore.server.schemas import (
    FeedbackBody,
    MaterializeBody,
    PushBody,
    post_json,
)
from featurestore.store import FeatureStore

__all__ = ["router", "run_materialize"]

router = APIRouter(tags=["write"])

_REJECTED = {
    422: {"description": "Bad input, or a batch the contract rejected (`report` says why)."}
}


def _store(request: Request) -> FeatureStore:
    store: FeatureStore = request.app.state.store
    return store


PushIn = Annotated[PushBody, Depends(json_body(PushBody))]
MaterializeIn = Annotated[MaterializeBody, Depends(json_body(MaterializeBody, empty={}))]
FeedbackIn = Annotated[FeedbackBody, Depends(json_body(FeedbackBody))]


@post_json(router, "/push", PushBody, _REJECTED)
async def push(body: PushIn, request: Request) -> Response:
    """Validate pushed rows with the view's contract and write their features (Feast's push)."""
    store = _store(request)

    def checked_push() -> IngestReport:
        _check_push_times(store, body)
        return store.push(body.push_source_name, body.df, to=body.to)

    async def run() -> IngestReport:
        return await run_in_threadpool(checked_push)

    report = await request.app.state.watcher.retry_on_miss(run)
    return json_response(report.to_dict())


@post_json(router, "/materialize", MaterializeBody)
async def materialize(body: MaterializeIn, request: Request) -> Response:
    """Load the latest offline values into the online store (incremental by default; an empty
    body means the defaults). Takes Feast's ``start_ts``, ``end_ts``, ``feature_views`` too."""
    start, end, views = body.window()
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


@post_json(router, "/feedback", FeedbackBody, _FEEDBACK)
async def feedback(body: FeedbackIn, request: Request) -> Response:
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


def _check_push_times(store: FeatureStore, body: Any) -> None:
    """Refuse a pushed time before 1900 or later than now plus ``ingestion.max_future``.

    Only the push source's datetime columns given as ISO 8601 text are looked at; anything else
    is the contract's to judge. Over HTTP such a time is refused whole (a 422 naming the column)
    rather than quarantined, as DESIGN section 8 asks of every value that arrives there.

    Raises:
        RequestError: naming the column and the time.
    """
    views = store.writes.push_views(body.push_source_name)
    if not views:
        return  # the store answers an unknown push source with a 404
    source = views[0].source
    assert isinstance(source, PushSource)
    if not source.schema:
        return
    latest = dt.datetime.now(dt.UTC) + store.config.ingestion.max_future
    columns = {c for c, t in source.schema.items() if t == "datetime"}
    columns |= {c for c in (source.timestamp_field, source.created_timestamp_field) if c}
    for column in sorted(c for c in columns if c in body.df):
        for value in body.df[column]:
            stamp = _iso(value)
            if stamp is not None:
                check_time(stamp, f"pushed {quote(column)}", latest=latest)


def _iso(value: Any) -> dt.datetime | None:
    """An ISO 8601 text as a UTC datetime; anything else is the contract's to judge."""
    if not isinstance(value, str):
        return None
    try:
        return parse_iso(value)
    except ValueError:
        return None
