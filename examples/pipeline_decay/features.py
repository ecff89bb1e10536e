"""Delivery-time features from a partner's daily restaurant feed, behind a data contract."""

from datetime import timedelta

import pandera.polars as pa

from featurestore import Entity, Feature, FeatureView, FileSource, col

restaurant = Entity("restaurant", join_keys=["restaurant_id"], value_type=int)


class RestaurantReport(pa.DataFrameModel):
    """One restaurant's daily report, as the partner feed promises to send it."""

    restaurant_id: int = pa.Field(ge=0)
    report_id: int = pa.Field(ge=0)
    prep_time_min: float = pa.Field(ge=1, le=180)  # minutes from order to pick-up
    rating: float = pa.Field(ge=1, le=5)  # customers' average, 1 to 5 stars
    orders_today: int = pa.Field(ge=0)


daily_reports = FileSource("data/reports.parquet", timestamp_field="reported_at")

restaurant_stats = FeatureView(
    "restaurant_stats",
    entities=[restaurant],
    source=daily_reports,
    contract=RestaurantReport,
    ttl=timedelta(days=3),
    features=[
        Feature("prep_time_min", col("prep_time_min")),
        Feature("rating", col("rating")),
        Feature("orders_today", col("orders_today")),
        # which report a value came from: lineage for the check that no bad row got through
        Feature("report_id", col("report_id")),
    ],
)
