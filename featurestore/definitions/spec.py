"""Rebuild definitions from the JSON specs the registry stores."""

from __future__ import annotations

from typing import Any

from featurestore.definitions.base import Definition, from_micros
from featurestore.definitions.features import feature_from_spec
from featurestore.definitions.policies import policy_from_spec
from featurestore.definitions.services import FeatureService
from featurestore.definitions.sources import (
    DataSource,
    FileSource,
    PushSource,
    RequestSource,
    SqlSource,
)
from featurestore.definitions.views import (
    Entity,
    FeatureView,
    OnDemandFeatureView,
    SourceViewRef,
)
from featurestore.errors import DefinitionError

__all__ = ["KINDS", "from_spec"]

KINDS = (
    "entity",
    "data_source",
    "feature_view",
    "on_demand_feature_view",
    "feature_service",
    "retrain_policy",
)


def _source(spec: dict[str, Any]) -> DataSource | RequestSource:
    common = {
        "timestamp_field": spec.get("timestamp_field", "event_timestamp"),
        "created_timestamp_field": spec.get("created_timestamp_field"),
        "schema": spec.get("schema"),
        "description": spec.get("description", ""),
    }
    kind = spec["type"]
    if kind == "file":
        return FileSource(
            spec["path"], name=spec["name"], file_format=spec["file_format"], **common
        )
    if kind == "sql":
        return SqlSource(spec["name"], query=spec["query"], url=spec.get("url"), **common)
    if kind == "push":
        batch = spec.get("batch_source")
        batch_source = _source(batch) if batch else None
        assert batch_source is None or isinstance(batch_source, DataSource)
        return PushSource(spec["name"], batch_source=batch_source, **common)
    if kind == "request":
        return RequestSource(spec["name"], schema=spec["schema"], description=common["description"])
    raise DefinitionError(f"unknown data source type {kind!r} in the registry")


def _entity(spec: dict[str, Any]) -> Entity:
    return Entity(
        spec["name"],
        join_keys=spec["join_keys"],
        value_type=spec.get("value_type"),
        description=spec.get("description", ""),
    )


def from_spec(kind: str, spec: dict[str, Any]) -> Definition:
    """Rebuild the definition of ``kind`` from ``spec`` (the inverse of ``obj.to_spec()``)."""
    if kind == "entity":
        return _entity(spec)
    if kind == "data_source":
        return _source(spec)
    if kind == "feature_view":
        source = _source(spec["source"])
        assert isinstance(source, DataSource)
        return FeatureView(
            spec["name"],
            entities=[_entity(e) for e in spec["entities"]],
            source=source,
            features=[feature_from_spec(f) for f in spec["features"]],
            ttl=from_micros(spec.get("ttl_us")),
            contract=spec.get("contract"),
            on_violation=spec.get("on_violation", "quarantine"),
            online=spec.get("online", True),
            description=spec.get("description", ""),
            tags=spec.get("tags", {}),
        )
    if kind == "on_demand_feature_view":
        sources: list[SourceViewRef | RequestSource] = []
        for src in spec["sources"]:
            if src["type"] == "feature_view":
                sources.append(
                    SourceViewRef(src["name"], tuple(src["join_keys"]), tuple(src["features"]))
                )
            else:
                request = _source(src)
                assert isinstance(request, RequestSource)
                sources.append(request)
        return OnDemandFeatureView(
            spec["name"],
            sources=sources,
            features=[feature_from_spec(f) for f in spec["features"]],  # type: ignore[misc]
            description=spec.get("description", ""),
            tags=spec.get("tags", {}),
        )
    if kind == "feature_service":
        return FeatureService(
            spec["name"],
            features=spec["features"],
            description=spec.get("description", ""),
            tags=spec.get("tags", {}),
        )
    if kind == "retrain_policy":
        return policy_from_spec(spec)
    raise DefinitionError(f"unknown definition kind {kind!r} in the registry")
