"""``POST /get-online-features``: the hot path (needs the ``read`` scope).

The body is parsed with orjson and checked by hand, and the answer is serialised straight to
bytes. The online read runs on the event loop: a round trip to a local Redis takes less time
than handing the call to a thread would, and the store answers a down server at once (503).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from featurestore.server.schemas import GetOnlineFeaturesBody, body_schema, online_request
from featurestore.serving import OnlineResponse
from featurestore.store import FeatureStore

__all__ = ["router"]

router = APIRouter(tags=["serving"])

_ANSWER = {
    200: {
        "description": "Feast's column-oriented answer: `metadata.feature_names` (join keys "
        "first) and `results[i] = {values, statuses, event_timestamps}`.",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


@router.post(
    "/get-online-features",
    response_class=Response,
    responses=_ANSWER,  # type: ignore[arg-type]
    openapi_extra=body_schema(GetOnlineFeaturesBody),
    summary="Online feature values for a batch of entities",
)
async def get_online_features(request: Request) -> Response:
    """Features (or a feature service) for the given entities, in one online-store round trip."""
    store: FeatureStore = request.app.state.store
    body = online_request(await request.body(), store.config.serving.max_entities)

    async def read() -> OnlineResponse:
        return store.get_online_features(
            body.features,
            service=body.feature_service,
            entities=body.entities,
            request_data=body.request_data,
            full_feature_names=body.full_feature_names,
        )

    answer = await request.app.state.watcher.retry_on_miss(read)
    return Response(answer.to_feast_json(), media_type="application/json")
