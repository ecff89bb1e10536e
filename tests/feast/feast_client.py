"""Feast's own client against our server: run by the Feast compatibility test in Feast's own
virtualenv (never in the product's), with a JSON plan on stdin; prints JSON results.

The plan: ``{"repo": folder, "server": url, "trips": parquet path, "steps": [...]}``. Each step
is ``{"op": "read", "features": [...] | "service": name, "rows": [{...}], "metadata": bool}``
(with ``metadata``, the read's ``feature_view_metadata`` as ``[[name, version], ...]`` too), ``{"op":
"write", "view": name, "df": {column: [...]}}``, ``{"op": "push", "source": name, "df":
{...}}`` or ``{"op": "materialize", "start": iso (none: incremental), "end": iso, "views":
[...]}`` (with a remote online store, Feast has the server materialize); timestamps in a ``df``
are ISO 8601 texts (made pandas datetimes here). The answer is one result per step: a read's
``to_dict()``, or ``"ok"``.

The Feast repo mirrors the quickstart sample plus the served rider view: the same names and
types, with the remote online store pointing at our server. The definitions only tell Feast's
client what exists; our server computes every value.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
from pathlib import Path
from typing import Any

import pandas as pd
from feast import (
    Entity,
    FeatureService,
    FeatureStore,
    FeatureView,
    Field,
    FileSource,
    PushSource,
    RequestSource,
    ValueType,
)
from feast.data_source import PushMode
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Bool, Float64, Int64, String

CONFIG = """\
project: rides
registry: {registry}
provider: local
online_store:
  type: remote
  path: {server}
offline_store:
  type: file
entity_key_serialization_version: 3
"""


def fields(**dtypes: Any) -> list[Field]:
    """Feast's schema of the named columns."""
    return [Field(name=name, dtype=dtype) for name, dtype in dtypes.items()]


def definitions(trips: str, riders: str) -> list[Any]:
    """Feast's twins of the served definitions (the quickstart sample and the rider view)."""
    driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)
    driver_trips = FeatureView(
        name="driver_trips",
        entities=[driver],
        ttl=dt.timedelta(days=7),
        schema=fields(
            driver_id=Int64,
            fare_log=Float64,
            is_night=Bool,
            last_fare=Float64,
            fare_sum_7d=Float64,
            trips_1h=Int64,
        ),
        source=FileSource(
            path=trips, timestamp_field="event_ts", created_timestamp_column="created_ts"
        ),
    )
    ride_request = RequestSource(name="ride_request", schema=fields(distance_km=Float64))

    @on_demand_feature_view(
        sources=[driver_trips, ride_request],
        schema=fields(fare_per_km_est=Float64),
        mode="python",
    )
    def ride_features(inputs: dict[str, Any]) -> dict[str, Any]:
        # never run against our server (it computes on-demand features itself)
        fares, distances = inputs["last_fare"], inputs["distance_km"]
        return {"fare_per_km_est": [f / (d + 1) for f, d in zip(fares, distances, strict=True)]}

    rider = Entity(name="rider", join_keys=["rider_id"], value_type=ValueType.STRING)
    rider_events = PushSource(
        name="rider_events", batch_source=FileSource(path=riders, timestamp_field="event_ts")
    )
    rider_stats = FeatureView(
        name="rider_stats",
        entities=[rider],
        ttl=dt.timedelta(hours=1),
        schema=fields(rider_id=String, rating=Float64, rating_x2=Float64),
        source=rider_events,
    )
    ranking_v1 = FeatureService(name="ranking_v1", features=[driver_trips, ride_features])
    return [driver, driver_trips, ride_request, ride_features, rider, rider_stats, ranking_v1]


def frame(columns: dict[str, list[Any]]) -> pd.DataFrame:
    """A pandas frame of a step's ``df``, with the ``*_ts`` columns as UTC datetimes."""
    out = pd.DataFrame(columns)
    for name in out.columns:
        if name.endswith("_ts") or name == "event_timestamp":
            out[name] = pd.to_datetime(out[name], utc=True)
    return out


def plain(value: Any) -> Any:
    """A value JSON can carry (NaN as None)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def main() -> None:
    plan = json.load(sys.stdin)
    repo = Path(plan["repo"])
    repo.mkdir(parents=True, exist_ok=True)
    riders = repo / "riders.parquet"
    seed = {"rider_id": ["r0"], "rating": [1.0], "rating_x2": [2.0], "event_ts": ["2026-01-01"]}
    frame(seed).to_parquet(riders)  # the rider view's batch source must exist
    (repo / "feature_store.yaml").write_text(
        CONFIG.format(registry=repo / "registry.db", server=plan["server"])
    )
    store = FeatureStore(repo_path=str(repo))
    store.apply(definitions(plan["trips"], str(riders)))
    results: list[Any] = []
    for step in plan["steps"]:
        if step["op"] == "read":
            features = (
                store.get_feature_service(step["service"])
                if "service" in step
                else step["features"]
            )
            answer = store.get_online_features(
                features=features,
                entity_rows=step["rows"],
                include_feature_view_version_metadata=step.get("metadata", False),
            )
            result = {k: [plain(v) for v in vs] for k, vs in answer.to_dict().items()}
            if step.get("metadata"):
                views = answer.proto.metadata.feature_view_metadata
                result["feature_view_metadata"] = [[m.name, m.version] for m in views]
            results.append(result)
        elif step["op"] == "write":
            store.write_to_online_store(step["view"], frame(step["df"]))
            results.append("ok")
        elif step["op"] == "materialize":  # Feast posts it to our server's /materialize
            end = pd.Timestamp(step["end"]).to_pydatetime()
            if "start" in step:
                store.materialize(pd.Timestamp(step["start"]).to_pydatetime(), end, step["views"])
            else:
                store.materialize_incremental(end, step["views"])
            results.append("ok")
        elif step["op"] == "push":
            store.push(step["source"], frame(step["df"]), to=PushMode.ONLINE)
            results.append("ok")
        else:
            raise ValueError(f"unknown step {step['op']!r}")
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
