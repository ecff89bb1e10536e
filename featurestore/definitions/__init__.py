"""Declarative definitions: frozen values, validated when built, serialisable to JSON specs."""

from featurestore.definitions.base import TYPE_NAMES, Definition, polars_dtype
from featurestore.definitions.features import AGGREGATE_FUNCTIONS, Aggregate, Feature, FeatureLike
from featurestore.definitions.policies import RetrainPolicy
from featurestore.definitions.services import FeatureService, parse_ref
from featurestore.definitions.sources import (
    DataSource,
    FileSource,
    PushSource,
    RequestSource,
    SqlSource,
)
from featurestore.definitions.spec import KINDS, from_spec
from featurestore.definitions.views import (
    RESERVED_COLUMNS,
    Entity,
    FeatureView,
    FeatureViewProjection,
    OnDemandFeatureView,
    SourceViewRef,
)

__all__ = [
    "AGGREGATE_FUNCTIONS",
    "KINDS",
    "RESERVED_COLUMNS",
    "TYPE_NAMES",
    "Aggregate",
    "DataSource",
    "Definition",
    "Entity",
    "Feature",
    "FeatureLike",
    "FeatureService",
    "FeatureView",
    "FeatureViewProjection",
    "FileSource",
    "OnDemandFeatureView",
    "PushSource",
    "RequestSource",
    "RetrainPolicy",
    "SourceViewRef",
    "SqlSource",
    "from_spec",
    "parse_ref",
    "polars_dtype",
]
