"""Compute a view's rows from stored source rows, with either compiler.

The offline store keeps validated *source* rows; :func:`view_rows` computes a view's features from
them when they are read (training frames, materialization, the skew check) with the Polars
compiler of the definition version in force, so one definition holds for all history. Pushes go
online through the Python compiler (:func:`compute_rows_python`, what serving uses); the property
tests of ``expr`` prove the two agree, and the skew check verifies it on live traffic.
"""

from __future__ import annotations

import polars as pl

from featurestore.definitions import FeatureView, polars_dtype
from featurestore.expr import output_dtype, to_polars, to_python

__all__ = [
    "SEQ_COLUMN",
    "SEQ_SHIFT",
    "compute_rows_python",
    "normalise_keys",
    "stored_rows",
    "view_rows",
]

#: a row's ``seq`` is ``run_seq << SEQ_SHIFT | position``: later runs, and later rows of one run,
#: count as ingested later (the last tie-break of the point-in-time rule)
SEQ_SHIFT = 32
#: the stored column holding a row's ``seq`` (the prefix keeps it clear of source columns)
SEQ_COLUMN = "__fs_seq"
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


def stored_rows(frame: pl.DataFrame, run_seq: int) -> pl.DataFrame:
    """A validated batch as the offline store keeps it: its columns plus the ingestion order."""
    seq = pl.int_range(0, pl.len(), dtype=pl.Int64) + (run_seq << SEQ_SHIFT)
    return frame.with_columns(seq.alias(SEQ_COLUMN))


def _utc(column: str, dtype: pl.DataType) -> pl.Expr:
    """A stored timestamp column as UTC microseconds (ingestion stores them so; a column that a
    later version names as its timestamp may not have been normalised)."""
    expr = pl.col(column)
    if isinstance(dtype, pl.Datetime):
        expr = expr.dt.replace_time_zone("UTC") if dtype.time_zone is None else expr
        return expr.dt.convert_time_zone("UTC").cast(UTC_US)
    return expr.cast(UTC_US)


def view_rows(view: FeatureView, source: pl.LazyFrame) -> pl.LazyFrame:
    """The rows of ``view`` computed from stored source rows with the Polars compiler.

    Columns: join keys (integers as Int64), ``event_timestamp``, ``created_timestamp``, ``seq``,
    then one column per feature (for an Aggregate, its per-row input: windows are evaluated at
    query time). A column the definition names but no stored batch has reads as null, typed
    as the source schema or contract declares it.
    """
    schema = source.collect_schema()
    src = view.source
    needed = {*view.join_keys, src.timestamp_field}
    for feature in view.features:
        needed |= feature.expr.columns()
    if src.created_timestamp_field:
        needed.add(src.created_timestamp_field)
    declared = {c: d for c, d in view.contract_columns.items() if d is not None}
    declared |= {c: polars_dtype(t) for c, t in (src.schema or {}).items()}
    absent = sorted(needed - set(schema))
    if absent:
        source = source.with_columns(
            pl.lit(None, dtype=declared.get(c, pl.Null())).alias(c) for c in absent
        )
        schema = source.collect_schema()
    created = (
        _utc(src.created_timestamp_field, schema[src.created_timestamp_field])
        if src.created_timestamp_field
        else pl.lit(None, dtype=UTC_US)
    )
    return source.select(
        *normalise_keys(source, view.join_keys),
        _utc(src.timestamp_field, schema[src.timestamp_field]).alias("event_timestamp"),
        created.alias("created_timestamp"),
        pl.col(SEQ_COLUMN).alias("seq"),
        *(to_polars(f.expr, schema=schema).alias(f.name) for f in view.features),
    )


def compute_rows_python(view: FeatureView, stored: pl.DataFrame) -> pl.DataFrame:
    """The rows :func:`view_rows` gives for stored rows (see :func:`stored_rows`), computed row
    by row with the Python compiler (what serving uses): how pushed events go online."""
    src = view.source
    source = stored.drop(SEQ_COLUMN)
    created = (
        stored.get_column(src.created_timestamp_field)
        if src.created_timestamp_field
        else pl.Series([None] * stored.height, dtype=UTC_US)
    )
    meta = stored.select(
        *normalise_keys(stored, view.join_keys),
        pl.col(src.timestamp_field).alias("event_timestamp"),
        created.alias("created_timestamp"),
        pl.col(SEQ_COLUMN).alias("seq"),
    )
    records = source.to_dicts()
    return meta.with_columns(
        pl.Series(
            f.name,
            [fn(r) for r in records],
            dtype=output_dtype(f.expr, source.schema),
            strict=False,
        )
        for f, fn in ((f, to_python(f.expr, schema=source.schema)) for f in view.features)
    )
