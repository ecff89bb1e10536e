"""Where offline files live: a local folder or an object store (``s3://bucket/prefix``).

Parquet is read and written by Polars' own cloud I/O (``scan_parquet``/``write_parquet`` with
``storage_options``): predicate and projection pushdown reach the object store's ranged reads,
and a file is written in one PUT. Polars cannot list or delete objects, which
the sweep needs; those few calls go through ``obstore``, the Python face of the same Rust
``object_store`` crate Polars is built on, so one set of options (``aws_endpoint_url``,
``aws_access_key_id``... and the standard ``AWS_*`` environment variables) configures both.
s3fs/fsspec would add a second, slower, Python-level S3 client beside the one Polars already has.

A :class:`Location` is a small frozen value, so a Ray task receives it and reads the same files.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import polars as pl

__all__ = ["Codec", "FileInfo", "Location"]

Codec = Literal["lz4", "uncompressed", "snappy", "gzip", "brotli", "zstd"]

#: option keys that are HTTP client settings for obstore (Polars takes them with the rest)
_CLIENT_KEYS = {"aws_allow_http": "allow_http", "allow_http": "allow_http"}
#: obstore names of the endpoint option (Polars also takes ``aws_endpoint_url``)
_RENAMES = {"aws_endpoint_url": "aws_endpoint", "endpoint_url": "aws_endpoint"}


@dataclass(frozen=True)
class FileInfo:
    """A stored file: its path relative to the location's root and when it was last written."""

    path: str
    modified: datetime


@dataclass(frozen=True)
class Location:
    """The root folder of one project's offline files.

    Attributes:
        root: an absolute local path, or an object-store URL (``s3://bucket/prefix/project``).
        options: object-store options (pairs, so the value stays hashable); the standard AWS
            environment variables are read as well.
    """

    root: str
    options: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, root: str, project: str, options: Mapping[str, str] | None = None) -> Location:
        """The location of ``project``'s files under a store root (a path or a URL)."""
        base = root.rstrip("/")
        if "://" not in base:
            base = str(Path(base).expanduser().resolve())
        return cls(f"{base}/{project}", tuple(sorted((options or {}).items())))

    @property
    def remote(self) -> bool:
        return "://" in self.root

    def url(self, relative: str) -> str:
        """The full path or URL of a file given relative to the root."""
        return f"{self.root}/{relative}" if relative else self.root

    def relative(self, url: str) -> str:
        """A full path or URL under the root, relative to it."""
        prefix = self.root + "/"
        if url.startswith(prefix):
            return url[len(prefix) :]
        if not self.remote:
            return Path(url).resolve().relative_to(Path(self.root)).as_posix()
        raise ValueError(f"{url!r} is not under {self.root!r}")

    @property
    def storage_options(self) -> dict[str, str] | None:
        """What Polars' cloud I/O takes (None for a local folder)."""
        return dict(self.options) if self.remote else None

    # -- reading ------------------------------------------------------------------------------
    def scan(self, relative: Sequence[str], **kwargs: Any) -> pl.LazyFrame:
        """A lazy scan of Parquet files (relative paths)."""
        return pl.scan_parquet(
            [self.url(r) for r in relative], storage_options=self.storage_options, **kwargs
        )

    def read(self, relative: str) -> pl.DataFrame:
        return self.scan([relative]).collect()

    def schema(self, relative: str) -> pl.Schema:
        return self.scan([relative]).collect_schema()

    def read_url(self, url: str) -> pl.DataFrame:
        """A Parquet file given by its full path or URL (as a dataset record holds it)."""
        return pl.read_parquet(url, storage_options=self.storage_options)

    # -- writing ------------------------------------------------------------------------------
    def write(
        self,
        relative: str,
        frame: pl.DataFrame,
        *,
        compression: Codec = "zstd",
        row_group_size: int | None = None,
    ) -> str:
        """Write one Parquet file whole: locally beside it then renamed over it; on an object
        store one PUT, which is atomic. Returns its full path or URL."""
        url = self.url(relative)
        options: dict[str, Any] = dict(
            statistics=True, compression=compression, row_group_size=row_group_size
        )
        if self.remote:
            frame.write_parquet(url, storage_options=self.storage_options, **options)
            return url
        path = Path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            frame.write_parquet(tmp, **options)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return url

    # -- listing and deleting (what a sweep needs) --------------------------------------------
    def list(self, prefix: str) -> list[FileInfo]:
        """Every file under ``prefix`` (relative), recursively."""
        if self.remote:
            import obstore

            out = []
            for batch in obstore.list(self._store, prefix=prefix.rstrip("/") + "/"):
                out += [FileInfo(m["path"], m["last_modified"]) for m in batch]
            return out
        base = Path(self.url(prefix))
        if not base.is_dir():
            return []
        return [
            FileInfo(
                p.relative_to(self.root).as_posix(),
                datetime.fromtimestamp(p.stat().st_mtime, UTC),
            )
            for p in base.rglob("*")
            if p.is_file()
        ]

    def delete(self, relative: Sequence[str]) -> None:
        """Remove files (missing ones are fine) and, locally, the folders they leave empty."""
        if not relative:
            return
        if self.remote:
            import obstore

            obstore.delete(self._store, list(relative))
            return
        folders = set()
        for name in relative:
            path = Path(self.url(name))
            path.unlink(missing_ok=True)
            folders.add(path.parent)
        root = Path(self.root)
        for folder in sorted(folders, key=lambda f: len(f.parts), reverse=True):
            while folder != root and folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
                folder = folder.parent

    @property
    def _store(self) -> Any:
        return _object_store(self.root, self.options)


@lru_cache(maxsize=16)
def _object_store(root: str, options: tuple[tuple[str, str], ...]) -> Any:
    """An obstore client for a root URL (one per root and options, reused)."""
    from obstore.store import from_url

    config: dict[str, str] = {}
    client: dict[str, Any] = {}
    for key, value in options:
        name = key.lower()
        if name in _CLIENT_KEYS:
            client[_CLIENT_KEYS[name]] = value.lower() in ("1", "true", "yes")
        else:
            config[_RENAMES.get(name, name)] = value
    return from_url(root, config=config or None, client_options=client or None)  # type: ignore[arg-type]
