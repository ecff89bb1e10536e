"""Feature values written online as given: Feast's ``write_to_online_store``.

Feast's client writes *computed* feature values (its remote online store posts them to
``/write-to-online-store``, and its ``push`` and ``materialize`` go the same way), where our
``push`` takes source rows and computes the features itself. Such values bypass the view's
contract and definition, so they are checked only for shape and type here; the skew check
compares them with what the definition computes offline, so such values show up there
(``missing_offline`` for an event the offline store never saw, ``mismatch`` for another value
at an event it knows).

Rows are written as the view version in force computed them. Among rows of one event time, a
later write wins (its ``seq`` is the write's clock time in microseconds), as in Feast.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from featurestore.definitions import FeatureView
from featurestore.errors import RequestError
from featurestore.limits import check_time, quote
from featurestore.materialize import WINDOW_SUFFIX, online_rows
from featurestore.offline.inputs import to_frame
from featurestore.online import OnlineStore
from featurestore.reports import parse_iso
from featurestore.serving import key_types

__all__ = ["write_feature_values"]

#: Feast's names of the event and created time columns it posts, before the source's own
EVENT_COLUMN, CREATED_COLUMN = "event_timestamp", "created"
_UTC_US = pl.Datetime("us", "UTC")
_KEY_DTYPES = {"int64": pl.Int64(), "str": pl.String()}


def write_feature_values(
    view: FeatureView,
    data: Any,
    *,
    online: OnlineStore,
    project: str,
    view_version: int,
    max_future: dt.timedelta,
) -> int:
    """Write feature values of ``view`` online as given; returns how many rows were written.

    Args:
        view: the feature view (served online).
        data: column name -> values (or a Polars/pandas/Arrow frame): the join keys, every
            feature of the view, the event time (``event_timestamp`` or the source's timestamp
            field: datetimes or ISO 8601 texts, naive ones UTC) and optionally the created time
            (``created``).
        online: the online store.
        project: the project (the key namespace).
        view_version: the view version the values are stored as.
        max_future: how far past now an event time may be.

    Raises:
        RequestError: a missing, unknown, ragged or mistyped column, or an event time out of
            range.
    """
    if not view.online:
        raise RequestError(f"feature view {view.name!r} is not served online (online=False)")
    columns = data
    if not isinstance(data, Mapping):
        columns = to_frame(data, f"values written to {view.name!r}").to_dict(as_series=False)
    rows = _feature_rows(view, columns, max_future=max_future)
    plain = [f.name for f in view.row_features]
    windows = [a.name for a in view.aggregates]
    if plain:
        online.write(view.name, online_rows(project, view, rows, plain, view_version=view_version))
    if windows:
        online.write(
            view.name + WINDOW_SUFFIX,
            online_rows(project, view, rows, windows, view_version=view_version),
        )
    return rows.height


def _feature_rows(
    view: FeatureView, columns: Mapping[str, Sequence[Any]], *, max_future: dt.timedelta
) -> pl.DataFrame:
    """The checked rows: join keys, ``event_timestamp``, ``created_timestamp``, ``seq`` and the
    features, each with its dtype (see :func:`write_feature_values` for what is refused)."""
    types = key_types(view)
    if not isinstance(columns, Mapping) or not columns:
        raise RequestError("df must map each column name to a list of values")
    source = view.source
    event = _first_present(columns, (EVENT_COLUMN, source.timestamp_field))
    if event is None:
        raise RequestError(
            f"df lacks the event time column {EVENT_COLUMN!r} (or {source.timestamp_field!r})"
        )
    created = _first_present(
        columns, (CREATED_COLUMN, "created_timestamp", source.created_timestamp_field)
    )
    known = {*view.join_keys, *view.feature_names, event, *([created] if created else [])}
    unknown = [name for name in columns if name not in known]
    if unknown:
        raise RequestError(
            f"df has column {quote(unknown[0])}, which is neither a join key nor a feature of "
            f"view {view.name!r}"
        )
    missing = [name for name in (*view.join_keys, *view.feature_names) if name not in columns]
    if missing:
        raise RequestError(
            f"df lacks column {missing[0]!r} of view {view.name!r} (every feature is written)"
        )
    lengths = {len(_values(name, columns[name])) for name in known}
    if len(lengths) != 1:
        raise RequestError("every column of df must hold the same number of values")
    n = lengths.pop()
    if n == 0:
        raise RequestError("df holds no rows")
    now = dt.datetime.now(dt.UTC)
    stamps = _times(event, columns[event], latest=now + max_future)
    if any(stamp is None for stamp in stamps):
        raise RequestError(f"column {event!r} holds a null event time")
    created_stamps = _times(created, columns[created], latest=None) if created else [None] * n
    dtypes = view.feature_dtypes
    return pl.DataFrame(
        [
            *(_typed(k, columns[k], _KEY_DTYPES.get(types.get(k, ""))) for k in view.join_keys),
            pl.Series(EVENT_COLUMN, stamps, dtype=_UTC_US),
            pl.Series("created_timestamp", created_stamps, dtype=_UTC_US),
            pl.Series("seq", [time.time_ns() // 1000] * n, dtype=pl.Int64),
            *(_typed(f, columns[f], dtypes.get(f)) for f in view.feature_names),
        ]
    )


def _first_present(columns: Mapping[str, Any], names: Sequence[str | None]) -> str | None:
    return next((name for name in names if name and name in columns), None)


def _values(name: str, values: Any) -> Sequence[Any]:
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise RequestError(f"column {quote(name)} of df must be a list of values")
    return values


def _typed(name: str, values: Sequence[Any], dtype: Any) -> pl.Series:
    """``values`` as a Series of ``dtype`` (inferred when None); RequestError naming the column
    when a value does not fit."""
    try:
        if dtype is not None and dtype.is_float():  # JSON writes whole floats as integers
            values = [float(v) if type(v) is int else v for v in values]
        series = pl.Series(name, values, dtype=dtype, strict=True)
    except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError):
        want = f"{dtype} values" if dtype is not None else "values of one type"
        raise RequestError(f"column {quote(name)} of df must hold {want}") from None
    if dtype is not None and dtype.is_numeric() and any(isinstance(v, bool) for v in values):
        raise RequestError(f"column {quote(name)} of df must hold {dtype} values, not booleans")
    return series


def _times(
    name: str, values: Sequence[Any], *, latest: dt.datetime | None
) -> list[dt.datetime | None]:
    """Timestamps (datetimes or ISO 8601 texts; naive is UTC) as UTC datetimes, checked to lie
    between 1900 and ``latest``."""
    return [check_time(_time(name, value), f"column {name!r}", latest=latest) for value in values]


def _time(name: str, value: Any) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = parse_iso(value) if isinstance(value, str | dt.datetime) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise RequestError(f"column {name!r} must hold ISO 8601 timestamps, got {quote(value)}")
    return parsed.astimezone(dt.UTC)
