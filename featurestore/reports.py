"""Frozen report values shared by the Python API, the CLI and the HTTP server.

Each has ``to_dict()`` (JSON-ready, the exact shape DESIGN.md §12 fixes) and a readable ``__str__``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["IngestReport", "MaterializeReport", "html_repr", "iso"]


def iso(value: dt.datetime | None) -> str | None:
    """ISO 8601 UTC with microseconds and ``Z`` (the one timestamp format of every report and answer)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    # isoformat, not strftime: %Y does not pad years before 1000 ("1-01-01"), which no ISO 8601
    # reader takes back.
    text = value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
    return text + "Z"


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """``value`` with naive times taken as UTC (the convention of every API input)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


def parse_iso(value: str | dt.datetime | None) -> dt.datetime | None:
    """An ISO 8601 string (``Z`` allowed; naive is UTC) as a datetime.

    Raises:
        ValueError: not ISO 8601.
    """
    if value is None or isinstance(value, dt.datetime):
        return as_utc(value)
    return as_utc(dt.datetime.fromisoformat(value.replace("Z", "+00:00")))


def html_repr(kind: str) -> Callable[[Any], str]:
    """A ``_repr_html_`` for a report value with ``to_dict()``: the web UI's table of it, so a
    notebook shows a report the way ``/ui`` and ``featurestore report --html`` do.

    Args:
        kind: ``"ingest"``, ``"skew"``, ``"drift"`` or ``"performance"``.
    """

    def _repr_html_(self: Any) -> str:
        from featurestore.ui.export import report_html

        return report_html(kind, self.to_dict())

    return _repr_html_


@dataclass(frozen=True)
class IngestReport:
    """What one ingestion run (batch or push) did.

    ``rows_in == rows_written + rows_quarantined`` for every run that was validated (statuses
    ``ok``, ``quarantined``, ``warned``, ``rejected``). A ``duplicate`` run wrote nothing because
    ``duplicate_of`` committed the same rows; a ``failed`` run stopped before it committed.
    """

    run_id: str
    view: str
    source: str
    status: str  # "ok" | "quarantined" | "rejected" | "warned" | "duplicate" | "failed"
    started_at: dt.datetime
    rows_in: int
    rows_written: int
    rows_quarantined: int
    violations: list[dict[str, Any]] = field(default_factory=list)
    health: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str | None = None
    duplicate_of: str | None = None  # the run that committed the same rows (status "duplicate")

    _repr_html_ = html_repr("ingest")

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "view": self.view,
            "source": self.source,
            "status": self.status,
            "started_at": iso(self.started_at),
            "rows_in": self.rows_in,
            "rows_written": self.rows_written,
            "rows_quarantined": self.rows_quarantined,
            "violations": self.violations,
            "health": self.health,
            "error": self.error,
            "duplicate_of": self.duplicate_of,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IngestReport:
        started = parse_iso(data["started_at"])
        assert started is not None
        return cls(
            run_id=data["run_id"],
            view=data["view"],
            source=data["source"],
            status=data["status"],
            started_at=started,
            rows_in=data["rows_in"],
            rows_written=data["rows_written"],
            rows_quarantined=data["rows_quarantined"],
            violations=data.get("violations", []),
            health=data.get("health", {}),
            error=data.get("error"),
            duplicate_of=data.get("duplicate_of"),
        )

    def __str__(self) -> str:
        lines = [
            f"{self.view} <- {self.source}: {self.status} "
            f"({self.rows_in} in, {self.rows_written} written, {self.rows_quarantined} quarantined)"
        ]
        if self.error:
            lines.append(f"  error: {self.error}")
        for v in self.violations:
            examples = ", ".join(repr(x) for x in v.get("examples", [])[:3])
            lines.append(
                f"  {v.get('column') or '<frame>'}: {v['check']} failed {v['failures']}x (e.g. {examples})"
            )
        return "\n".join(lines)


@dataclass(frozen=True)
class MaterializeReport:
    """What one materialization did: rows written per view and the new watermark."""

    views: dict[str, int]
    rows: int
    watermark: dt.datetime
    start: dt.datetime | None = None
    #: why every view was reloaded in full (the online store lost its data), or None
    reloaded: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "views": dict(self.views),
            "rows": self.rows,
            "start": iso(self.start),
            "watermark": iso(self.watermark),
            "reloaded": self.reloaded,
        }

    def __str__(self) -> str:
        per_view = ", ".join(f"{v}: {n}" for v, n in self.views.items()) or "no views"
        line = f"materialized {self.rows} rows up to {iso(self.watermark)} ({per_view})"
        return line if self.reloaded is None else f"{self.reloaded}\n{line}"
