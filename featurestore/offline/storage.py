"""The offline store: Parquet files of validated source rows, made visible by the registry.

Layout under ``<offline_store>/<project>/``::

    views/<view>/run-<seq>-<run_id>/date=YYYY-MM-DD/*.parquet      validated source rows
    quarantine/<view>/run-<seq>-<run_id>.parquet                     rows a contract refused
    datasets/<name>.parquet                                          saved training frames
    serving_log/<flush>.parquet                                      flushed serving samples

**The registry is the manifest.** A batch's files are written in place and become visible only
when its run commits in the registry, in the same transaction that lists them; every reader asks
the registry for its file list (:meth:`scan` takes that list). So no rename is needed (object
stores have none), a crash at any instant leaves either a committed batch or files nobody reads,
and those are swept (:meth:`run_folders` lists what a sweep looks at).

The rows are the source's own columns, as the contract validated them (timestamps in UTC), plus
the ingestion order ``__fs_seq``; features are computed from them when they are read, with the
definition version in force (``featurestore.offline.compute.view_rows``).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

__all__ = ["OfflineStore", "StoredFile", "run_name"]


@dataclass(frozen=True)
class StoredFile:
    """A file written for a batch: its path relative to the project root, kind and row count."""

    path: str
    kind: str  # "rows" | "quarantine"
    rows: int
    bucket: int = 0


def run_name(run_seq: int, run_id: str) -> str:
    """The folder (or file stem) name of one ingestion run's files."""
    return f"run-{run_seq:012d}-{run_id}"


def run_id_of(name: str) -> str | None:
    """The run id in a ``run-<seq>-<run_id>`` name, or None for anything else."""
    parts = name.split(".")[0].split("-", 2)
    return parts[2] if len(parts) == 3 and parts[0] == "run" and parts[2] else None


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

    def _relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def path_of(self, relative: str) -> Path:
        return self.root / relative

    # -- writing ------------------------------------------------------------------------------
    def write_rows(
        self, view: str, run: str, rows: pl.DataFrame, timestamp: str
    ) -> list[StoredFile]:
        """Write one batch's rows under ``views/<view>/<run>/``, partitioned by the date of the
        ``timestamp`` column; nothing is visible until the registry lists the returned files.
        """
        if rows.height == 0:
            return []
        target = self.view_dir(view) / run
        # the partition key is left out of the files; it may not hide a column of the same name
        key = "date" if "date" not in rows.columns else "__date"
        rows.lazy().sink_parquet(
            pl.PartitionBy(target, key=pl.col(timestamp).dt.date().alias(key), include_key=False),
            mkdir=True,
            compression="lz4",  # cheapest to write; the rows are read back whole
        )
        return [
            StoredFile(self._relative(file), "rows", _row_count(file))
            for file in sorted(target.rglob("*.parquet"))
        ]

    def write_quarantine(self, view: str, run: str, rows: pl.DataFrame) -> StoredFile | None:
        """Write a batch's quarantined rows (one file); None when there are none."""
        if rows.height == 0:
            return None
        path = self.quarantine_dir(view) / f"{run}.parquet"
        self.write_file(path, rows)
        return StoredFile(self._relative(path), "quarantine", rows.height)

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

    def delete(self, files: Sequence[str]) -> None:
        """Remove files of a batch that will never be committed (and their empty run folder)."""
        folders = set()
        for relative in files:
            path = self.path_of(relative)
            path.unlink(missing_ok=True)
            folders.add(path.parent)
        for folder in folders:
            while folder != self.root and folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
                folder = folder.parent

    # -- reading ------------------------------------------------------------------------------
    def scan(self, files: Sequence[str]) -> pl.LazyFrame | None:
        """The rows of the given (committed) files as one LazyFrame, or None for no files.

        Batches may differ in their columns (a source gained one) and dtypes (an integer column
        that later arrives as float): missing columns read as null and each column takes the
        supertype of its dtypes, as ``pl.concat(how="diagonal_relaxed")`` gives it.
        """
        if not files:
            return None
        paths = [self.path_of(f) for f in files]
        groups: dict[tuple[tuple[str, pl.DataType], ...], list[Path]] = {}
        for path in paths:
            schema = tuple(pl.read_parquet_schema(path).items())
            groups.setdefault(schema, []).append(path)
        scans = [
            pl.scan_parquet(group, hive_partitioning=False, schema=dict(schema))
            for schema, group in groups.items()
        ]
        return scans[0] if len(scans) == 1 else pl.concat(scans, how="diagonal_relaxed")

    def run_folders(self, view: str) -> dict[str, list[Path]]:
        """Run id -> the run's folder and quarantine file on disk (what a sweep considers)."""
        out: dict[str, list[Path]] = {}
        for parent in (self.view_dir(view), self.quarantine_dir(view)):
            if not parent.is_dir():
                continue
            for child in parent.iterdir():
                run_id = run_id_of(child.name)
                if run_id is not None:
                    out.setdefault(run_id, []).append(child)
        return out

    @staticmethod
    def remove(paths: Sequence[Path]) -> None:
        for path in paths:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)

    def drop_view(self, view: str) -> None:
        shutil.rmtree(self.view_dir(view), ignore_errors=True)


def _row_count(path: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.read_metadata(path).num_rows)
