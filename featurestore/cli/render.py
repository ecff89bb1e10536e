"""Rich renderings of plans and reports for the terminal (JSON output uses ``to_dict()`` instead)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from featurestore.reports import IngestReport, iso

__all__ = ["contract_table", "plan_table"]

_STYLE = {"add": "green", "change": "yellow", "remove": "red", "unchanged": "dim"}
_STATUS = {
    "ok": "green",
    "quarantined": "yellow",
    "warned": "yellow",
    "rejected": "red",
    "failed": "red",
}


def plan_table(plan: Any, dry_run: bool) -> Table:
    title = "plan (dry run: nothing applied)" if dry_run else "applied"
    table = Table(title=title, title_justify="left")
    for column in ("action", "kind", "name", "version"):
        table.add_column(column)
    for item in plan.items:
        old, new = item.old_version, item.new_version
        version = f"{old} -> {new}" if old and new and old != new else str(new or old or "")
        style = _STYLE.get(item.action, "")
        table.add_row(Text(item.action, style=style), item.kind, item.name, version)
    counts = {a: sum(1 for i in plan.items if i.action == a) for a in _STYLE}
    table.caption = ", ".join(f"{n} {a}" for a, n in counts.items())
    for note in plan.notes:
        table.caption += f"\n{note}"
    return table


def _num(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def contract_table(reports: Sequence[IngestReport]) -> Group:
    runs = Table(title="ingestion runs (newest first)", title_justify="left")
    for column in ("started", "view", "source", "status", "in", "written", "quarantined"):
        runs.add_column(
            column, justify="right" if column in ("in", "written", "quarantined") else "left"
        )
    checks = Table(title="contract violations", title_justify="left")
    for column in ("run", "view", "column", "check", "failures", "examples"):
        checks.add_column(column)
    health = Table(title="data health (latest run per view)", title_justify="left")
    for column in ("view", "column", "null rate", "min", "max", "mean"):
        health.add_column(column)
    seen: set[str] = set()
    for r in reports:
        runs.add_row(
            iso(r.started_at) or "",
            r.view,
            r.source[-40:],
            Text(r.status, style=_STATUS.get(r.status, "")),
            str(r.rows_in),
            str(r.rows_written),
            str(r.rows_quarantined),
        )
        for v in r.violations:
            examples = ", ".join(repr(x) for x in v.get("examples", [])[:3])
            checks.add_row(
                r.run_id[:8], r.view, str(v.get("column")), v["check"], str(v["failures"]), examples
            )
        if r.view not in seen:
            seen.add(r.view)
            for column, figures in r.health.items():
                health.add_row(
                    r.view,
                    column,
                    _num(figures.get("null_rate")),
                    _num(figures.get("min")),
                    _num(figures.get("max")),
                    _num(figures.get("mean")),
                )
    parts: list[Any] = [runs]
    if checks.row_count:
        parts.append(checks)
    if health.row_count:
        parts.append(health)
    return Group(*parts)
