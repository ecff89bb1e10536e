"""Definitions of the small feature repo the store tests share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandera.polars as pa

from featurestore import (
    Aggregate,
    Entity,
    Feature,
    FeatureService,
    FeatureView,
    FileSource,
    OnDemandFeatureView,
    PushSource,
    RequestSource,
    col,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class TripContract(pa.DataFrameModel):
    driver_id: int = pa.Field(ge=0)
    fare: float = pa.Field(ge=0, le=10_000, nullable=True)
    city: str = pa.Field(isin=["ams", "ber", "lis"])


driver = Entity("driver", join_keys=["driver_id"], value_type=int)
trips = FileSource(
    "data/trips.parquet", timestamp_field="event_ts", created_timestamp_field="created_ts"
)


def trips_view(**overrides: object) -> FeatureView:
    kwargs: dict[str, object] = dict(
        entities=[driver],
        source=trips,
        contract=TripContract,
        ttl=timedelta(days=7),
        features=[
            Feature("fare", col("fare")),
            Feature("fare_log", col("fare").log1p()),
            Feature("city_upper", col("city").str.upper()),
            Aggregate("fare_sum_1d", col("fare"), "sum", window=timedelta(days=1)),
            Aggregate("trips_1d", col("fare"), "count", window=timedelta(days=1)),
        ],
    )
    kwargs.update(overrides)
    return FeatureView(str(kwargs.pop("name", "driver_trips")), **kwargs)  # type: ignore[arg-type]


push_events = PushSource(
    "trip_events",
    schema={"driver_id": int, "fare": float, "city": str, "event_ts": "datetime"},
    timestamp_field="event_ts",
)


def pushed_view() -> FeatureView:
    return FeatureView(
        "driver_live",
        entities=[driver],
        source=push_events,
        contract=TripContract,
        ttl=timedelta(days=1),
        features=[Feature("live_fare", col("fare")), Feature("live_fare_x2", col("fare") * 2)],
    )


def definitions() -> list[object]:
    view = trips_view()
    request = RequestSource("ride_request", schema={"distance_km": float})
    odfv = OnDemandFeatureView(
        "ride",
        sources=[view, request],
        features=[Feature("fare_per_km", col("fare") / (col("distance_km") + 1))],
    )
    service = FeatureService("ranking", features=[view[["fare", "fare_sum_1d"]], odfv])
    return [view, pushed_view(), request, odfv, service]
