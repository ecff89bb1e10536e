"""Request bodies: pydantic models that document them (OpenAPI) and check the small ones.

``/get-online-features`` is the hot path: its body is parsed with orjson and checked by hand
(:func:`online_request`), and :class:`GetOnlineFeaturesBody` only documents it. ``/push`` and
``/materialize`` are validated by their models.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from itertools import repeat
from typing import Any, Literal, TypeVar

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from featurestore.errors import RequestError
from featurestore.limits import EARLIEST, quote
from featurestore.reports import as_utc
from featurestore.server import door
from featurestore.serving import Request

__all__ = [
    "FeedbackBody",
    "GetOnlineFeaturesBody",
    "MaterializeBody",
    "MaterializeIncrementalBody",
    "PushBody",
    "WriteToOnlineStoreBody",
    "body_schema",
    "online_request",
    "post_json",
    "refuse_version",
]


class GetOnlineFeaturesBody(BaseModel):
    """Feast's request: features (``"view:feature"``) or a feature service, and the entities."""

    model_config = ConfigDict(extra="forbid")
    features: list[str] | None = Field(default=None, examples=[["driver_trips:fare_log"]])
    feature_service: str | None = Field(default=None, examples=["ranking_v1"])
    entities: dict[str, list[int | str]] = Field(examples=[{"driver_id": [1, 2]}])
    request_data: dict[str, Any] | None = Field(
        default=None, description="Request-time inputs of on-demand features: a list per field."
    )
    full_feature_names: bool = False
    include_feature_view_version_metadata: bool = Field(
        default=False,
        description="Answer metadata.feature_view_metadata: [{name, version}] of each view "
        "(Feast's field; its client always sends it).",
    )


class PushBody(BaseModel):
    """Feast's push: rows as columns, validated by the view's contract."""

    model_config = ConfigDict(extra="forbid")
    push_source_name: str
    df: dict[str, list[Any]] = Field(
        description="Columns of the pushed rows; timestamps as ISO 8601 strings with an offset."
    )
    to: Literal["online", "offline", "online_and_offline"] = "online"
    allow_registry_cache: bool = Field(default=True, description="Accepted for Feast; ignored.")
    transform_on_write: bool = Field(
        default=True,
        description="Accepted for Feast; pushed rows are always computed by the view's features.",
    )


class FeedbackBody(BaseModel):
    """A model's prediction and/or the ground truth for a served request (either may come later)."""

    model_config = ConfigDict(extra="forbid")
    request_id: str = Field(description="metadata.request_id of the online answer.")
    prediction: float | int | bool | str | None = None
    label: float | int | bool | str | None = None
    timestamp: dt.datetime | None = Field(
        default=None, description="When the prediction was made; default: now. Naive is UTC."
    )
    group: str | None = Field(
        default=None,
        max_length=64,
        description='The traffic group: "control" for traffic served without the model.',
        examples=["control"],
    )


class MaterializeBody(BaseModel):
    """Materialize views (all by default) up to ``end`` (now by default); an empty body means
    the defaults. Feast's field names (``start_ts``, ``end_ts``, ``feature_views``) work too."""

    model_config = ConfigDict(extra="forbid")
    start: dt.datetime | None = Field(
        default=None, description="Default: each view's watermark. Naive times are UTC."
    )
    end: dt.datetime | None = Field(default=None, description="Default: now. Naive times are UTC.")
    views: list[str] | None = None
    start_ts: dt.datetime | None = Field(default=None, description="Feast's name for start.")
    end_ts: dt.datetime | None = Field(default=None, description="Feast's name for end.")
    feature_views: list[str] | None = Field(default=None, description="Feast's name for views.")
    disable_event_timestamp: bool = Field(
        default=False, description="Feast's field: true reloads every view in full up to end."
    )
    full_feature_names: bool = Field(default=False, description="Accepted for Feast; ignored.")
    version: str | None = Field(
        default=None,
        description="Feast's version pinning is refused: the version in force is written.",
    )

    def window(self) -> tuple[dt.datetime | None, dt.datetime | None, list[str] | None]:
        """``(start, end, views)`` from our names or Feast's (naive times as UTC).

        Raises:
            RequestError: a value is given under both names.
        """
        refuse_version(self.version)
        start = _one_of(self, "start", "start_ts")
        end = _one_of(self, "end", "end_ts")
        views = _one_of(self, "views", "feature_views")
        if self.disable_event_timestamp:
            if start is not None:
                raise RequestError("give start or disable_event_timestamp, not both")
            start = FULL_RELOAD
        return as_utc(start), as_utc(end), views


