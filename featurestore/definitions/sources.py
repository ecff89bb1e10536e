"""Where feature data comes from: files, SQL queries, pushed events and request data."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field
from pathlib import PurePath
from typing import Any, ClassVar

from featurestore.definitions.base import Definition, check_name, normalise_schema
from featurestore.errors import DefinitionError

__all__ = ["DataSource", "FileSource", "PushSource", "RequestSource", "SqlSource"]


@dataclass(frozen=True, eq=False)
class DataSource(Definition):
    """Base of the batch and push sources a FeatureView reads rows from."""

    kind: ClassVar[str] = "data_source"
    source_type: ClassVar[str]

    name: str
    _: KW_ONLY
    timestamp_field: str = ""  # "" means the default: "event_timestamp" (a push: its batch's)
    created_timestamp_field: str | None = None
    schema: Mapping[str, Any] | None = None
    description: str = ""

    def _default_timestamps(self) -> tuple[str, str | None]:
        """The timestamp fields to use when they were not given."""
        return "event_timestamp", None

    def __post_init__(self) -> None:
        owner = f"{type(self).__name__} {self.name!r}"
        if not self.timestamp_field:
            default, created = self._default_timestamps()
            object.__setattr__(self, "timestamp_field", default)
            if self.created_timestamp_field is None:
                object.__setattr__(self, "created_timestamp_field", created)
        check_name(type(self).__name__, self.name)
        check_name(f"{owner} timestamp_field", self.timestamp_field)
        if self.created_timestamp_field is not None:
            check_name(f"{owner} created_timestamp_field", self.created_timestamp_field)
            if self.created_timestamp_field == self.timestamp_field:
                raise DefinitionError(
                    f"{owner}: created_timestamp_field must differ from timestamp_field"
                )
        object.__setattr__(self, "schema", normalise_schema(owner, self.schema))

    def _init(self, **fields: Any) -> None:
        """Set the fields of a frozen source with a hand-written ``__init__``, then validate."""
        for attr, value in fields.items():
            object.__setattr__(self, attr, value)
        self.__post_init__()

    def columns(self) -> set[str] | None:
        """The columns this source is known to have, or None when its schema is not declared."""
        if self.schema is None:
            return None
        known = set(self.schema) | {self.timestamp_field}
        if self.created_timestamp_field:
            known.add(self.created_timestamp_field)
        return known

    def _base_spec(self) -> dict[str, Any]:
        return {
            "type": self.source_type,
            "name": self.name,
            "timestamp_field": self.timestamp_field,
            "created_timestamp_field": self.created_timestamp_field,
            "schema": dict(self.schema) if self.schema is not None else None,
            "description": self.description,
        }

    def to_spec(self) -> dict[str, Any]:
        return self._base_spec()


def _stem_name(path: str) -> str:
    stem = PurePath(path.rstrip("/")).name.split(".")[0] or "source"
    stem = re.sub(r"\W", "_", stem)
    return stem if re.match(r"[A-Za-z_]", stem) else f"source_{stem}"


@dataclass(frozen=True, eq=False, init=False)
class FileSource(DataSource):
    """A Parquet or CSV file (or folder of Parquet files); paths are relative to the repo.

    Example:
        ``FileSource("data/trips.parquet", timestamp_field="event_ts", created_timestamp_field="created_ts")``
    """

    source_type: ClassVar[str] = "file"
    path: str = ""
    file_format: str = "parquet"

    def __init__(
        self,
        path: str,
        /,
        *,
        timestamp_field: str = "event_timestamp",
        created_timestamp_field: str | None = None,
        name: str | None = None,
        schema: Mapping[str, Any] | None = None,
        file_format: str | None = None,
        description: str = "",
    ) -> None:
        if not isinstance(path, str) or not path:
            raise DefinitionError(f"FileSource: path must be a non-empty string, got {path!r}")
        fmt = file_format or ("csv" if path.lower().endswith(".csv") else "parquet")
        if fmt not in ("parquet", "csv"):
            raise DefinitionError(
                f"FileSource {path!r}: file_format must be 'parquet' or 'csv', got {fmt!r}"
            )
        self._init(
            path=path,
            file_format=fmt,
            name=name if name is not None else _stem_name(path),
            timestamp_field=timestamp_field,
            created_timestamp_field=created_timestamp_field,
            schema=schema,
            description=description,
        )

    def to_spec(self) -> dict[str, Any]:
        return {**self._base_spec(), "path": self.path, "file_format": self.file_format}


@dataclass(frozen=True, eq=False, init=False)
class SqlSource(DataSource):
    """Rows from a SQL query on a PostgreSQL database (``postgresql+psycopg://...``).

    The URL may be left out and given at ingestion time (``featurestore ingest --url``), so
    credentials need not live in the registry.
    """

    source_type: ClassVar[str] = "sql"
    query: str = ""
    url: str | None = None

    def __init__(
        self,
        name: str,
        /,
        *,
        query: str,
        url: str | None = None,
        timestamp_field: str = "event_timestamp",
        created_timestamp_field: str | None = None,
        schema: Mapping[str, Any] | None = None,
        description: str = "",
    ) -> None:
        if not isinstance(query, str) or not query.strip():
            raise DefinitionError(f"SqlSource {name!r}: query must be a non-empty SQL string")
        self._init(
            query=query,
            url=url,
            name=name,
            timestamp_field=timestamp_field,
            created_timestamp_field=created_timestamp_field,
            schema=schema,
            description=description,
        )

    def to_spec(self) -> dict[str, Any]:
        return {**self._base_spec(), "query": self.query, "url": self.url}


@dataclass(frozen=True, eq=False)
class PushSource(DataSource):
    """Events pushed over HTTP (``POST /push``) or with ``store.push``; the schema is required.

    ``batch_source`` optionally names where the same events land in bulk (for backfills); as in
    Feast, ``timestamp_field`` and ``created_timestamp_field`` default to the batch source's.
    """

    source_type: ClassVar[str] = "push"
    batch_source: DataSource | None = None

    def _default_timestamps(self) -> tuple[str, str | None]:
        if isinstance(self.batch_source, DataSource):
            return self.batch_source.timestamp_field, self.batch_source.created_timestamp_field
        return super()._default_timestamps()

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.schema is None:
            raise DefinitionError(f"PushSource {self.name!r}: schema is required")
        if self.batch_source is not None and not isinstance(self.batch_source, DataSource):
            raise DefinitionError(
                f"PushSource {self.name!r}: batch_source must be a FileSource or SqlSource"
            )

    def columns(self) -> set[str] | None:
        known = super().columns()
        if known is not None and self.batch_source is not None:
            # the batch source carries the same events; its own timestamp names count too
            inner = self.batch_source.columns()
            if inner is not None:
                known |= inner
        return known

    def to_spec(self) -> dict[str, Any]:
        batch = self.batch_source.to_spec() if self.batch_source is not None else None
        return {**self._base_spec(), "batch_source": batch}


@dataclass(frozen=True, eq=False)
class RequestSource(Definition):
    """Values that arrive with each online request (``request_data``), used by on-demand views."""

    kind: ClassVar[str] = "data_source"

    name: str
    _: KW_ONLY
    schema: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self) -> None:
        check_name("RequestSource", self.name)
        schema = normalise_schema(f"RequestSource {self.name!r}", self.schema)
        if not schema:
            raise DefinitionError(
                f"RequestSource {self.name!r}: schema must name at least one field"
            )
        object.__setattr__(self, "schema", schema)

    def to_spec(self) -> dict[str, Any]:
        return {
            "type": "request",
            "name": self.name,
            "schema": dict(self.schema),
            "description": self.description,
        }
