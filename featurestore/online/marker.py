"""The online store's marker: a record written with each materialization, so that a later run
can tell whether the store still holds what earlier runs wrote.

A Redis restarted without persistence, a ``FLUSHDB`` or a deleted SQLite file loses every row
but leaves the registry's watermarks in place; an incremental run would then rewrite only the
entities that changed since the watermark and leave the rest ``NOT_FOUND``. The marker is lost
with the rows, so its absence (after a recorded materialization) says the store must be reloaded
in full.

The marker is an ordinary online record (``@marker`` of the reserved entity ``@store``), written
and read through :class:`~featurestore.online.OnlineStore`, so every store keeps it with no code
of its own; ``@`` cannot occur in a view or entity name, so it never meets a feature row.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from featurestore.online.base import OnlineStore, ReadRequest
from featurestore.online.keys import encode_entity_keys

__all__ = ["MARKER_RECORD", "has_marker", "write_marker"]

#: the record name of the marker (never a view name: ``@`` is not allowed in one)
MARKER_RECORD = "@marker"
_ENTITY = "@store"


def _key(project: str) -> str:
    return encode_entity_keys(project, _ENTITY, {"store": ["online"]})[0]


def has_marker(online: OnlineStore, *, project: str) -> bool:
    """Whether the project's marker is in ``online`` (False after the store lost its data).

    Raises:
        StoreUnavailableError: the store does not answer.
    """
    result = online.read([ReadRequest(MARKER_RECORD, [_key(project)], ["written_at"])])[0]
    return bool(result.found[0])


def write_marker(online: OnlineStore, *, project: str, at: dt.datetime | None = None) -> None:
    """Write (or refresh) the project's marker, stamped ``at`` (default: now)."""
    now = at or dt.datetime.now(dt.UTC)
    online.write(
        MARKER_RECORD,
        pl.DataFrame(
            {
                "entity_key": [_key(project)],
                "event_timestamp": [now],
                "created_timestamp": [now],
                "seq": [0],
                "written_at": [now.isoformat()],
            },
            schema_overrides={
                "event_timestamp": pl.Datetime("us", "UTC"),
                "created_timestamp": pl.Datetime("us", "UTC"),
            },
        ),
    )
