"""featurestore: define a feature once; train on it offline, serve it online, prove they agree.

The public API is this module's ``__all__``: the definition objects, the expression builders and
the :class:`FeatureStore` facade. Everything else is internal and may change.

The names are imported when first used (a module ``__getattr__``, PEP 562), so ``import
featurestore`` itself loads neither Polars nor SQLAlchemy: a CLI call or a worker process that
needs one corner of the package does not pay for all of it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from featurestore.definitions import (
        Aggregate,
        Entity,
        Feature,
        FeatureService,
        FeatureView,
        FileSource,
        OnDemandFeatureView,
        PushSource,
        RequestSource,
        RetrainPolicy,
        SqlSource,
    )
    from featurestore.errors import (
        ConfigError,
        ConflictError,
        ContractError,
        DefinitionError,
        ExpressionError,
        FeatureStoreError,
        NotFoundError,
        RepoError,
        RequestError,
        StoreUnavailableError,
    )
    from featurestore.expr import coalesce, col, lit, max_horizontal, min_horizontal, when
    from featurestore.parity import DriftReport, DriftThresholds, PerformanceReport
    from featurestore.parity.skew import SkewReport
    from featurestore.reports import IngestReport, MaterializeReport
    from featurestore.serving import OnlineResponse
    from featurestore.store import FeatureStore

__version__ = "0.1.0"

#: public name -> the module that defines it
_WHERE = {
    **dict.fromkeys(
        [
            "Aggregate",
            "Entity",
            "Feature",
            "FeatureService",
            "FeatureView",
            "FileSource",
            "OnDemandFeatureView",
            "PushSource",
            "RequestSource",
            "RetrainPolicy",
            "SqlSource",
        ],
        "featurestore.definitions",
    ),
    **dict.fromkeys(
        [
            "ConfigError",
            "ConflictError",
            "ContractError",
            "DefinitionError",
            "ExpressionError",
            "FeatureStoreError",
            "NotFoundError",
            "RepoError",
            "RequestError",
            "StoreUnavailableError",
        ],
        "featurestore.errors",
    ),
    **dict.fromkeys(["DriftReport", "DriftThresholds", "PerformanceReport"], "featurestore.parity"),
    "SkewReport": "featurestore.parity.skew",
    **dict.fromkeys(
        ["coalesce", "col", "lit", "max_horizontal", "min_horizontal", "when"], "featurestore.expr"
    ),
    "IngestReport": "featurestore.reports",
    "MaterializeReport": "featurestore.reports",
    "OnlineResponse": "featurestore.serving",
    "FeatureStore": "featurestore.store",
}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'featurestore' has no attribute {name!r}")
    value = getattr(importlib.import_module(where), name)
    globals()[name] = value  # later lookups do not come back here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "Aggregate",
    "ConfigError",
    "ConflictError",
    "ContractError",
    "DefinitionError",
    "DriftReport",
    "DriftThresholds",
    "Entity",
    "ExpressionError",
    "Feature",
    "FeatureService",
    "FeatureStore",
    "FeatureStoreError",
    "FeatureView",
    "FileSource",
    "IngestReport",
    "MaterializeReport",
    "NotFoundError",
    "OnDemandFeatureView",
    "OnlineResponse",
    "PerformanceReport",
    "PushSource",
    "RepoError",
    "RequestError",
    "RequestSource",
    "RetrainPolicy",
    "SkewReport",
    "SqlSource",
    "StoreUnavailableError",
    "__version__",
    "coalesce",
    "col",
    "lit",
    "max_horizontal",
    "min_horizontal",
    "when",
]
