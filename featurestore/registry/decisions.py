"""The decision log of retraining policies: every evaluation, whether it asked for a retrain or not.

Every function works inside a transaction it is given. A decision is stored as the JSON document
its maker gives (``PolicyDecision.to_dict()``), next to the columns it is looked up by.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from featurestore.errors import RequestError
from featurestore.registry.records import _limit, _when, dump_json
from featurestore.registry.tables import policy_decisions as table
from featurestore.registry.tables import utc

__all__ = ["add_decision", "last_retrain", "list_decisions"]


def last_retrain(conn: Connection, project: str, policy: str, before: datetime) -> datetime | None:
    """When ``policy`` (any version) last decided to retrain, at or before ``before``."""
    value = conn.execute(
        sa.select(sa.func.max(table.c.evaluated_at)).where(
            table.c.project == project,
            table.c.policy == policy,
            table.c.retrain.is_(True),
            table.c.evaluated_at <= utc(before),
        )
    ).scalar_one()
    # max() loses the column type on SQLite, so the value may come back as text or naive.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return None if value is None else utc(value)


def add_decision(conn: Connection, project: str, decision: Mapping[str, Any], now: datetime) -> int:
    """Store one decision: a JSON-ready mapping with ``policy``, ``policy_version``,
    ``evaluated_at`` (ISO 8601) and ``retrain`` besides whatever else it records. Returns its id."""
    try:
        policy, version = decision["policy"], decision["policy_version"]
        evaluated_at = _when(decision["evaluated_at"], "a decision's evaluated_at")
        retrain = decision["retrain"]
    except KeyError as exc:
        raise RequestError(f"a policy decision needs the key {exc.args[0]!r}") from None
    if not isinstance(retrain, bool):
        raise RequestError(f"a policy decision's retrain must be a bool, got {retrain!r}")
    text = dump_json(dict(decision), what=f"the decision of policy {policy!r}", allow_nan=False)
    new_id = conn.execute(
        table.insert()
        .values(
            project=project,
            policy=policy,
            policy_version=version,
            evaluated_at=evaluated_at,
            retrain=retrain,
            decision=text,
            recorded_at=now,
        )
        .returning(table.c.id)
    ).scalar_one()
    return int(new_id)


def list_decisions(
    conn: Connection,
    project: str,
    *,
    policy: str | None,
    retrain: bool | None,
    since: datetime | None,
    until: datetime | None,
    limit: int | None,
) -> list[dict[str, Any]]:
    """Decisions, newest (by ``evaluated_at``, then by insertion) first, as they were stored."""
    query = sa.select(table.c.decision).where(table.c.project == project)
    if policy is not None:
        query = query.where(table.c.policy == policy)
    if retrain is not None:
        query = query.where(table.c.retrain.is_(retrain))
    if since is not None:
        query = query.where(table.c.evaluated_at >= utc(since))
    if until is not None:
        query = query.where(table.c.evaluated_at < utc(until))
    query = _limit(query.order_by(table.c.evaluated_at.desc(), table.c.id.desc()), limit)
    return [json.loads(text) for text in conn.execute(query).scalars()]
