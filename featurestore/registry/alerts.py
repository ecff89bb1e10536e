"""Alert deliveries in the registry: an outbox that webhook workers claim, post and record.

A delivery is ``pending`` until a worker claims it (``sending``, leased until
``claimed_until`` so a worker that died mid-post gives it back), then ``delivered``, or
``pending`` again with a later ``next_attempt_at``, or ``failed`` after its last attempt. Every
attempt is counted with its HTTP status or error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from featurestore.registry.tables import alert_deliveries

__all__ = ["claim", "enqueue", "list_deliveries", "record_attempt"]

_COLUMNS = (
    "id",
    "event",
    "url",
    "status",
    "attempts",
    "last_status",
    "last_error",
    "created_at",
    "next_attempt_at",
    "delivered_at",
)


def enqueue(
    conn: Connection, project: str, rows: Sequence[Mapping[str, Any]], now: datetime
) -> list[int]:
    """Add ``{event, url, payload}`` deliveries, due now; returns their ids."""
    ids = []
    for row in rows:
        result = conn.execute(
            alert_deliveries.insert().values(
                project=project,
                event=row["event"],
                url=row["url"],
                payload=json.dumps(row["payload"], default=str),
                status="pending",
                attempts=0,
                created_at=now,
                next_attempt_at=now,
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        ids.append(int(key[0]))
    return ids


def claim(
    conn: Connection, project: str, now: datetime, lease: timedelta, limit: int, postgres: bool
) -> list[dict[str, Any]]:
    """Take up to ``limit`` due deliveries (and ones whose lease ran out) for this worker."""
    d = alert_deliveries
    due = sa.or_(
        sa.and_(d.c.status == "pending", d.c.next_attempt_at <= now),
        sa.and_(d.c.status == "sending", d.c.claimed_until < now),
    )
    query = (
        sa.select(d.c.id, d.c.event, d.c.url, d.c.payload, d.c.attempts)
        .where(d.c.project == project, due)
        .order_by(d.c.id)
        .limit(limit)
    )
    if postgres:
        query = query.with_for_update(skip_locked=True)
    rows = conn.execute(query).all()
    if rows:
        conn.execute(
            d.update()
            .where(d.c.id.in_([r.id for r in rows]))
            .values(status="sending", claimed_until=now + lease)
        )
    return [
        {
            "id": int(r.id),
            "event": r.event,
            "url": r.url,
            "payload": json.loads(r.payload),
            "attempts": int(r.attempts),
        }
        for r in rows
    ]


def record_attempt(
    conn: Connection,
    project: str,
    delivery: int,
    *,
    now: datetime,
    delivered: bool,
    status_code: int | None,
    error: str | None,
    retry_at: datetime | None,
) -> None:
    """Count one attempt: delivered, due again at ``retry_at``, or failed for good (None)."""
    d = alert_deliveries
    status = "delivered" if delivered else ("pending" if retry_at is not None else "failed")
    conn.execute(
        d.update()
        .where(d.c.project == project, d.c.id == delivery)
        .values(
            status=status,
            attempts=d.c.attempts + 1,
            last_status=status_code,
            last_error=None if error is None else error[:2000],
            next_attempt_at=retry_at or now,
            claimed_until=None,
            delivered_at=now if delivered else None,
        )
    )


def list_deliveries(
    conn: Connection, project: str, status: str | None, limit: int | None
) -> list[dict[str, Any]]:
    """Deliveries, newest first, with their payload."""
    d = alert_deliveries
    query = sa.select(*(getattr(d.c, c) for c in _COLUMNS), d.c.payload).where(
        d.c.project == project
    )
    if status is not None:
        query = query.where(d.c.status == status)
    query = query.order_by(d.c.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return [
        {**{c: getattr(r, c) for c in _COLUMNS}, "payload": json.loads(r.payload)}
        for r in conn.execute(query)
    ]
