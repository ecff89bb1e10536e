"""A view's committed rows as buckets: what each per-bucket job reads.

The driver asks the registry for a view's committed files once (a consistent snapshot), groups
them by the bucket the manifest records, and works out the one schema every bucket is read in
(the supertype over every batch, as one scan of all files would give it), so each bucket's
job computes exactly the columns and dtypes a whole-view job would. A :class:`BucketFiles` is
small and frozen (file names, a schema, the view's JSON spec), so a Ray task receives it as is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from featurestore.definitions import FeatureView, from_spec
from featurestore.offline.buckets import split_by_bucket
from featurestore.offline.compute import normalise_keys, view_rows
from featurestore.offline.files import Location
from featurestore.offline.storage import scan_files

__all__ = ["POSITION", "BucketFiles", "ViewLayout"]

#: the column carrying a spine row's position through a per-bucket job
POSITION = "__fs_pos"

Schema = tuple[tuple[str, pl.DataType], ...]


@dataclass(frozen=True)
class BucketFiles:
    """One bucket of a view's committed source rows.

    Attributes:
        location: where the files are.
        spec: the view's definition (the version to compute with) as its JSON spec.
        files: the bucket's committed files (relative to the location).
        schema: the schema of the whole view's rows, or None when the view has no rows.
    """

    location: Location
    spec: Mapping[str, Any] = field(hash=False)
    files: tuple[str, ...]
    schema: Schema | None

    def view(self) -> FeatureView:
        view = from_spec("feature_view", dict(self.spec))
        assert isinstance(view, FeatureView)
        return view

    def source(self) -> pl.LazyFrame | None:
        """The bucket's stored source rows in the view-wide schema (None: the view has none)."""
        if self.schema is None:
            return None
        schema = dict(self.schema)
        scanned = scan_files(self.location, self.files)
        if scanned is None:
            return pl.LazyFrame(schema=schema)
        have = scanned.collect_schema()
        return scanned.select(
            pl.col(c).cast(d) if c in have else pl.lit(None, dtype=d).alias(c)
            for c, d in schema.items()
        )

    def rows(
        self, view: FeatureView | None = None, keys: pl.DataFrame | None = None
    ) -> pl.LazyFrame | None:
        """The view's rows computed from the bucket's source rows (``compute.view_rows``).

        Args:
            view: the definition (default: :meth:`view`).
            keys: only the rows of these entities (their join keys); the filter is pushed into
                the Parquet reader, so only those rows are decoded whole.
        """
        view = view or self.view()
        source = self.source()
        if source is None:
            return None
        if keys is not None:
            source = _only_keys(source, keys, view.join_keys)
        return view_rows(view, source)


def _only_keys(source: pl.LazyFrame, keys: pl.DataFrame, join_keys: Sequence[str]) -> pl.LazyFrame:
    schema = source.collect_schema()
    wanted = keys.select(*normalise_keys(keys, list(join_keys))).unique()
    condition = pl.lit(True)
    for key in join_keys:
        values = wanted.get_column(key).drop_nulls()
        if schema[key].is_integer() and values.dtype.is_integer():
            values = values.cast(schema[key], strict=False).drop_nulls()
        condition = condition & pl.col(key).is_in(values.implode())
    # several keys: the per-column filter is a superset; the join on all keys narrows it exactly
    source = source.filter(condition)
    if len(join_keys) > 1:
        wanted = wanted.with_columns(
            pl.col(k).cast(schema[k], strict=False) for k in join_keys if k in schema
        )
        source = source.join(wanted.lazy(), on=list(join_keys), how="semi")
    return source


@dataclass(frozen=True)
class ViewLayout:
    """A view's committed files by bucket, read once from the registry (the driver's side).

    Attributes:
        view: the definition to compute with.
        buckets: the view's bucket count (fixed when it was first ingested).
        files: bucket -> its committed files, oldest commit first.
        schema: the view-wide schema (None: no rows committed).
    """

    location: Location
    view: FeatureView
    buckets: int
    files: Mapping[int, tuple[str, ...]]
    schema: Schema | None

    @classmethod
    def of(
        cls,
        location: Location,
        view: FeatureView,
        buckets: int,
        files: Sequence[tuple[str, int]],
    ) -> ViewLayout:
        """Group ``(path, bucket)`` pairs and work out the view-wide schema."""
        by_bucket: dict[int, list[str]] = {}
        for path, bucket in files:
            by_bucket.setdefault(bucket, []).append(path)
        whole = scan_files(location, [p for p, _ in files])
        schema = None if whole is None else tuple(whole.collect_schema().items())
        return cls(
            location, view, buckets, {b: tuple(p) for b, p in sorted(by_bucket.items())}, schema
        )

    def bucket(self, bucket: int) -> BucketFiles:
        return BucketFiles(
            self.location, self.view.to_spec(), self.files.get(bucket, ()), self.schema
        )

    def all_buckets(self) -> list[BucketFiles]:
        """Every bucket that has files."""
        return [self.bucket(b) for b in self.files]

    def split(self, keys: pl.DataFrame) -> dict[int, pl.DataFrame]:
        """Rows of ``keys`` (join keys first normalised as stored) grouped by their bucket,
        each with its position in ``keys`` as ``POSITION``."""
        joined = self.view.join_keys
        frame = keys.with_columns(*normalise_keys(keys, joined)).with_columns(
            pl.int_range(pl.len(), dtype=pl.Int64).alias(POSITION)
        )
        return split_by_bucket(frame, joined, self.buckets)
