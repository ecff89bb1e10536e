"""``GET /reports/*`` (need the ``read`` scope): contracts, skew, drift, performance, feedback loops.

They answer the same ``to_dict()`` the Python API and ``--json`` print. Skew and drift run a
fresh check (and record it); ``?latest=true`` returns the last recorded report instead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from featurestore.errors import NotFoundError
from featurestore.reports import as_utc
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


Since = Annotated[dt.datetime | None, Query(description="Only requests at or after (ISO 8601).")]
Until = Annotated[dt.datetime | None, Query(description="Only requests before (ISO 8601).")]
Latest = Annotated[bool, Query(description="Return the last recorded report, do not run one.")]


async def _answer(request: Request, kind: str, latest: bool, fresh: Callable[[], Any]) -> Response:
    store: FeatureStore = request.app.state.store

    def load() -> Any:
        if latest:
            recorded = store.registry.reports(kind, limit=1)  # type: ignore[arg-type]
            if not recorded:
                raise NotFoundError(f"no {kind} report has been recorded yet")
            return recorded[0]
        return fresh().to_dict()

    return json_response(await run_in_threadpool(load))


@router.get("/skew", response_class=Response)
async def skew(
    request: Request, since: Since = None, until: Until = None, latest: Latest = False
) -> Response:
    """Served values recomputed offline: per view and feature, match / stale / missing_online /
    missing_offline / mismatch counts, differences and examples."""
    store: FeatureStore = request.app.state.store
    return await _answer(
        request, "skew", latest, lambda: store.check_skew(since=as_utc(since), until=as_utc(until))
    )


@router.get("/drift", response_class=Response)
async def drift(
    request: Request,
    reference: Annotated[
        str | None, Query(description="A saved training frame (save_as); required unless latest.")
    ] = None,
    current: Annotated[
        str | None, Query(description="Another saved frame; default: served.")
    ] = None,
    since: Since = None,
    until: Until = None,
    latest: Latest = False,
) -> Response:
    """Feature distributions against a training frame: PSI, KS, JS, Wasserstein, chi-square."""
    store: FeatureStore = request.app.state.store

    def fresh() -> Any:
        if reference is None:
            from featurestore.errors import RequestError

            raise RequestError("query parameter 'reference' (a saved training frame) is required")
        return store.drift(
            reference=reference, current=current, since=as_utc(since), until=as_utc(until)
        )

    return await _answer(request, "drift", latest, fresh)


@router.get("/performance", response_class=Response)
async def performance(
    request: Request,
    window: Annotated[str, Query(description="Window width: 30m, 6h, 1d, 2w.")] = "1d",
    since: Since = None,
    until: Until = None,
    latest: Latest = False,
) -> Response:
    """Model performance per window from feedback, label/prediction drift, ADWIN/DDM alarms."""
    store: FeatureStore = request.app.state.store
    return await _answer(
        request,
        "performance",
        latest,
        lambda: store.performance(window, since=as_utc(since), until=as_utc(until)),
    )


@router.get("/feedback-loop", response_class=Response)
async def feedback_loop(
    request: Request,
    window: Annotated[str, Query(description="Window width: 30m, 6h, 1d, 2w.")] = "1d",
    control: Annotated[
        str, Query(description="The feedback group served without the model.")
    ] = "control",
    since: Since = None,
    until: Until = None,
    latest: Latest = False,
) -> Response:
    """Feedback loops per window: entities served, prediction diversity and its trend, outcomes
    per group with a z-test of control against the rest; narrowing and diverging flags."""
    store: FeatureStore = request.app.state.store
    return await _answer(
        request,
        "feedback_loop",
        latest,
        lambda: store.feedback_loop_report(
            window, since=as_utc(since), until=as_utc(until), control=control
        ),
    )
