"""Card-fraud features: how fast a card spends, how much, and how often at merchants new to it."""

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

card = Entity("card", join_keys=["card_id"], value_type=int)


class TransactionContract(pa.DataFrameModel):
    """An authorized card transaction as the payments stream delivers it."""

    card_id: int = pa.Field(ge=0)
    merchant_id: int = pa.Field(ge=0)
    amount: float = pa.Field(gt=0, le=50_000)
    new_merchant: bool


transactions = FileSource("data/transactions.parquet", timestamp_field="event_ts")

card_activity = FeatureView(
    "card_activity",
    entities=[card],
    source=transactions,
    contract=TransactionContract,
    features=[
        Aggregate("txn_count_1h", col("amount"), "count", window=timedelta(hours=1)),
        Aggregate("amount_sum_24h", col("amount"), "sum", window=timedelta(hours=24)),
        # Merchant diversity: there is no count-distinct aggregate, so this counts the week's
        # transactions at a merchant the card had never used before. The payments stream sets
        # that row-level flag (it knows each card's merchants); the store sums it over 7 days.
        Aggregate(
            "new_merchants_7d", col("new_merchant").cast("int64"), "sum", window=timedelta(days=7)
        ),
    ],
)

txn_request = RequestSource("txn_request", schema={"amount": float})

txn_features = OnDemandFeatureView(
    "txn_features",
    sources=[card_activity, txn_request],
    features=[
        # the share of the last 24 hours' spend this one transaction would be
        Feature(
            "amount_share_24h",
            col("amount") / (col("amount_sum_24h").fill_null(0.0) + col("amount")),
        ),
    ],
)

fraud_v1 = FeatureService("fraud_v1", features=[card_activity, txn_features])
