"""The online protocols: ``OnlineStore`` (feature rows) and ``LogBuffer`` (the serving log).

Every method is batch-oriented and columnar: a write takes a Polars frame, a read answers one
list per requested feature. Reads come blocking (``read``) and awaited (``aread``, for a
server's event loop); a store without a native awaited read inherits the default, which reads
blocking. An implementation is small (SQLite, Redis, Redis Cluster), subclasses
:class:`OnlineBackend` (both protocols, with their defaults) and passes the one contract suite
in ``tests/online``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NoReturn, Protocol, TypeVar, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

import polars as pl

from featurestore.errors import StoreUnavailableError

__all__ = [
    "META_COLUMNS",
    "Column",
    "LogBuffer",
    "OnlineBackend",
    "OnlineStore",
    "ReadRequest",
    "ReadResult",
    "redact_url",
    "unavailable",
]

T = TypeVar("T")


class Column(list[T]):
    """A column of an online read or answer: a list that refuses changes.

    Reads and answers share column objects (the features of one view share their event times;
    all-present features one status list), so none may change; it still equals, indexes,
    iterates and serialises as a list. ``list(column)`` gives a copy to change.
    """

    __slots__ = ()

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("an online answer is read-only: copy a column with list(...) to change it")

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse  # type: ignore[assignment]
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (list(self),))


#: Columns of a write frame that are not features.
META_COLUMNS = ("entity_key", "view_version", "event_timestamp", "created_timestamp", "seq")


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """The features of one view for many entities.

    Attributes:
        view: the feature view name (the stored row of a view is keyed by name, not version).
        entity_keys: keys from :func:`featurestore.online.encode_entity_keys`.
        features: the feature names to return, in the order wanted; a
            :class:`~featurestore.online.records.Selection` (made once per request shape by
            serving) also remembers how to decode each stored layout.
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

    The stores' results hold :class:`Column` lists, which serving hands on unchanged.
    """

    found: Sequence[bool]
    event_timestamps: Sequence[datetime | None]
    values: dict[str, Sequence[Any]]
    nulls: bool = True
    view_versions: Sequence[int | None] = field(default_factory=list)


@runtime_checkable
class OnlineStore(Protocol):
    """The latest feature values per entity and view."""

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

    async def aread(self, requests: Sequence[ReadRequest]) -> list[ReadResult]:
        """:meth:`read` for an event loop: a store that can awaits the round trip, so the loop
        answers other requests meanwhile. The default reads blocking, on the loop: a local
        round trip (SQLite) takes less time than handing it to a thread."""
        return self.read(requests)

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

    async def aclose(self) -> None:
        """Close what :meth:`aread` opened on the running loop (a server's shutdown); the
        default has nothing to close."""
        return None


@runtime_checkable
class LogBuffer(Protocol):
    """The bounded buffer of serving-log entries, between serving and the offline log."""

    def log_append(self, entries: Sequence[bytes], *, maxlen: int) -> int:
        """Append serving-log entries to the bounded buffer.

        Args:
            entries: opaque encoded log entries.
            maxlen: the buffer capacity; entries that do not fit are dropped, never blocking.

        Returns:
            How many of ``entries`` were dropped (0 unless the buffer is full).
        """
        ...

    def log_claim(self, max_entries: int, claim: str) -> list[bytes]:
        """Move up to ``max_entries`` of the oldest buffered entries, atomically, into a claim
        named ``claim``, kept in the store until :meth:`log_release`; returns them (none: no
        claim is made).

        A flush claims entries, writes them to a file named after the claim, then releases it:
        a flush killed in between leaves the claim, which the next flush writes again to the
        same file (:meth:`log_claims`), so no entry is lost or written twice."""
        ...

    def log_claims(self) -> list[tuple[str, list[bytes]]]:
        """Every claim not yet released, oldest first, with its entries in order."""
        ...

    def log_release(self, claim: str) -> None:
        """Forget a claim once its entries are safely stored (nothing if it is gone)."""
        ...


@runtime_checkable
class OnlineBackend(OnlineStore, LogBuffer, Protocol):
    """What :func:`~featurestore.online.open_online_store` opens: one server (or file) holding
    the feature rows and the serving-log buffer."""


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
