"""A recommender's view of its users: the item each user clicked most (updated weekly), the
service the recommender reads, and the policy that says when to retrain it."""

from datetime import timedelta

from featurestore import (
    Entity,
    Feature,
    FeatureService,
    FeatureView,
    FileSource,
    RetrainPolicy,
    col,
)

user = Entity("user", join_keys=["user_id"], value_type=int)

weekly_taste = FileSource("data/taste.parquet", timestamp_field="updated_at")

user_taste = FeatureView(
    "user_taste",
    entities=[user],
    source=weekly_taste,
    ttl=None,  # the simulated weeks are in the past; serving happens now
    features=[Feature("favorite", col("favorite"))],
)

recs = FeatureService("recs", features=[user_taste])

# The recommendations of a week against those the model was trained on (the saved frame's
# `prediction` column): a collapse of what it recommends is a retrain, whatever else holds.
recs_retrain = RetrainPolicy(
    "recs_retrain",
    service=recs,
    reference="recs_train_week1",
    prediction_drift={"chi2_pvalue": 0.01},
    window=timedelta(days=7),
    cooldown=timedelta(days=7),
)
