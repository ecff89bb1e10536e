"""Feast's retrieval calls on a featurestore store, so code written for Feast ports unchanged.

Feast's ``FeatureStore`` methods become functions taking our store first::

    from featurestore import FeatureStore
    from featurestore.feast_compat import get_historical_features, get_online_features

    store = FeatureStore(".")
    training_df = get_historical_features(
        store, entity_df=entity_df, features=["driver_trips:fare_log"]
    ).to_df()
    online = get_online_features(
        store, features=["driver_trips:fare_log"], entity_rows=[{"driver_id": 7}]
    ).to_dict()

Each is a thin translation to the native call (:meth:`FeatureStore.get_training_frame`,
:meth:`FeatureStore.get_online_features`) and answers exactly what it answers. What differs
from Feast is ours on purpose: the point-in-time join uses only rows *known* by each entity
row's time (their created time too), where Feast looks at event times only; pass
``point_in_time="event"`` for Feast's rule. Online values older than a view's ttl are withheld
as null (``OUTSIDE_MAX_AGE``), where Feast serves them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from featurestore.definitions import FeatureService
from featurestore.errors import RequestError
from featurestore.offline.inputs import to_frame
from featurestore.serving.response import need_pandas

if TYPE_CHECKING:
    import pyarrow as pa

    from featurestore.serving import OnlineResponse
    from featurestore.store import FeatureStore

__all__ = ["RetrievalJob", "get_historical_features", "get_online_features"]

TIMESTAMP = "event_timestamp"

#: what Feast takes as ``features``: ``"view:feature"`` references or a feature service
Features = Sequence[str] | FeatureService


@dataclass(frozen=True)
class RetrievalJob:
    """The answer of :func:`get_historical_features`, with Feast's ``RetrievalJob`` methods.

    The frame is computed already (Feast computes on ``to_df()``); it is the native
    training frame, with the entity frame's timestamp column under its own name.
    """

    frame: pl.DataFrame

    def to_df(self) -> Any:
        """The training frame as a pandas DataFrame (needs pandas)."""
        need_pandas("RetrievalJob.to_df()")
        return self.frame.to_pandas()

    def to_arrow(self) -> pa.Table:
        """The training frame as an Arrow table."""
        return self.frame.to_arrow()

    def to_polars(self) -> pl.DataFrame:
        """The training frame as a Polars DataFrame (what the native call returns)."""
        return self.frame


def get_historical_features(
    store: FeatureStore,
    *,
    entity_df: Any,
    features: Features,
    full_feature_names: bool = False,
    point_in_time: Literal["known", "event"] = "known",
) -> RetrievalJob:
    """Feast's ``get_historical_features``: a point-in-time-correct training frame.

    Args:
        store: the feature store.
        entity_df: entity keys and a timestamp per row (a pandas, Polars or Arrow frame). The
            timestamp column is ``event_timestamp`` or, as in Feast, the frame's one datetime
            column; naive timestamps are UTC, as in Feast. Other columns (labels) are kept.
        features: ``"view:feature"`` references, or a :class:`FeatureService`.
        full_feature_names: name columns ``view__feature``.
        point_in_time: ``"known"`` (ours, the default) or ``"event"`` (Feast's rule); see
            :meth:`FeatureStore.get_training_frame`.

    Returns:
        A :class:`RetrievalJob` (``to_df()``, ``to_arrow()``).

    Raises:
        RequestError: a SQL query as ``entity_df`` (not supported), or no timestamp column.
    """
    if isinstance(entity_df, str):
        raise RequestError(
            "entity_df must be a frame: a SQL query as entity_df is not supported "
            "(read it into a pandas or Polars frame first)"
        )
    spine = to_frame(entity_df, "entity_df")
    stamp = _timestamp_column(spine)
    dtype = spine.schema[stamp]
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:  # Feast takes naive as UTC
        spine = spine.with_columns(pl.col(stamp).dt.replace_time_zone("UTC"))
    refs, service = _features(features)
    frame = store.get_training_frame(
        spine.rename({stamp: TIMESTAMP}),
        features=refs,
        service=service,
        full_feature_names=full_feature_names,
        point_in_time=point_in_time,
    )
    return RetrievalJob(frame.rename({TIMESTAMP: stamp}))


def get_online_features(
    store: FeatureStore,
    *,
    features: Features,
    entity_rows: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]],
    full_feature_names: bool = False,
) -> OnlineResponse:
    """Feast's ``get_online_features``: the latest values for some entities.

    Args:
        store: the feature store.
        features: ``"view:feature"`` references, or a :class:`FeatureService`.
        entity_rows: one dict per entity (``[{"driver_id": 7}, ...]``), or a dict of columns;
            request-data fields of on-demand features go in the same dicts, as in Feast.
        full_feature_names: name features ``view__feature``.

    Returns:
        The native answer: ``to_dict()`` is Feast's ``{name: [values]}`` (join keys first),
        ``to_df()`` a pandas frame; ``statuses`` and ``event_timestamps`` as well.

    Raises:
        RequestError: rows that do not all name the same keys.
    """
    refs, service = _features(features)
    return store.get_online_features(
        refs,
        service=service,
        entities=_columns(entity_rows),
        full_feature_names=full_feature_names,
    )


def _features(features: Features) -> tuple[list[str] | None, str | None]:
    """``(refs, service)`` for the native calls."""
    if isinstance(features, FeatureService):
        return None, features.name
    if isinstance(features, str):
        raise RequestError(
            f"features must be a list of 'view:feature' references or a FeatureService, "
            f"got the string {features[:100]!r}"
        )
    return list(features), None


def _timestamp_column(spine: pl.DataFrame) -> str:
    """The entity frame's timestamp column: ``event_timestamp``, else its one datetime column
    (Feast's inference)."""
    if TIMESTAMP in spine.columns:
        return TIMESTAMP
    stamps = [name for name, dtype in spine.schema.items() if isinstance(dtype, pl.Datetime)]
    if len(stamps) != 1:
        found = f"datetime columns {stamps}" if stamps else "no datetime column"
        raise RequestError(
            f"entity_df needs an {TIMESTAMP!r} column or exactly one datetime column ({found})"
        )
    return stamps[0]


def _columns(
    rows: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]],
) -> dict[str, list[Any]]:
    """Feast's entity rows as columns."""
    if isinstance(rows, Mapping):
        return {key: list(values) for key, values in rows.items()}
    if isinstance(rows, str | bytes) or not rows:
        raise RequestError("entity_rows must be a non-empty list of dicts, one per entity")
    keys = list(rows[0])
    columns: dict[str, list[Any]] = {key: [] for key in keys}
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping) or set(row) != set(keys):
            raise RequestError(
                f"entity_rows[{i}] must be a dict naming the keys of the first row ({keys})"
            )
        for key in keys:
            columns[key].append(row[key])
    return columns
