"""Credit features: what the bureau reports about an applicant when the application comes in."""

import pandera.polars as pa

from featurestore import Entity, Feature, FeatureService, FeatureView, FileSource, col

applicant = Entity("applicant", join_keys=["applicant_id"], value_type=int)


class ApplicationContract(pa.DataFrameModel):
    """A loan application with the applicant's bureau data."""

    applicant_id: int = pa.Field(ge=0)
    income: float = pa.Field(gt=0, le=10_000_000)
    debt_ratio: float = pa.Field(ge=0, le=1)
    credit_history_years: float = pa.Field(ge=0, le=80)
    open_accounts: int = pa.Field(ge=0, le=100)
    region: str = pa.Field(isin=["north", "south", "east", "west"])


applications = FileSource("data/applications.parquet", timestamp_field="applied_at")

# ttl=None: an applicant's bureau data stays valid however long the decision takes
applicant_profile = FeatureView(
    "applicant_profile",
    entities=[applicant],
    source=applications,
    contract=ApplicationContract,
    features=[
        Feature("income", col("income")),
        Feature("debt_ratio", col("debt_ratio")),
        Feature("credit_history_years", col("credit_history_years")),
        Feature("open_accounts", col("open_accounts")),
        Feature("region", col("region")),
    ],
)

credit_v1 = FeatureService("credit_v1", features=[applicant_profile])
