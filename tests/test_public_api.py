"""The public API is ``featurestore.__all__``: every public name, importable, nothing else."""

from __future__ import annotations

import inspect
from typing import Any

import featurestore

EXPECTED = {
    "Aggregate", "ConfigError", "ConflictError", "ContractError", "DefinitionError",
    "DriftReport", "DriftThresholds", "Entity", "ExpressionError", "Feature", "FeatureService",
    "FeatureStore", "FeatureStoreError", "FeatureView", "FileSource", "IngestReport",
    "MaterializeReport", "NotFoundError", "OnDemandFeatureView", "OnlineResponse",
    "PerformanceReport", "PushSource", "RepoError", "RequestError", "RequestSource", "RetrainPolicy",
    "SkewReport", "SqlSource", "StoreUnavailableError", "__version__", "coalesce", "col", "lit",
    "max_horizontal", "min_horizontal", "when",
}  # fmt: skip


def test_all_lists_every_public_name() -> None:
    assert set(featurestore.__all__) == EXPECTED
    assert sorted(featurestore.__all__) == featurestore.__all__
    for name in featurestore.__all__:
        assert hasattr(featurestore, name), name


def test_public_store_methods_are_documented_and_keyword_only_where_promised() -> None:
    for name, method in inspect.getmembers(featurestore.FeatureStore, inspect.isfunction):
        if not name.startswith("_"):
            assert method.__doc__, name
    # materialize(views, *, ...); push(push_source, rows, *, to) (Feast's push(name, df, to))
    for name, positional in (("materialize", 1), ("push", 2)):
        method: Any = getattr(featurestore.FeatureStore, name)
        parameters = list(inspect.signature(method).parameters.values())[1:]  # after self
        assert all(p.kind is p.KEYWORD_ONLY for p in parameters[positional:]), name
