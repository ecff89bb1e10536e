"""Key buckets: which bucket of a view's offline rows an entity's rows live in.

A view's rows are partitioned by ``stable_hash(join keys) % buckets`` (DESIGN §13), and every
job that reads them (training frames, materialization, the skew check) runs one bucket at a time
with the spine split the same way, so its memory follows the largest bucket.

Why not ``polars.Expr.hash``: Polars documents that its hash may change between versions (and
it does, with the hasher). A bucket is recorded in the manifest and must mean the same thing to
every process that ever reads the store, whatever its Polars version, so the hash is defined
here, in numpy ``uint64`` arithmetic (which wraps, as documented), from published algorithms:

- an integer key (any width, read as Int64), a boolean (0/1), a date or datetime (its physical
  integer) is its two's-complement 64-bit value; a float its IEEE-754 bits (``-0.0`` as ``0.0``,
  every NaN as one NaN);
- a string (or categorical) key is FNV-1a 64 of its UTF-8 bytes;
- a null is a fixed constant (null keys never match; any bucket does);
- columns are combined left to right, ``h = splitmix64(h * FNV_PRIME ^ column)``, and the bucket
  is ``h % buckets``.

``tests/offline/test_buckets.py`` pins known values, so a change to any of this fails a test
instead of silently moving rows to other buckets.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

__all__ = ["BUCKET_COLUMN", "bucket_of", "key_hash", "split_by_bucket"]

#: the column a frame being split carries its bucket in (the prefix keeps it clear of sources)
BUCKET_COLUMN = "__fs_bucket"

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_NULL = np.uint64(0x9E3779B97F4A7C15)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)


def _splitmix64(z: np.ndarray) -> None:
    """The splitmix64 finaliser (Steele, Lea, Flood 2014), in place: every input bit moves
    every output bit. In place, with one scratch array, because a key column of 10M rows makes
    each temporary 80 MB of fresh pages."""
    scratch = z >> _S30
    z ^= scratch
    z *= _M1
    np.right_shift(z, _S27, out=scratch)
    z ^= scratch
    z *= _M2
    np.right_shift(z, _S31, out=scratch)
    z ^= scratch


def _fnv1a(values: list[bytes]) -> np.ndarray:
    """FNV-1a 64 of each byte string, one byte position at a time over all strings at once."""
    n = len(values)
    lengths = np.fromiter((len(v) for v in values), dtype=np.int64, count=n)
    order = np.argsort(-lengths, kind="stable")  # longest first: the active strings are a prefix
    ascending = np.sort(lengths)
    buffer = np.frombuffer(b"".join(values[i] for i in order), dtype=np.uint8)
    starts = np.concatenate([[0], np.cumsum(lengths[order])[:-1]]).astype(np.int64)
    h = np.full(n, _FNV_OFFSET, dtype=np.uint64)
    for j in range(int(ascending[-1]) if n else 0):
        active = n - int(np.searchsorted(ascending, j, side="right"))  # strings longer than j
        h[:active] = (h[:active] ^ buffer[starts[:active] + j].astype(np.uint64)) * _FNV_PRIME
    out = np.empty(n, dtype=np.uint64)
    out[order] = h
    return out


def _string_hashes(series: pl.Series) -> np.ndarray:
    """FNV-1a of each string, computed once per distinct value."""
    text = series.cast(pl.String)
    uniques = text.drop_nulls().unique()
    values = [v.encode("utf-8") for v in uniques.to_list()]
    lookup = pl.DataFrame(
        {"v": uniques, "h": pl.Series(_fnv1a(values), dtype=pl.UInt64)},
        schema={"v": pl.String, "h": pl.UInt64},
    )
    joined = text.to_frame("v").join(lookup, on="v", how="left", maintain_order="left")
    return joined.get_column("h").fill_null(int(_NULL)).to_numpy().astype(np.uint64, copy=False)


def _column_hash(series: pl.Series) -> np.ndarray:
    dtype = series.dtype
    if isinstance(dtype, pl.String | pl.Categorical | pl.Enum):
        return _string_hashes(series)
    if dtype.is_float():
        as_float = series.cast(pl.Float64)
        as_float = pl.select(
            pl.when(as_float.is_nan()).then(float("nan")).otherwise(as_float + 0.0)
        ).to_series()  # -0.0 + 0.0 is 0.0; one NaN bit pattern for all
        bits = as_float.fill_null(0.0).to_numpy().view(np.uint64)
        return np.where(series.is_null().to_numpy(), _NULL, bits)
    if isinstance(dtype, pl.Boolean) or dtype.is_integer() or dtype.is_temporal():
        ints = series.cast(pl.Int64) if not dtype.is_temporal() else series.to_physical()
        ints = ints.cast(pl.Int64)
        if not ints.null_count():  # read in place: no copy of a column of millions of keys
            return ints.to_numpy().view(np.uint64)
        values = ints.fill_null(0).to_numpy().astype(np.int64, copy=False).view(np.uint64)
        return np.where(ints.is_null().to_numpy(), _NULL, values)
    raise TypeError(f"join key {series.name!r} of type {dtype} cannot be bucketed")


def key_hash(frame: pl.DataFrame, keys: Sequence[str]) -> np.ndarray:
    """The stable 64-bit hash of each row's join keys (see the module doc)."""
    h = np.zeros(frame.height, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for key in keys:
            h *= _FNV_PRIME
            h ^= _column_hash(frame.get_column(key))
            _splitmix64(h)
    return h


def bucket_of(frame: pl.DataFrame, keys: Sequence[str], buckets: int) -> pl.Series:
    """Each row's bucket (``UInt32`` in ``[0, buckets)``)."""
    if buckets <= 1:
        return pl.Series(BUCKET_COLUMN, np.zeros(frame.height, dtype=np.uint32))
    values = key_hash(frame, keys)
    values %= np.uint64(buckets)
    return pl.Series(BUCKET_COLUMN, values.astype(np.uint32))


def split_by_bucket(
    frame: pl.DataFrame, keys: Sequence[str], buckets: int
) -> dict[int, pl.DataFrame]:
    """The rows of each non-empty bucket, each part in its input order."""
    if buckets <= 1 or frame.height == 0:
        return {0: frame} if frame.height else {}
    tagged = frame.with_columns(bucket_of(frame, keys, buckets))
    parts = tagged.partition_by(BUCKET_COLUMN, as_dict=True, include_key=False)
    return {int(k[0]): v for k, v in sorted(parts.items(), key=lambda kv: int(kv[0][0]))}  # type: ignore[call-overload]
