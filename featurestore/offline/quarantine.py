"""Reading quarantined rows back, whatever the batches that put them there looked like.

Each quarantined batch is one Parquet file holding the batch's own columns as they arrived plus
``__row`` and ``__reasons``. Batches of one view can disagree on a column's type: a batch
rejected for naive timestamps keeps ``Datetime("us")`` where a later batch has
``Datetime("us", "UTC")``, a renamed or mistyped upstream column arrives as a string. Polars
refuses to stack such columns, so a column whose type differs between files (and is not numeric
in all of them) is read as text in every file: the rows stay readable exactly as they arrived,
and a naive timestamp still shows without a zone, which is why it was refused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import polars as pl

__all__ = ["RUN_ID", "read_quarantine"]

RUN_ID = "__run_id"


def read_quarantine(
    files: Sequence[tuple[str, str]], *, read: Callable[[str], pl.DataFrame] = pl.read_parquet
) -> pl.DataFrame:
    """The quarantined rows of ``(path, run_id)`` files, in that order, as one frame.

    Args:
        read: reads one file (the offline store's, which may be on object storage).

    Returns:
        The rows with ``__row``, ``__reasons`` and ``__run_id``; an empty frame when there are none.
    """
    frames = [read(path).with_columns(pl.lit(run).alias(RUN_ID)) for path, run in files]
    if not frames:
        return pl.DataFrame()
    dtypes: dict[str, set[pl.DataType]] = {}
    for frame in frames:
        for name, dtype in frame.schema.items():
            dtypes.setdefault(name, set()).add(dtype)
    as_text = [
        name
        for name, seen in dtypes.items()
        if len(seen) > 1 and not all(d.is_numeric() or d == pl.Null for d in seen)
    ]
    frames = [f.with_columns(_as_text(f[c]) for c in as_text if c in f.columns) for f in frames]
    return pl.concat(frames, how="diagonal_relaxed")


def _as_text(column: pl.Series) -> pl.Series:
    try:
        return column.cast(pl.String)
    except pl.exceptions.PolarsError:  # nested values (lists, structs) have no cast to text
        return pl.Series(column.name, [None if v is None else str(v) for v in column], pl.String)
