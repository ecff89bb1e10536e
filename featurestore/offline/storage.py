"""The offline store: Parquet files of validated source rows, made visible by the registry.

Layout under ``<offline_store>/<project>/`` (a local folder or ``s3://bucket/prefix``)::

    views/<view>/run-<seq>-<run_id>/bucket=NNNN/rows.parquet   validated source rows
    quarantine/<view>/run-<seq>-<run_id>.parquet               rows a contract refused
    datasets/<name>.parquet                                    saved training frames
    serving_log/<flush>.parquet                                flushed serving samples

A view's rows are split by the stable hash of their join keys into the view's number of buckets
(``featurestore.offline.buckets``; the number is fixed when the view is first ingested), one file
per bucket and batch, rows in batch order. Not also by date: every reader reads a bucket whole,
and a backfill spanning 90 days would write 90 small files per bucket, which cost more to write,
to list in the manifest and to read back than one file (4x slower to read at 2M rows); the
Parquet statistics of the event time still let a time filter skip row groups.

**The registry is the manifest.** A batch's files are written in place and become visible only
when its run commits in the registry, in the same transaction that lists them (with their
bucket); every reader asks the registry for its file list (:meth:`scan` takes that list). So no
rename is needed (object stores have none), a crash at any instant leaves either a committed
batch or files nobody reads, and those are swept (:meth:`run_folders` lists what a sweep looks at).

The rows are the source's own columns, as the contract validated them (timestamps in UTC), plus
the ingestion order ``__fs_seq``; features are computed from them when they are read, with the
definition version in force (``featurestore.offline.compute.view_rows``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from featurestore.offline.files import Codec, FileInfo, Location

__all__ = [
    "OfflineStore",
    "RunFiles",
    "StoredFile",
    "WriteJob",
    "run_name",
    "scan_files",
    "write_job",
]


@dataclass(frozen=True)
class StoredFile:
    """A file written for a batch: its path relative to the project root, kind and row count."""

    path: str
    kind: str  # "rows" | "quarantine"
    rows: int
    bucket: int = 0


@dataclass(frozen=True)
class RunFiles:
    """The files one run left on storage (what a sweep considers) and the newest write time."""

    paths: tuple[str, ...]
    modified: datetime


def run_name(run_seq: int, run_id: str) -> str:
    """The folder (or file stem) name of one ingestion run's files."""
    return f"run-{run_seq:012d}-{run_id}"


def run_id_of(name: str) -> str | None:
    """The run id in a ``run-<seq>-<run_id>`` name, or None for anything else."""
    parts = name.split(".")[0].split("-", 2)
    return parts[2] if len(parts) == 3 and parts[0] == "run" and parts[2] else None


def bucket_folder(bucket: int) -> str:
    return f"bucket={bucket:04d}"


def scan_files(location: Location, files: Sequence[str]) -> pl.LazyFrame | None:
    """The rows of the given (committed) files as one LazyFrame, or None for no files.

    Batches may differ in their columns (a source gained one) and dtypes (an integer column
    that later arrives as float): missing columns read as null and each column takes the
    supertype of its dtypes, as ``pl.concat(how="diagonal_relaxed")`` gives it. Files of one
    run share a schema, so one schema is read per run folder.
    """
    if not files:
        return None
    groups: dict[tuple[tuple[str, pl.DataType], ...], list[str]] = {}
    schemas: dict[str, tuple[tuple[str, pl.DataType], ...]] = {}
    for file in files:
        run = file.split("/bucket=")[0] if "/bucket=" in file else file
        if run not in schemas:
            schemas[run] = tuple(location.schema(file).items())
        groups.setdefault(schemas[run], []).append(file)
    scans = [
        location.scan(group, hive_partitioning=False, schema=dict(schema))
        for schema, group in groups.items()
    ]
    return scans[0] if len(scans) == 1 else pl.concat(scans, how="diagonal_relaxed")


#: source rows are written with the cheapest codec that still compresses (they are read back
#: whole by every training frame; zstd costs 3x as much to decode)
ROWS_COMPRESSION: Codec = "lz4"


