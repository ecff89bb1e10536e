"""Ground truth fed back for served requests: predictions and labels keyed by request id."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from featurestore.errors import ConflictError, RequestError
from featurestore.limits import check_time, check_values, quote
from featurestore.registry.records import dump_json
from featurestore.registry.tables import feedback as table
from featurestore.registry.tables import utc

__all__ = [
    "CONTROL",
    "GROUP_MAX",
    "add_feedback",
    "check_group",
    "first_prediction_at",
    "list_feedback",
]

_KEYS = frozenset({"request_id", "prediction", "label", "timestamp", "group"})
#: the group of traffic served without the model (feedback-loop reports compare it to the rest)
CONTROL = "control"
GROUP_MAX = 64
# Well under SQLite's bound-parameter limit, so the duplicate check never overflows it.
_CHUNK = 500


def _row(raw: Any, project: str, now: datetime, latest: datetime | None) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise RequestError(f"a feedback row must be a dict, got {raw!r}")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise RequestError(
            f"feedback has unknown field(s) {', '.join(map(repr, unknown))}; "
            f"allowed: {', '.join(sorted(_KEYS))}"
        )
    request_id = raw.get("request_id")
    if not isinstance(request_id, str) or not request_id.strip():
        raise RequestError(f"feedback needs a non-empty string request_id, got {quote(request_id)}")
    prediction, label = raw.get("prediction"), raw.get("label")
    if prediction is None and label is None:
        raise RequestError(
            f"feedback for request {quote(request_id)} has neither prediction nor label"
        )
    return {
        "project": project,
        "request_id": request_id,
        "prediction": _value(prediction, "prediction", request_id),
        "label": _value(label, "label", request_id),
        "timestamp": _timestamp(raw.get("timestamp"), request_id, now, latest),
        "received_at": now,
        "group_name": check_group(raw.get("group"), request_id),
    }


def check_group(value: Any, request_id: str) -> str | None:
    """A feedback group: None, or a printable string of 1 to 64 characters (e.g. "control").

    Raises:
        RequestError: anything else.
    """
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or not value.strip()
        or len(value) > GROUP_MAX
        or not value.isprintable()
    ):
        shown = repr(value)[:100]
        raise RequestError(
            f"the group of request {quote(request_id)} must be a printable string of 1 to "
            f"{GROUP_MAX} characters (e.g. {CONTROL!r}), got {shown}"
        )
    return value


def _value(value: Any, field: str, request_id: str) -> str | None:
    if value is None:
        return None
    check_values(value, f"the {field} of request {quote(request_id)}")
    return dump_json(value, what=f"the {field} of request {quote(request_id)}", allow_nan=False)


def _timestamp(value: Any, request_id: str, now: datetime, latest: datetime | None) -> datetime:
    if value is None:
        return now
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise RequestError(
                f"the timestamp {quote(value)} of request {quote(request_id)} is not ISO 8601"
            ) from None
    if not isinstance(value, datetime):
        raise RequestError(f"the timestamp of request {quote(request_id)} must be a datetime")
    stamp = utc(value)
    check_time(stamp, f"the timestamp of request {quote(request_id)}", latest=latest)
    return stamp


def _duplicates(values: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    twice: list[str] = []
    for value in values:
        if value in seen and value not in twice:
            twice.append(value)
        seen.add(value)
    return twice


def _named(ids: Sequence[str]) -> str:
    shown = ", ".join(repr(i) for i in ids[:5])
    return shown + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")


def add_feedback(
    conn: Connection,
    project: str,
    rows: Sequence[Any],
    now: datetime,
    latest: datetime | None = None,
) -> int:
    """Store feedback rows, all or none.

    A request's prediction and label may arrive in two calls (the prediction when it is made,
    the label when the outcome is known): a later row fills the field the stored row lacks. A
    field that is already stored is never overwritten. A ``timestamp`` may be a datetime or an
    ISO 8601 string; a missing one means now, one later than ``latest`` is refused (reports
    could not window it); a completed row keeps its first timestamp. The
    optional ``group`` may come with either call; once stored it cannot change.

    Returns:
        The number of rows stored or completed.

    Raises:
        RequestError: a row is malformed (unknown field, no request_id, neither prediction nor
            label, a value JSON cannot hold).
        ConflictError: a request id appears twice in ``rows``, a row repeats a prediction or
            label already stored for its request, or names another group than the stored one.
    """
    if isinstance(rows, Mapping) or not isinstance(rows, Sequence):
        raise RequestError("feedback must be a list of dicts")
    values = [_row(raw, project, now, latest) for raw in rows]
    ids = [v["request_id"] for v in values]
    twice = _duplicates(ids)
    if twice:
        raise ConflictError(f"feedback repeats request id {_named(twice)}; nothing was stored")
    stored: dict[str, tuple[int, bool, bool, str | None]] = {}
    columns = (
        table.c.id,
        table.c.request_id,
        table.c.prediction,
        table.c.label,
        table.c.group_name,
    )
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for row in conn.execute(
            sa.select(*columns).where(table.c.project == project, table.c.request_id.in_(chunk))
        ):
            stored[row.request_id] = (
                row.id,
                row.prediction is not None,
                row.label is not None,
                row.group_name,
            )
    repeated = sorted(
        v["request_id"]
        for v in values
        if v["request_id"] in stored
        and (
            (v["prediction"] is not None and stored[v["request_id"]][1])
            or (v["label"] is not None and stored[v["request_id"]][2])
        )
    )
    if repeated:
        raise ConflictError(
            f"feedback for request id {_named(repeated)} is already stored; nothing was stored"
        )
    regrouped = sorted(
        v["request_id"]
        for v in values
        if v["request_id"] in stored
        and v["group_name"] is not None
        and stored[v["request_id"]][3] not in (None, v["group_name"])
    )
    if regrouped:
        first = stored[regrouped[0]][3]
        raise ConflictError(
            f"request id {_named(regrouped)} is already in group {first!r}; a request's group "
            "cannot change; nothing was stored"
        )
    fresh = [v for v in values if v["request_id"] not in stored]
    if fresh:
        conn.execute(table.insert(), fresh)
    for v in values:
        if v["request_id"] in stored:
            update = {f: v[f] for f in ("prediction", "label", "group_name") if v[f] is not None}
            conn.execute(
                table.update().where(table.c.id == stored[v["request_id"]][0]).values(**update)
            )
    return len(values)


def list_feedback(
    conn: Connection, project: str, since: datetime | None, until: datetime | None
) -> list[dict[str, Any]]:
    """Feedback with ``since <= timestamp < until``, oldest first.

    Each row is ``{request_id, prediction, label, timestamp, group}``; prediction and label keep
    the type they were given with (or None), timestamp is timezone-aware UTC, group is None
    unless one was given.
    """
    query = sa.select(
        table.c.request_id, table.c.prediction, table.c.label, table.c.timestamp, table.c.group_name
    ).where(table.c.project == project)
    if since is not None:
        query = query.where(table.c.timestamp >= utc(since))
    if until is not None:
        query = query.where(table.c.timestamp < utc(until))
    return [
        {
            "request_id": r.request_id,
            "prediction": None if r.prediction is None else json.loads(r.prediction),
            "label": None if r.label is None else json.loads(r.label),
            "timestamp": r.timestamp,
            "group": r.group_name,
        }
        for r in conn.execute(query.order_by(table.c.timestamp, table.c.id))
    ]


def first_prediction_at(conn: Connection, project: str, since: datetime) -> datetime | None:
    """The time of the first prediction at or after ``since`` outside the control group."""
    value = conn.execute(
        sa.select(sa.func.min(table.c.timestamp)).where(
            table.c.project == project,
            table.c.timestamp >= utc(since),
            table.c.prediction.is_not(None),
            sa.or_(table.c.group_name.is_(None), table.c.group_name != CONTROL),
        )
    ).scalar_one()
    # min() loses the column type on SQLite, so the value may come back as text or naive.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return None if value is None else utc(value)
