"""Data-health figures of a batch: null rate, min, max and mean per column.

Every figure is plain JSON-ready data, computed in one Polars pass:

* ``null_rate``: nulls / rows (NaN is a value, not a null); None for an empty batch;
* numeric columns: ``min``, ``max``, ``mean`` as floats over the non-null, non-NaN values;
  a non-finite result (an infinity in the data) is None, as JSON has no infinity;
* Boolean columns: ``min``/``max`` as 0.0/1.0 and ``mean`` as the share of true;
* date, time and datetime columns: ``min``/``max`` as ISO 8601 text, ``mean`` None;
* string, categorical and enum columns: ``min``/``max`` in text order, ``mean`` None; a text
  figure longer than 64 characters is cut to its first 64 and "..." (a report, or an error
  answer that carries one, never repeats a long value whole);
* any other type (lists, structs, binary): only ``null_rate``; the rest None.
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl

__all__ = ["health"]

HealthFigure = float | str | None
_TEXT = 64  # the longest text figure kept whole


def health(frame: pl.DataFrame) -> dict[str, dict[str, HealthFigure]]:
    """Null rate, min, max and mean of every column of ``frame``.

    Args:
        frame: the batch.

    Returns:
        ``{column: {"null_rate": ..., "min": ..., "max": ..., "mean": ...}}`` in column order.
    """
    schema = frame.schema
    floats = [name for name, dtype in schema.items() if dtype.is_float()]
    # NaN is rare: count it in the same pass and only give the columns that have any the
    # NaN-free copy (``fill_nan``) their figures need
    nans = [pl.col(name).is_nan().sum().alias(f"{name}\0nans") for name in floats]
    exprs = [pl.col(name).null_count().alias(f"{name}\0nulls") for name in schema]
    figures = [e for name, dtype in schema.items() for e in _figures(name, dtype, nan=False)]
    row = frame.select(exprs + figures + nans).row(0, named=True) if schema else {}
    with_nan = [name for name in floats if row[f"{name}\0nans"]]
    if with_nan:
        exprs = [e for name in with_nan for e in _figures(name, schema[name], nan=True)]
        row |= frame.select(exprs).row(0, named=True)
    rows = frame.height
    return {
        name: {
            "null_rate": row[f"{name}\0nulls"] / rows if rows else None,
            "min": _figure(row.get(f"{name}\0min")),
            "max": _figure(row.get(f"{name}\0max")),
            "mean": _figure(row.get(f"{name}\0mean")),
        }
        for name in frame.columns
    }


def _figures(name: str, dtype: pl.DataType, *, nan: bool) -> list[pl.Expr]:
    """The min, max (and mean) of column ``name``; ``nan``: it holds NaN, which they skip."""
    column = pl.col(name).fill_nan(None) if nan else pl.col(name)
    values = _comparable(column, dtype)
    if values is None:
        return []
    exprs = [values.min().alias(f"{name}\0min"), values.max().alias(f"{name}\0max")]
    if dtype.is_numeric() or dtype == pl.Boolean:
        exprs.append(values.mean().alias(f"{name}\0mean"))
    return exprs


def _comparable(column: pl.Expr, dtype: pl.DataType) -> pl.Expr | None:
    """``column`` ready for min/max/mean, or None when those mean nothing for ``dtype``."""
    if dtype.is_float():
        return column
    if dtype.is_numeric() or dtype.is_temporal():
        return column
    if dtype == pl.Boolean:
        return column.cast(pl.Float64)
    if dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum | pl.Categorical):
        return column.cast(pl.String)
    return None


def _figure(value: Any) -> HealthFigure:
    """A JSON-ready health figure."""
    if value is None:
        return value
    if isinstance(value, str):
        return value if len(value) <= _TEXT else value[:_TEXT] + "..."
    if isinstance(value, int | float):
        number = float(value)
        return number if math.isfinite(number) else None
    isoformat = getattr(value, "isoformat", None)
    return isoformat() if callable(isoformat) else str(value)
