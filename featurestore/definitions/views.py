"""Entities, feature views (batch or push fed) and on-demand (request-time) feature views."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass, field
from functools import cached_property
from typing import Any, ClassVar

import orjson

from featurestore.definitions.base import (
    Definition,
    check_name,
    duration,
    micros,
    type_name,
)
from featurestore.definitions.features import Aggregate, Feature, FeatureLike
from featurestore.definitions.sources import DataSource, RequestSource
from featurestore.errors import DefinitionError

__all__ = [
    "RESERVED_COLUMNS",
    "Entity",
    "FeatureView",
    "FeatureViewProjection",
    "OnDemandFeatureView",
    "SourceViewRef",
]

#: columns the offline store adds to every view's rows; features may not take these names
RESERVED_COLUMNS = frozenset({"event_timestamp", "created_timestamp", "seq"})
ON_VIOLATION = ("quarantine", "reject", "warn")


@dataclass(frozen=True, eq=False)
class Entity(Definition):
    """What features describe, identified by its join keys: ``Entity("driver", join_keys=["driver_id"])``.

    ``join_keys`` defaults to ``[name]``. ``value_type`` (``int`` or ``str``, optional) is the type
    of every join key; with it, serving refuses a key of the wrong type with a clear 4xx instead of
    answering ``NOT_FOUND``.
    """

    kind: ClassVar[str] = "entity"

    name: str
    _: KW_ONLY
    join_keys: Sequence[str] = ()
    value_type: Any = None
    description: str = ""

    def __post_init__(self) -> None:
        check_name("Entity", self.name)
        keys = tuple(self.join_keys) if self.join_keys else (self.name,)
        if isinstance(self.join_keys, str):
            keys = (self.join_keys,)
        for key in keys:
            check_name(f"Entity {self.name!r} join key", key)
        if len(set(keys)) != len(keys):
            raise DefinitionError(f"Entity {self.name!r}: join keys repeat: {list(keys)}")
        object.__setattr__(self, "join_keys", keys)
        if self.value_type is not None:
            owner = f"Entity {self.name!r}"
            name = type_name(owner, "value_type", self.value_type)
            if name not in ("int64", "str"):
                raise DefinitionError(
                    f"{owner}: value_type must be int or str, got {self.value_type!r}"
                )
            object.__setattr__(self, "value_type", name)

    def to_spec(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "join_keys": list(self.join_keys),
            "value_type": self.value_type,
            "description": self.description,
        }


@dataclass(frozen=True)
class FeatureViewProjection:
    """A subset of a view's features, in a chosen order: ``driver_trips[["fare_log", "trips_1h"]]``."""

    view: str
    features: tuple[str, ...]

    def refs(self) -> list[str]:
        return [f"{self.view}:{name}" for name in self.features]


def _check_features(
    owner: str, features: Sequence[object], allow_aggregates: bool
) -> tuple[Any, ...]:
    if isinstance(features, str | bytes) or not isinstance(features, Sequence) or not features:
        raise DefinitionError(f"{owner}: features must be a non-empty list")
    seen: set[str] = set()
    for item in features:
        if not isinstance(item, Feature | Aggregate):
            raise DefinitionError(
                f"{owner}: features must be Feature or Aggregate objects, got {type(item).__name__}"
            )
        if isinstance(item, Aggregate) and not allow_aggregates:
            raise DefinitionError(f"{owner}: Aggregate {item.name!r} is not allowed here")
        if item.name in seen:
            raise DefinitionError(f"{owner}: feature name {item.name!r} is used twice")
        if item.name in RESERVED_COLUMNS:
            raise DefinitionError(f"{owner}: feature name {item.name!r} is reserved")
        seen.add(item.name)
    return tuple(features)


def _check_columns(owner: str, features: Sequence[FeatureLike], known: set[str] | None) -> None:
    if known is None:
        return
    for feature in features:
        missing = sorted(feature.expr.columns() - known)
        if missing:
            raise DefinitionError(
                f"{owner}: feature {feature.name!r} refers to column {missing[0]!r}, "
                f"which the source schema lacks (known: {', '.join(sorted(known))})"
            )


class _Projectable:
    name: str
    features: Sequence[FeatureLike]

    def __getitem__(self, names: Sequence[str]) -> FeatureViewProjection:
        if isinstance(names, str):
            names = [names]
        have = {f.name for f in self.features}
        for name in names:
            if name not in have:
                raise DefinitionError(
                    f"{type(self).__name__} {self.name!r} has no feature {name!r}"
                )
        return FeatureViewProjection(self.name, tuple(names))

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]


