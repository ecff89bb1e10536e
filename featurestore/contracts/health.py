"""Data-health figures of a batch: null rate, min, max and mean per column.

Every figure is plain JSON-ready data, computed in one Polars pass:

* ``null_rate``: nulls / rows (NaN is a value, not a null); None for an empty batch;
* numeric columns: ``min``, ``max``, ``mean`` as floats over the non-null, non-NaN values;
  a non-finite result (an infinity in the data) is None, as JSON has no infinity;
* Boolean columns: ``min``/``max`` as 0.0/1.0 and ``mean`` as the share of true;
* date, time and datetime columns: ``min``/``max`` as ISO 8601 text, ``mean`` None;
* string, categorical and enum columns: ``min``/``max`` in text order, ``mean`` None;
* any other type (lists, structs, binary): only ``null_rate``; the rest None.
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl

__all__ = ["health"]

HealthFigure = float | str | None


def health(frame: pl.DataFrame) -> dict[str, dict[str, HealthFigure]]:
    """Null rate, min, max and mean of every column of ``frame``.

    Args:
        frame: the batch.

    Returns:
        ``{column: {"null_rate": ..., "min": ..., "max": ..., "mean": ...}}`` in column order.
    """
    exprs: list[pl.Expr] = []
    for name, dtype in frame.schema.items():
        exprs.append(pl.col(name).null_count().alias(f"{name}\0nulls"))
        values = _comparable(pl.col(name), dtype)
        if values is None:
            continue
        exprs += [values.min().alias(f"{name}\0min"), values.max().alias(f"{name}\0max")]
        if dtype.is_numeric() or dtype == pl.Boolean:
            exprs.append(values.mean().alias(f"{name}\0mean"))
    row = frame.select(exprs).row(0, named=True) if exprs else {}
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


def _comparable(column: pl.Expr, dtype: pl.DataType) -> pl.Expr | None:
    """``column`` ready for min/max/mean, or None when those mean nothing for ``dtype``."""
    if dtype.is_float():
        return column.fill_nan(None)
    if dtype.is_numeric() or dtype.is_temporal():
        return column
    if dtype == pl.Boolean:
        return column.cast(pl.Float64)
    if dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum | pl.Categorical):
        return column.cast(pl.String)
    return None


def _figure(value: Any) -> HealthFigure:
    """A JSON-ready health figure."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        number = float(value)
        return number if math.isfinite(number) else None
    isoformat = getattr(value, "isoformat", None)
    return isoformat() if callable(isoformat) else str(value)
