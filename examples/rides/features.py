"""Driver ranking: what a dispatcher knows about each driver, plus what each ride request says."""

from datetime import timedelta

import pandera.polars as pa

from featurestore import (
    Aggregate,
    Entity,
    Feature,
    FeatureService,
    FeatureView,
    FileSource,
    OnDemandFeatureView,
    RequestSource,
    col,
)

driver = Entity("driver", join_keys=["driver_id"], value_type=int)


class TripContract(pa.DataFrameModel):
    """A finished trip as the trips pipeline delivers it."""

    driver_id: int = pa.Field(ge=0)
    fare: float = pa.Field(ge=0, le=10_000)
    distance_km: float = pa.Field(gt=0, le=500)
    city: str = pa.Field(isin=["ams", "ber", "lis"])


trips = FileSource(
    "data/trips.parquet", timestamp_field="event_ts", created_timestamp_field="created_ts"
)

driver_trips = FeatureView(
    "driver_trips",
    entities=[driver],
    source=trips,
    contract=TripContract,
    ttl=timedelta(days=7),
    features=[
        Feature("last_fare", col("fare")),
        Feature("last_fare_per_km", col("fare") / col("distance_km")),
        Aggregate("fare_sum_7d", col("fare"), "sum", window=timedelta(days=7)),
        Aggregate("trips_7d", col("fare"), "count", window=timedelta(days=7)),
        Aggregate("trips_1h", col("fare"), "count", window=timedelta(hours=1)),
    ],
)

ride_request = RequestSource("ride_request", schema={"trip_km": float, "surge": float})

ride_features = OnDemandFeatureView(
    "ride_features",
    sources=[driver_trips, ride_request],
    features=[
        Feature("fare_estimate", col("last_fare_per_km") * col("trip_km") * col("surge")),
        # A driver who never drove has no online record: trips_1h is served as null (NOT_FOUND)
        # where a training frame counts 0. fill_null(0) makes both sides give the same input.
        Feature("load_1h", col("trips_1h").fill_null(0) * col("surge")),
    ],
)

ranking_v2 = FeatureService("ranking_v2", features=[driver_trips, ride_features])
