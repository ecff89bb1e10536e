"""Endpoints only Feast has (need the ``write`` scope): ``/materialize-incremental`` and
``/write-to-online-store``.

A Feast repo whose ``online_store`` is ``type: remote`` pointing at this server writes through
``/write-to-online-store`` (its ``write_to_online_store`` and ``push`` post computed feature
values there) and has this server materialize: its ``materialize`` posts to ``/materialize``
(:mod:`~featurestore.server.routes.write`), its ``materialize_incremental`` here, from each
view's watermark.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from featurestore.reports import as_utc
from featurestore.server.door import json_body
from featurestore.server.errors import json_response
from featurestore.server.routes.write import run_materialize
from featurestore.server.schemas import (
    MaterializeIncrementalBody,
    WriteToOnlineStoreBody,
    post_json,
    refuse_version,
)
from featurestore.store import FeatureStore

__all__ = ["router"]

router = APIRouter(tags=["write"])


# Bodies come through the door (featurestore.server.door), as the other write endpoints' do.
@post_json(router, "/materialize-incremental", MaterializeIncrementalBody)
async def materialize_incremental(
    body: Annotated[MaterializeIncrementalBody, Depends(json_body(MaterializeIncrementalBody))],
    request: Request,
) -> Response:
    """Feast's incremental materialization: from each view's watermark up to ``end_ts``."""
    refuse_version(body.version)
    return await run_materialize(request, body.feature_views, start=None, end=as_utc(body.end_ts))


_WRITE = {
    404: {"description": "An unknown feature view."},
    422: {"description": "A missing, unknown, ragged or mistyped column, or a time out of range."},
}


@post_json(router, "/write-to-online-store", WriteToOnlineStoreBody, _WRITE)
async def write_to_online_store(
    body: Annotated[WriteToOnlineStoreBody, Depends(json_body(WriteToOnlineStoreBody))],
    request: Request,
) -> Response:
    """Write feature values of one view online as given (Feast's ``write_to_online_store``).

    The values bypass the view's contract and definition; the skew check compares them with
    what the definition computes offline.
    """
    store: FeatureStore = request.app.state.store

    async def run() -> int:
        return await run_in_threadpool(
            lambda: store.write_to_online_store(body.feature_view_name, body.df)
        )

    rows = await request.app.state.watcher.retry_on_miss(run)
    return json_response({"feature_view_name": body.feature_view_name, "rows": rows})
