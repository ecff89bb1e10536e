"""The ``OnlineStore`` protocol: the few batch operations serving and materialization need.

Every method is batch-oriented and columnar: a write takes a Polars frame, a read answers one
list per requested feature. An implementation is small (SQLite, Redis, Redis Cluster) and passes
the one contract suite in ``tests/online``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

import polars as pl

from featurestore.errors import StoreUnavailableError

__all__ = [
    "META_COLUMNS",
    "OnlineStore",
    "ReadRequest",
    "ReadResult",
    "redact_url",
    "unavailable",
]

#: Columns of a write frame that are not features.
META_COLUMNS = ("entity_key", "view_version", "event_timestamp", "created_timestamp", "seq")


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """The features of one view for many entities.

    Attributes:
        view: the feature view name (the stored row of a view is keyed by name, not version).
        entity_keys: keys from :func:`featurestore.online.encode_entity_keys`.
        features: the feature names to return, in the order wanted.
    """

    view: str
    entity_keys: Sequence[str]
    features: Sequence[str]


@dataclass(frozen=True, slots=True)
class ReadResult:
    """The columnar answer to one :class:`ReadRequest`, aligned with its ``entity_keys``.

    Attributes:
        found: whether the view has a row for each entity.
        event_timestamps: the event time (UTC) of each found row, None where not found.
        values: per requested feature, one value per entity (None where not found, where the
            stored value is null, or where the stored row predates the feature).
        nulls: False only when no value of a found row is None (True promises nothing); lets
            serving skip looking for nulls feature by feature.
        view_versions: the view version that computed each found row (0 when its writer gave
            none), None where not found.
    """

    found: list[bool]
    event_timestamps: list[datetime | None]
    values: dict[str, list[Any]]
    nulls: bool = True
    view_versions: list[int | None] = field(default_factory=list)


@runtime_checkable
class OnlineStore(Protocol):
    """The latest feature values per entity and view, plus serving's small bookkeeping."""

    url: str

    def write(self, view: str, rows: pl.DataFrame) -> int:
        """Store the newest row per entity of one view.

        Args:
            view: the feature view name.
            rows: columns ``entity_key`` (Utf8), ``view_version`` (Int64, the view version that
                computed the row; absent means 0), ``event_timestamp`` (Datetime, UTC),
                ``created_timestamp`` (Datetime, may be null or absent), ``seq`` (Int64 ingestion
                order), then the feature columns of any dtype.

        Returns:
            How many rows were written. A stored row is replaced only when the new
            ``(view_version, event_timestamp, created_timestamp (null lowest), seq)`` is
            strictly greater, so a row computed by a newer view version replaces an older
            version's whatever their times, an older version's never replaces a newer one's,
            and within one version an older value never overwrites a newer one; each entity is
            updated atomically.

        Raises:
            RequestError: the frame lacks a column or holds a null key, timestamp or seq.
            StoreUnavailableError: the store does not answer.
        """
        ...

    def read(self, requests: Sequence[ReadRequest]) -> list[ReadResult]:
        """Read several views for many entities in one round trip to the server.

        Args:
            requests: what to read; one :class:`ReadResult` comes back per request, in order.

        Returns:
            One columnar result per request. A feature the stored row lacks reads as None with
            ``found=True``.
        """
        ...

    def delete_view(self, view: str) -> int:
        """Delete every stored row of a view in this project.

        Returns:
            How many entity rows were deleted.
        """
        ...

    def count(self, view: str) -> int:
        """How many entities have a stored row of ``view`` in this project.

        Meant for overviews, not for serving: on Redis it scans the project's keys.
        """
        ...

    def ping(self) -> None:
        """Check that the store answers.

        Raises:
            StoreUnavailableError: the store does not answer.
        """
        ...

    def close(self) -> None:
        """Release connections; the store must not be used afterwards."""
        ...

    def log_append(self, entries: Sequence[bytes], *, maxlen: int) -> int:
        """Append serving-log entries to the bounded buffer.

        Args:
            entries: opaque encoded log entries.
            maxlen: the buffer capacity; entries that do not fit are dropped, never blocking.

        Returns:
            How many of ``entries`` were dropped (0 unless the buffer is full).
        """
        ...

    def log_drain(self, max_entries: int) -> list[bytes]:
        """Remove and return up to ``max_entries`` of the oldest buffered log entries."""
        ...


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***``, fit for error messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def unavailable(url: str, error: BaseException) -> StoreUnavailableError:
    """The error raised when the online store at ``url`` fails to answer."""
    detail = " ".join(str(error).split()) or type(error).__name__
    return StoreUnavailableError(
        f"The online store {redact_url(url)} is unavailable ({detail}); retry when it is back."
    )