@dataclass(frozen=True, eq=False)
class FeatureView(_Projectable, Definition):
    """Features of one or more entities computed from one source, with an optional data contract.

    Args:
        name: the view's name.
        entities: the entities whose join keys identify a row.
        source: a FileSource, SqlSource or PushSource.
        features: Feature and Aggregate objects.
        ttl: how long a value stays valid for training frames and serving (None: forever).
        contract: a Pandera (polars) DataFrameModel class or DataFrameSchema guarding ingestion.
        on_violation: "quarantine" (default), "reject" or "warn".
        online: whether materialization loads this view into the online store.
    """

    kind: ClassVar[str] = "feature_view"

    name: str
    _: KW_ONLY
    entities: Sequence[Entity]
    source: DataSource
    features: Sequence[FeatureLike]
    ttl: dt.timedelta | None = None
    contract: Any = None
    on_violation: str = "quarantine"
    online: bool = True
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_name("FeatureView", self.name)
        owner = f"FeatureView {self.name!r}"
        if isinstance(self.entities, Entity):
            object.__setattr__(self, "entities", (self.entities,))
        if not self.entities or not all(isinstance(e, Entity) for e in self.entities):
            raise DefinitionError(f"{owner}: entities must be a non-empty list of Entity objects")
        object.__setattr__(self, "entities", tuple(self.entities))
        if not isinstance(self.source, DataSource):
            raise DefinitionError(
                f"{owner}: source must be a FileSource, SqlSource or PushSource, "
                f"got {type(self.source).__name__}"
            )
        features = _check_features(owner, self.features, allow_aggregates=True)
        object.__setattr__(self, "features", features)
        clash = {f.name for f in features} & set(self.join_keys)
        if clash:
            raise DefinitionError(f"{owner}: feature {sorted(clash)[0]!r} has a join key's name")
        duration(owner, "ttl", self.ttl)
        if self.on_violation not in ON_VIOLATION:
            raise DefinitionError(
                f"{owner}: on_violation must be one of {', '.join(ON_VIOLATION)}, "
                f"got {self.on_violation!r}"
            )
        object.__setattr__(self, "tags", dict(self.tags))
        known = self.source.columns()
        if known is None and self.contract is not None and self.contract_strict:
            known = set(self.contract_columns) | {self.source.timestamp_field}
        if known is not None:
            known |= set(self.join_keys)
        _check_columns(owner, features, known)
        _ = self.contract_json  # fail at construction on a contract that cannot be stored

    @property
    def join_keys(self) -> list[str]:
        """The join keys of all entities, in entity order."""
        return [k for e in self.entities for k in e.join_keys]

    @property
    def row_features(self) -> list[Feature]:
        return [f for f in self.features if isinstance(f, Feature)]

    @property
    def aggregates(self) -> list[Aggregate]:
        return [f for f in self.features if isinstance(f, Aggregate)]

    @cached_property
    def contract_json(self) -> str | None:
        """The contract as Pandera JSON (what the registry stores), or None."""
        if self.contract is None:
            return None
        if isinstance(self.contract, str):  # rebuilt from a spec
            return self.contract
        from featurestore.contracts import contract_to_json

        try:
            return contract_to_json(self.contract)
        except DefinitionError as exc:
            raise DefinitionError(f"FeatureView {self.name!r}: {exc.message}") from None

    @cached_property
    def contract_schema(self) -> Any:
        """The contract as a Pandera polars DataFrameSchema (None without a contract)."""
        if self.contract_json is None:
            return None
        from featurestore.contracts import contract_from_json

        return contract_from_json(self.contract_json)

    @cached_property
    def _contract_doc(self) -> dict[str, Any]:
        # read from the stored JSON, so loading definitions (the server, the CLI) does not have to
        # import Pandera, which takes a second or more
        return orjson.loads(self.contract_json) if self.contract_json else {}

    @cached_property
    def contract_columns(self) -> dict[str, Any]:
        """Column -> Polars dtype (None where the contract leaves it open or it is unusual)."""
        return {
            name: _dtype_from_text((column or {}).get("dtype"))
            for name, column in (self._contract_doc.get("columns") or {}).items()
        }

    @property
    def contract_strict(self) -> bool:
        return self._contract_doc.get("strict") is True

    @cached_property
    def row_dtypes(self) -> dict[str, Any]:
        """Feature -> the dtype of its per-row value in the offline store (for an Aggregate, its
        input), None where the source's column types are not declared (no source schema, not in
        the contract)."""
        import polars as pl

        from featurestore.definitions.base import polars_dtype
        from featurestore.errors import FeatureStoreError
        from featurestore.expr import output_dtype

        inputs = {c: d for c, d in self.contract_columns.items() if d is not None}
        inputs |= {c: polars_dtype(t) for c, t in (self.source.schema or {}).items()}
        inputs.setdefault(self.source.timestamp_field, pl.Datetime("us", "UTC"))
        out: dict[str, Any] = {}
        for feature in self.features:
            try:
                out[feature.name] = output_dtype(feature.expr, inputs)
            except FeatureStoreError:
                out[feature.name] = None
        return out

    @cached_property
    def feature_dtypes(self) -> dict[str, Any]:
        """Feature -> the dtype it is served and trained with (aggregates: the aggregate's)."""
        import polars as pl

        out = dict(self.row_dtypes)
        for agg in self.aggregates:
            dtype = out[agg.name]
            if agg.fn == "count":
                out[agg.name] = pl.Int64()
            elif agg.fn in ("mean", "std"):
                out[agg.name] = pl.Float64()
            elif (
                agg.fn == "sum"
                and dtype is not None
                and (dtype.is_integer() or dtype == pl.Boolean)
            ):
                out[agg.name] = pl.Int64()
        return out

    def to_spec(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "entities": [e.to_spec() for e in self.entities],
            "source": self.source.to_spec(),
            "features": [f.to_spec() for f in self.features],
            "ttl_us": micros(self.ttl),
            "contract": self.contract_json,
            "on_violation": self.on_violation,
            "online": self.online,
            "description": self.description,
            "tags": dict(sorted(self.tags.items())),
        }


