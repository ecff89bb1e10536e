"""The offline store: a Parquet dataset per view, partitioned by date, published atomically.

Layout under ``<offline_store>/<project>/``::

    views/<view>/run-<seq>-<run_id>/date=YYYY-MM-DD/*.parquet      computed feature rows
    quarantine/<view>/run-<seq>-<run_id>.parquet                     rows a contract refused
    datasets/<name>.parquet                                          saved training frames
    serving_log/<flush>.parquet                                      flushed serving samples
    _staging/<run_id>/                                               a batch being written

A batch is written whole under ``_staging`` and published with one directory rename, which is
atomic on a POSIX file system: a reader sees all of a batch or none of it, and a crash midway
leaves only a staging folder that no reader looks at (it is swept on the next write).
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl

__all__ = ["OfflineStore"]

_STALE_STAGING_SECONDS = 3600.0


class OfflineStore:
    """Parquet files of one project on a local file system."""

    def __init__(self, root: Path, project: str) -> None:
        self.root = Path(root) / project

    # -- paths --------------------------------------------------------------------------------
    def view_dir(self, view: str) -> Path:
        return self.root / "views" / view

    def quarantine_dir(self, view: str) -> Path:
        return self.root / "quarantine" / view

    def dataset_path(self, name: str) -> Path:
        return self.root / "datasets" / f"{name}.parquet"

    def serving_log_dir(self) -> Path:
        return self.root / "serving_log"

    # -- writing ------------------------------------------------------------------------------
    @contextmanager
    def _staging(self) -> Iterator[Path]:
        staging_root = self.root / "_staging"
        staging_root.mkdir(parents=True, exist_ok=True)
        self._sweep(staging_root)
        path = staging_root / uuid.uuid4().hex
        path.mkdir()
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    @staticmethod
    def _sweep(staging_root: Path) -> None:
        """Remove staging folders left by crashed writers (old enough not to be in use)."""
        cutoff = time.time() - _STALE_STAGING_SECONDS
        for child in staging_root.iterdir():
            try:
                if child.stat().st_mtime < cutoff:
                    shutil.rmtree(child, ignore_errors=True)
            except FileNotFoundError:
                continue

    def write_rows(self, view: str, run_name: str, rows: pl.DataFrame) -> Path | None:
        """Publish one batch of computed rows of ``view`` atomically; None if ``rows`` is empty.

        ``rows`` must have an ``event_timestamp`` column (it decides the date partition).
        """
        if rows.height == 0:
            return None
        target = self.view_dir(view) / run_name
        # the partition key is left out of the files; it may not hide a column of the same name
        key = "date" if "date" not in rows.columns else "__date"
        with self._staging() as staging:
            batch = staging / run_name
            rows.lazy().sink_parquet(
                pl.PartitionBy(
                    batch,
                    key=pl.col("event_timestamp").dt.date().alias(key),
                    include_key=False,
                ),
                mkdir=True,
                compression="lz4",  # feature values compress little; lz4 costs least to write
            )
            self._publish(batch, target)
        return target

    def write_file(self, path: Path, frame: pl.DataFrame) -> Path:
        """Write one Parquet file atomically (write beside it, then rename over it)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            frame.write_parquet(tmp, statistics=True)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    @staticmethod
    def _publish(source: Path, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(source, target)

    # -- reading ------------------------------------------------------------------------------
    def view_files(self, view: str) -> list[Path]:
        """Every published Parquet file of ``view``, oldest batch first."""
        folder = self.view_dir(view)
        if not folder.is_dir():
            return []
        return sorted(folder.glob("run-*/*=*/*.parquet"))

    def scan_view(self, view: str) -> pl.LazyFrame | None:
        """All published rows of ``view``, or None before its first batch.

        Batches written under older view versions may lack newer feature columns: those read as
        null (the newest batch's dtype wins for a column several batches have).
        """
        files = self.view_files(view)
        if not files:
            return None
        schema: dict[str, pl.DataType] = {}
        for file in files:
            schema.update(pl.read_parquet_schema(file))
        return pl.scan_parquet(
            files,
            schema=schema,
            missing_columns="insert",
            extra_columns="ignore",
            hive_partitioning=False,
        )

    def drop_view(self, view: str) -> None:
        shutil.rmtree(self.view_dir(view), ignore_errors=True)
