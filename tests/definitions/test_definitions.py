"""Definitions are frozen values, validated when built, and round-trip through their JSON specs."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pandera.polars as pa
import pytest

from featurestore import (
    Aggregate,
    DefinitionError,
    Entity,
    Feature,
    FeatureService,
    FeatureStoreError,
    FeatureView,
    FileSource,
    OnDemandFeatureView,
    PushSource,
    RequestSource,
    col,
)
from featurestore.definitions import from_spec

driver = Entity("driver", join_keys=["driver_id"], value_type=int)
trips = FileSource(
    "data/trips.parquet", timestamp_field="event_ts", created_timestamp_field="created_ts"
)


class TripContract(pa.DataFrameModel):
    driver_id: int = pa.Field(ge=0)
    fare: float = pa.Field(ge=0, le=10_000)


def make_view(**overrides: object) -> FeatureView:
    kwargs: dict[str, object] = dict(
        entities=[driver],
        source=trips,
        contract=TripContract,
        ttl=timedelta(days=7),
        features=[
            Feature("fare_log", col("fare").log1p()),
            Aggregate("fare_sum_7d", col("fare"), "sum", window=timedelta(days=7)),
        ],
    )
    kwargs.update(overrides)
    name = kwargs.pop("name", "driver_trips")
    return FeatureView(name, **kwargs)  # type: ignore[arg-type]


def test_every_error_is_a_featurestore_error() -> None:
    assert issubclass(DefinitionError, FeatureStoreError)


@pytest.mark.parametrize("bad", ["1abc", "has space", "dash-ed", "", "ünï", None])
def test_bad_names_are_refused(bad: object) -> None:
    with pytest.raises(DefinitionError, match="name"):
        Entity(bad)  # type: ignore[arg-type]
    with pytest.raises(DefinitionError, match="name"):
        make_view(name=bad)


def test_duplicate_feature_names_are_refused() -> None:
    with pytest.raises(DefinitionError, match=r"'driver_trips'.*'x' is used twice"):
        make_view(features=[Feature("x", col("fare")), Feature("x", col("fare") + 1)])


def test_unknown_aggregate_function() -> None:
    with pytest.raises(
        DefinitionError, match=r"Aggregate 'a'.*unknown aggregate function 'median'"
    ):
        Aggregate("a", col("fare"), "median", window=timedelta(hours=1))


@pytest.mark.parametrize("window", [timedelta(0), timedelta(seconds=-1)])
def test_non_positive_window_or_ttl(window: timedelta) -> None:
    with pytest.raises(DefinitionError, match="window must be positive"):
        Aggregate("a", col("fare"), "sum", window=window)
    with pytest.raises(DefinitionError, match=r"'driver_trips'.*ttl must be positive"):
        make_view(ttl=window)


def test_service_naming_an_unknown_feature() -> None:
    view = make_view()
    with pytest.raises(DefinitionError, match=r"driver_trips.*has no feature 'nope'"):
        FeatureService("svc", features=[view[["nope"]]])
    with pytest.raises(DefinitionError, match="not a 'view:feature' reference"):
        FeatureService("svc", features=["no_colon"])


def test_expression_on_a_column_the_schema_lacks() -> None:
    push = PushSource(
        "trip_events", schema={"driver_id": int, "fare": float, "event_timestamp": "datetime"}
    )
    with pytest.raises(DefinitionError, match=r"'driver_trips'.*'bad'.*column 'distance'.*lacks"):
        make_view(source=push, features=[Feature("bad", col("distance") * 2)])
    request = RequestSource("req", schema={"distance_km": float})
    with pytest.raises(DefinitionError, match=r"OnDemandFeatureView 'odfv'.*column 'nope'"):
        OnDemandFeatureView(
            "odfv", sources=[make_view(), request], features=[Feature("f", col("nope"))]
        )


def test_strict_contract_declares_the_schema() -> None:
    class Strict(pa.DataFrameModel):
        driver_id: int
        fare: float

        class Config:
            strict = True

    with pytest.raises(DefinitionError, match="column 'tip'"):
        make_view(contract=Strict, features=[Feature("t", col("tip"))])


def test_other_checks() -> None:
    with pytest.raises(DefinitionError, match="on_violation"):
        make_view(on_violation="ignore")
    with pytest.raises(DefinitionError, match="entities"):
        make_view(entities=[])
    with pytest.raises(DefinitionError, match="reserved"):
        make_view(features=[Feature("event_timestamp", col("fare"))])
    with pytest.raises(DefinitionError, match="join key"):
        make_view(features=[Feature("driver_id", col("fare"))])
    with pytest.raises(DefinitionError, match="expression"):
        Feature("f", "fare")  # type: ignore[arg-type]
    with pytest.raises(DefinitionError, match="schema is required"):
        PushSource("p")
    with pytest.raises(DefinitionError, match="value_type"):
        Entity("e", value_type=float)
    with pytest.raises(DefinitionError, match="Aggregate 'a' is not allowed"):
        OnDemandFeatureView(
            "o",
            sources=[RequestSource("r", schema={"x": float})],
            features=[Aggregate("a", col("x"), "sum", window=timedelta(hours=1))],  # type: ignore[list-item]
        )


def test_definitions_are_frozen_comparable_and_hashable() -> None:
    a, b = make_view(), make_view()
    assert a == b and hash(a) == hash(b)
    assert a != make_view(ttl=timedelta(days=1))
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.name = "other"  # type: ignore[misc]
    assert len({a, b}) == 1


def test_specs_round_trip() -> None:
    view = make_view()
    request = RequestSource("ride_request", schema={"distance_km": float})
    odfv = OnDemandFeatureView(
        "ride",
        sources=[view, request],
        features=[Feature("per_km", col("fare_sum_7d") / (col("distance_km") + 1))],
    )
    service = FeatureService("ranking", features=[view, odfv[["per_km"]]])
    push = PushSource("events", schema={"driver_id": int}, batch_source=trips)
    for obj in (driver, trips, view, request, odfv, service, push):
        again = from_spec(obj.kind, obj.to_spec())
        assert again == obj, obj.name
        assert again.spec_json() == obj.spec_json()
    assert service.refs == ["driver_trips:fare_log", "driver_trips:fare_sum_7d", "ride:per_km"]


def test_custom_check_contract_cannot_be_stored() -> None:
    class Custom(pa.DataFrameModel):
        fare: float = pa.Field()

        @pa.check("fare")
        @classmethod
        def positive(cls, data: object) -> object:
            return data

    with pytest.raises(DefinitionError, match="driver_trips"):
        make_view(contract=Custom)


@pytest.mark.parametrize(
    "name", ["driver\n", "driver\r\n", "\ndriver", "dri ver", "x" * 10 + "\x00"]
)
def test_names_must_match_in_full(name: str) -> None:
    with pytest.raises(DefinitionError, match="is invalid"):
        Entity(name, join_keys=["driver_id"])
    with pytest.raises(DefinitionError, match="is invalid"):
        Entity("driver", join_keys=[name])


def test_a_long_bad_name_is_quoted_short() -> None:
    with pytest.raises(DefinitionError) as caught:
        Entity("-" * 1_000_000, join_keys=["driver_id"])
    assert len(str(caught.value)) < 300