_DATETIME = re.compile(r"Datetime\(time_unit='(ms|us|ns)', time_zone=(?:'([^']*)'|None)\)")


def _dtype_from_text(text: Any) -> Any:
    """A Polars dtype from Pandera's JSON text of it ("Int64", "Datetime(time_unit='us', ...)")."""
    import polars as pl

    if not isinstance(text, str):
        return None
    match = _DATETIME.fullmatch(text)
    if match:
        return pl.Datetime(match.group(1), match.group(2))  # type: ignore[arg-type]
    dtype = getattr(pl, text, None)
    if isinstance(dtype, type) and issubclass(dtype, pl.DataType):
        return dtype()
    return None


@dataclass(frozen=True)
class SourceViewRef:
    """What an on-demand view needs of a source view: its name, join keys and feature names."""

    name: str
    join_keys: tuple[str, ...]
    features: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class OnDemandFeatureView(_Projectable, Definition):
    """Features computed at request time from stored features and request data.

    Online they are computed by the Python compiler per request; in training frames by the
    Polars compiler on the joined frame. The same expression, so the two agree.
    """

    kind: ClassVar[str] = "on_demand_feature_view"

    name: str
    _: KW_ONLY
    sources: Sequence[FeatureView | RequestSource | SourceViewRef]
    features: Sequence[Feature]
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_name("OnDemandFeatureView", self.name)
        owner = f"OnDemandFeatureView {self.name!r}"
        if isinstance(self.sources, str | bytes) or not self.sources:
            raise DefinitionError(f"{owner}: sources must be a non-empty list")
        refs: list[SourceViewRef | RequestSource] = []
        for src in self.sources:
            if isinstance(src, FeatureView):
                refs.append(SourceViewRef(src.name, tuple(src.join_keys), tuple(src.feature_names)))
            elif isinstance(src, SourceViewRef | RequestSource):
                refs.append(src)
            else:
                raise DefinitionError(
                    f"{owner}: sources must be FeatureView or RequestSource objects, "
                    f"got {type(src).__name__}"
                )
        object.__setattr__(self, "sources", tuple(refs))
        features = _check_features(owner, self.features, allow_aggregates=False)
        object.__setattr__(self, "features", features)
        object.__setattr__(self, "tags", dict(self.tags))
        inputs: dict[str, str] = {}
        for src in refs:
            names = list(src.features) if isinstance(src, SourceViewRef) else list(src.schema)
            for name in names:
                if name in inputs:
                    raise DefinitionError(
                        f"{owner}: input {name!r} comes from both {inputs[name]!r} and {src.name!r}"
                    )
                inputs[name] = src.name
        clash = {f.name for f in features} & set(inputs)
        if clash:
            raise DefinitionError(
                f"{owner}: feature {sorted(clash)[0]!r} has the name of one of its inputs"
            )
        _check_columns(owner, features, set(inputs))

    @property
    def source_views(self) -> list[SourceViewRef]:
        return [s for s in self.sources if isinstance(s, SourceViewRef)]

    @property
    def request_sources(self) -> list[RequestSource]:
        return [s for s in self.sources if isinstance(s, RequestSource)]

    @property
    def row_features(self) -> list[Feature]:
        return list(self.features)  # type: ignore[arg-type]

    def to_spec(self) -> dict[str, Any]:
        sources: list[dict[str, Any]] = []
        for src in self.sources:
            if isinstance(src, SourceViewRef):
                sources.append(
                    {
                        "type": "feature_view",
                        "name": src.name,
                        "join_keys": list(src.join_keys),
                        "features": list(src.features),
                    }
                )
            else:
                assert isinstance(src, RequestSource)
                sources.append(src.to_spec())
        return {
            "name": self.name,
            "sources": sources,
            "features": [f.to_spec() for f in self.features],
            "description": self.description,
            "tags": dict(sorted(self.tags.items())),
        }