class MaterializeIncrementalBody(BaseModel):
    """Feast's ``/materialize-incremental``: from each view's watermark up to ``end_ts``."""

    model_config = ConfigDict(extra="forbid")
    end_ts: dt.datetime = Field(description="Materialize up to here. Naive times are UTC.")
    feature_views: list[str] | None = Field(default=None, description="Default: every view.")
    full_feature_names: bool = Field(default=False, description="Accepted for Feast; ignored.")
    version: str | None = Field(
        default=None,
        description="Feast's version pinning is refused: the version in force is written.",
    )


class WriteToOnlineStoreBody(BaseModel):
    """Feast's ``/write-to-online-store``: feature values of one view, written as given."""

    model_config = ConfigDict(extra="forbid")
    feature_view_name: str
    df: dict[str, list[Any]] = Field(
        description="Columns: the join keys, the view's features, event_timestamp (ISO 8601; "
        "naive is UTC; or the source's timestamp field) and optionally created.",
        examples=[
            {
                "rider_id": ["r1"],
                "rating": [4.5],
                "rating_x2": [9.0],
                "event_timestamp": ["2026-12-01T10:00:00"],
            }
        ],
    )
    allow_registry_cache: bool = Field(default=True, description="Accepted for Feast; ignored.")
    transform_on_write: bool = Field(
        default=True, description="Accepted for Feast; the values are written as given."
    )


#: where ``disable_event_timestamp`` starts: the earliest time the door lets a value carry, so
#: no stored event is before it
FULL_RELOAD = EARLIEST


def refuse_version(version: str | None) -> None:
    """Refuse Feast's ``version`` pinning of a materialization (RequestError)."""
    if version is not None:
        raise RequestError(
            f"version {version[:100]!r}: materializing a pinned view version is not supported; "
            "omit it to write the version in force"
        )


def _one_of(body: BaseModel, ours: str, feasts: str) -> Any:
    mine, theirs = getattr(body, ours), getattr(body, feasts)
    if mine is not None and theirs is not None:
        raise RequestError(f"give {ours!r} or Feast's {feasts!r}, not both")
    return theirs if mine is None else mine


def body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` documenting ``model`` as the JSON request body."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


Endpoint = TypeVar("Endpoint", bound=Callable[..., Awaitable[Any]])


def post_json(
    router: APIRouter,
    path: str,
    model: type[BaseModel],
    responses: Mapping[int, Any] | None = None,
) -> Callable[[Endpoint], Endpoint]:
    """``router.post`` for an endpoint whose body (``model``, declared
    ``Annotated[Model, Depends(door.json_body(Model))]``) comes through the door
    (:mod:`featurestore.server.door`: read after the token is checked, bounded, JSON whatever the
    Content-Type), documented as the JSON request body in the OpenAPI schema."""
    return router.post(
        path,
        response_class=Response,
        responses=dict(responses or {}),  # type: ignore[arg-type]
        openapi_extra=body_schema(model),
    )


_ONLINE_FIELDS = frozenset(GetOnlineFeaturesBody.model_fields)


def online_request(raw: bytes, max_entities: int) -> Request:
    """Parse and check a ``/get-online-features`` body cheaply (no per-value work).

    Raises:
        BadJSONError: not JSON.
        RequestError: a field has the wrong shape, or there are too many entities.
    """
    body = door.parse_json(raw)
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    unknown = body.keys() - _ONLINE_FIELDS
    if unknown:
        raise RequestError(f"the request body has an unknown field {quote(sorted(unknown)[0])}")
    features = body.get("features")
    if features is not None and (
        # map() keeps the per-feature check in C: a generator costs a frame switch per feature
        not isinstance(features, list) or not all(map(isinstance, features, repeat(str)))
    ):
        raise RequestError("field 'features' must be a list of 'view:feature' strings")
    service = body.get("feature_service")
    if service is not None and not isinstance(service, str):
        raise RequestError("field 'feature_service' must be a string")
    entities = body.get("entities")
    if not isinstance(entities, dict) or not entities:
        raise RequestError("field 'entities' must map each join key to a list of values")
    for key, values in entities.items():
        if not isinstance(values, list):
            raise RequestError(f"entity key {quote(key)} must be a list of values")
        if len(values) > max_entities:
            raise RequestError(
                f"too many entities: {len(values)} for {quote(key)} (the limit is {max_entities})"
            )
    request_data = body.get("request_data")
    if request_data is not None and not isinstance(request_data, dict):
        raise RequestError("field 'request_data' must map field names to lists of values")
    full = body.get("full_feature_names", False)
    if not isinstance(full, bool):
        raise RequestError("field 'full_feature_names' must be true or false")
    metadata = body.get("include_feature_view_version_metadata", False)
    if not isinstance(metadata, bool):
        raise RequestError("field 'include_feature_view_version_metadata' must be true or false")
    return Request(
        features=features,
        service=service,
        entities=entities,
        request_data=request_data,
        full_feature_names=full,
        feature_view_metadata=metadata,
    )
