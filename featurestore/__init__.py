"""featurestore: define a feature once; train on it offline, serve it online, prove they agree.

The public API is this module's ``__all__``: the definition objects, the expression builders and
the :class:`FeatureStore` facade. Everything else is internal and may change.
"""

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