@dataclass(frozen=True)
class WriteJob:
    """One bucket of a batch to write (the per-bucket job of an ingestion)."""

    location: Location
    view: str
    run: str
    bucket: int
    rows: pl.DataFrame


def write_job(job: WriteJob) -> list[StoredFile]:
    """Write one bucket of a batch as ``views/<view>/<run>/bucket=NNNN/rows.parquet`` (locally
    or as a Ray task); nothing is visible until the registry lists the returned file."""
    rows = job.rows
    if rows.height == 0:
        return []
    path = f"views/{job.view}/{job.run}/{bucket_folder(job.bucket)}/rows.parquet"
    # one row group: it reads back as one chunk, and Polars gathers from one chunk several
    # times faster (the training frame's last step); the rows of a bucket are in hash order,
    # so smaller groups would not let the key statistics skip any
    job.location.write(path, rows, compression=ROWS_COMPRESSION, row_group_size=rows.height)
    return [StoredFile(path, "rows", rows.height, job.bucket)]


class OfflineStore:
    """Parquet files of one project, in a local folder or on an object store.

    Args:
        root: the store root (``offline_store``): a path or an ``s3://`` URL.
        project: the project; its files live under ``<root>/<project>``.
        storage_options: object-store options (endpoint, credentials, region...).
    """

    def __init__(
        self, root: str, project: str, storage_options: Mapping[str, str] | None = None
    ) -> None:
        self.location = Location.of(str(root), project, storage_options)

    # -- paths (relative to the project root) --------------------------------------------------
    @staticmethod
    def view_dir(view: str) -> str:
        return f"views/{view}"

    @staticmethod
    def quarantine_dir(view: str) -> str:
        return f"quarantine/{view}"

    @staticmethod
    def dataset_path(name: str) -> str:
        return f"datasets/{name}.parquet"

    @staticmethod
    def serving_log_dir() -> str:
        return "serving_log"

    def url(self, relative: str) -> str:
        """The full path or URL of a file given relative to the project root."""
        return self.location.url(relative)

    # -- writing ------------------------------------------------------------------------------
    def write_quarantine(self, view: str, run: str, rows: pl.DataFrame) -> StoredFile | None:
        """Write a batch's quarantined rows (one file); None when there are none."""
        if rows.height == 0:
            return None
        path = f"{self.quarantine_dir(view)}/{run}.parquet"
        self.location.write(path, rows)
        return StoredFile(path, "quarantine", rows.height)

    def write_file(self, relative: str, frame: pl.DataFrame) -> str:
        """Write one Parquet file whole (see ``Location.write``); returns its full path or URL."""
        return self.location.write(relative, frame)

    def delete(self, files: Sequence[str]) -> None:
        """Remove files that will never be committed (a failed batch's, a sweep's finds) and
        the folders they leave empty."""
        self.location.delete(files)

    # -- reading ------------------------------------------------------------------------------
    def scan(self, files: Sequence[str]) -> pl.LazyFrame | None:
        """The rows of the given (committed) files as one LazyFrame (see :func:`scan_files`)."""
        return scan_files(self.location, files)

    def read(self, relative: str) -> pl.DataFrame:
        return self.location.read(relative)

    def read_url(self, url: str) -> pl.DataFrame:
        """A file by the full path or URL a record holds (a saved dataset)."""
        return self.location.read_url(url)

    def list_files(self, prefix: str) -> list[FileInfo]:
        """Every file under a folder (relative to the project root)."""
        return self.location.list(prefix)

    def run_folders(self, view: str) -> dict[str, RunFiles]:
        """Run id -> the files the run left under ``views/`` and ``quarantine/``."""
        found: dict[str, list[FileInfo]] = {}
        for parent in (self.view_dir(view), self.quarantine_dir(view)):
            for info in self.location.list(parent):
                name = info.path[len(parent) + 1 :].split("/")[0]
                run_id = run_id_of(name)
                if run_id is not None:
                    found.setdefault(run_id, []).append(info)
        return {
            run_id: RunFiles(tuple(f.path for f in infos), max(f.modified for f in infos))
            for run_id, infos in found.items()
        }
