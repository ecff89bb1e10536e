"""``/rollouts``: roll out a new view version, shadow -> canary -> promote or abort.

Steps need the ``write`` scope: ``POST /rollouts`` (start, or move to another stage),
``POST /rollouts/{view}/promote``, ``POST /rollouts/{view}/abort``. Reading needs ``read``:
``GET /rollouts`` (every rollout, newest first) and ``GET /rollouts/{view}/report`` (the arms
compared, ``RolloutReport.to_dict()``). Each step answers the rollout's record, as
``featurestore rollout ... --json`` prints it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from featurestore.server.door import json_body
from featurestore.server.errors import json_response
from featurestore.server.schemas import post_json
from featurestore.store import FeatureStore

__all__ = ["reader", "writer"]

reader = APIRouter(prefix="/rollouts", tags=["rollouts"])
writer = APIRouter(prefix="/rollouts", tags=["rollouts"])

_STEP = {
    404: {"description": "An unknown view or version, or no rollout of the view runs."},
    409: {"description": "Another version of the view is rolling out."},
    422: {"description": "A bad stage, share or version."},
}


class RolloutBody(BaseModel):
    """Start rolling out ``version`` of ``view`` (or move its running rollout to ``stage``)."""

    model_config = ConfigDict(extra="forbid")
    view: str = Field(description="The feature view.")
    version: int = Field(description="The registered version to roll out.", ge=1)
    stage: Literal["shadow", "canary"] = "shadow"
    fraction: float = Field(default=0.1, description="The canary's share of entities.")
    sample: float = Field(default=0.01, description="The shadow's share of requests.")


def _store(request: Request) -> FeatureStore:
    store: FeatureStore = request.app.state.store
    return store


@post_json(writer, "", RolloutBody, _STEP)
async def start(
    body: Annotated[RolloutBody, Depends(json_body(RolloutBody))], request: Request
) -> Response:
    """Start a rollout, or move the running one to another stage, fraction or sample."""
    store = _store(request)
    record = await run_in_threadpool(
        lambda: store.start_rollout(
            body.view,
            version=body.version,
            stage=body.stage,
            fraction=body.fraction,
            sample=body.sample,
        )
    )
    return json_response(record.to_dict())


@writer.post("/{view}/promote", response_class=Response, responses=_STEP)  # type: ignore[arg-type]
async def promote(view: str, request: Request) -> Response:
    """Make the candidate the version in force and its values the served ones."""
    store = _store(request)
    record = await run_in_threadpool(store.promote_rollout, view)
    return json_response(record.to_dict())


@writer.post("/{view}/abort", response_class=Response, responses=_STEP)  # type: ignore[arg-type]
async def abort(view: str, request: Request) -> Response:
    """End the rollout: the baseline stays, the candidate's values are deleted."""
    store = _store(request)
    record = await run_in_threadpool(store.abort_rollout, view)
    return json_response(record.to_dict())


@reader.get("", response_class=Response)
async def listing(
    request: Request,
    view: Annotated[str | None, Query(description="Only this view's rollouts.")] = None,
) -> Response:
    """Every rollout, newest first."""
    store = _store(request)
    found = await run_in_threadpool(store.rollouts, view)
    return json_response([r.to_dict() for r in found])


@reader.get("/{view}/report", response_class=Response)
async def report(view: str, request: Request) -> Response:
    """The arms of the view's running (else latest) rollout compared."""
    store = _store(request)
    found = await run_in_threadpool(store.rollout_report, view)
    return json_response(found.to_dict())
