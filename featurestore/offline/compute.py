"""Compute a view's offline rows from validated source rows, with either compiler.

Batch ingestion uses the Polars compiler; pushes use the Python compiler (what serving uses), so
a pushed event is stored exactly as serving computes it. The property tests of ``expr`` prove the
two agree; the skew check verifies it on live traffic.
"""

from __future__ import annotations

import polars as pl

from featurestore.definitions import FeatureView
from featurestore.expr import output_dtype, to_polars, to_python

__all__ = ["SEQ_SHIFT", "compute_rows", "compute_rows_python", "normalise_keys"]

#: a row's ``seq`` is ``run_seq << SEQ_SHIFT | position``: later runs, and later rows of one run,
#: count as ingested later (the last tie-break of the point-in-time rule)
SEQ_SHIFT = 32
UTC_US = pl.Datetime("us", "UTC")


def normalise_keys(frame: pl.DataFrame | pl.LazyFrame, keys: list[str]) -> list[pl.Expr]:
    """Integer join keys as Int64 and categorical keys as String, so batches and spines join alike."""
    schema = frame.collect_schema()
    out: list[pl.Expr] = []
    for key in keys:
        dtype = schema[key]
        if dtype.is_integer():
            out.append(pl.col(key).cast(pl.Int64))
        elif isinstance(dtype, pl.Categorical | pl.Enum):
            out.append(pl.col(key).cast(pl.String))
        else:
            out.append(pl.col(key))
    return out


def _skeleton(
    view: FeatureView,
    frame: pl.DataFrame,
    event_ts: pl.Series,
    created_ts: pl.Series | None,
    run_seq: int,
) -> tuple[pl.DataFrame, list[pl.Expr]]:
    created = (
        created_ts
        if created_ts is not None
        else pl.Series("created_timestamp", [None] * frame.height, dtype=UTC_US)
    )
    base = frame.with_columns(event_ts.alias("__event_ts"), created.alias("__created_ts"))
    meta = [
        *normalise_keys(base, view.join_keys),
        pl.col("__event_ts").alias("event_timestamp"),
        pl.col("__created_ts").alias("created_timestamp"),
        (pl.int_range(0, pl.len(), dtype=pl.Int64) + (run_seq << SEQ_SHIFT)).alias("seq"),
    ]
    return base, meta


def compute_rows(
    view: FeatureView,
    frame: pl.DataFrame,
    event_ts: pl.Series,
    created_ts: pl.Series | None,
    run_seq: int,
) -> pl.DataFrame:
    """The offline rows of ``view`` for a validated batch.

    Columns: join keys, ``event_timestamp``, ``created_timestamp``, ``seq``, then one column per
    feature (for an Aggregate, its per-row input: windows are evaluated at query time).
    """
    base, meta = _skeleton(view, frame, event_ts, created_ts, run_seq)
    schema = base.schema
    return base.select(
        *meta, *(to_polars(f.expr, schema=schema).alias(f.name) for f in view.features)
    )


def compute_rows_python(
    view: FeatureView,
    frame: pl.DataFrame,
    event_ts: pl.Series,
    created_ts: pl.Series | None,
    run_seq: int,
) -> pl.DataFrame:
    """The same rows as :func:`compute_rows`, computed row by row with the Python compiler."""
    base, meta = _skeleton(view, frame, event_ts, created_ts, run_seq)
    records = frame.to_dicts()
    columns = [
        pl.Series(
            f.name, [fn(r) for r in records], dtype=output_dtype(f.expr, frame.schema), strict=False
        )
        for f, fn in ((f, to_python(f.expr, schema=frame.schema)) for f in view.features)
    ]
    return base.select(meta).with_columns(columns)
