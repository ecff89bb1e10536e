"""``GET /policies/decisions`` (needs the ``read`` scope): the retraining-policy decision log.

Each decision is the ``PolicyDecision.to_dict()`` the Python API and ``--json`` give: the figures
each trigger read, which fired, ``retrain`` and why. Evaluating (which writes decisions) is the
server's schedule (``serving.policy_check_interval``) or ``featurestore policy evaluate``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from featurestore.reports import as_utc
from featurestore.server.errors import json_response
from featurestore.store import FeatureStore

__all__ = ["router"]

router = APIRouter(prefix="/policies", tags=["policies"])


@router.get("/decisions", response_class=Response)
async def decisions(
    request: Request,
    policy: Annotated[str | None, Query(description="Only this policy's decisions.")] = None,
    retrain: Annotated[
        bool | None, Query(description="Only decisions to retrain (true) or not (false).")
    ] = None,
    since: Annotated[
        dt.datetime | None, Query(description="Only decisions at or after (ISO 8601).")
    ] = None,
    until: Annotated[
        dt.datetime | None, Query(description="Only decisions before (ISO 8601).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="How many, newest first.")] = 50,
) -> Response:
    """Recorded decisions of the retraining policies, newest first."""
    store: FeatureStore = request.app.state.store

    def load() -> list[dict[str, object]]:
        found = store.policy_decisions(
            policy, retrain=retrain, since=as_utc(since), until=as_utc(until), limit=limit
        )
        return [d.to_dict() for d in found]

    return json_response(await run_in_threadpool(load))
