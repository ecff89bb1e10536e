"""Rich renderings of plans and reports for the terminal (JSON output uses ``to_dict()`` instead)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from featurestore.reports import IngestReport, iso

__all__ = ["contract_table", "drift_table", "plan_table", "skew_table"]

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


_CLASS_STYLE = {
    "match": "green",
    "stale": "yellow",
    "missing_online": "yellow",
    "missing_offline": "red",
    "mismatch": "bold red",
    "outdated": "yellow",
}


def skew_table(report: dict[str, Any]) -> Table:
    """A skew report (its ``to_dict()``): one row per feature, one column per class."""
    features = report.get("features", [])
    classes = [c for c in _CLASS_STYLE if any(c in f for f in features)] or ["match"]
    table = Table(
        title=f"skew check at {report.get('checked_at')}: {report.get('samples')} sampled rows",
        title_justify="left",
    )
    table.add_column("view:feature")
    table.add_column("total", justify="right")
    for cls in classes:
        table.add_column(cls, justify="right")
    table.add_column("max |diff|", justify="right")
    for f in features:
        cells = [
            Text(str(f[c]), style=_CLASS_STYLE[c] if f[c] and c != "match" else "") for c in classes
        ]
        table.add_row(
            f"{f['view']}:{f['feature']}", str(f["total"]), *cells, _num(f["max_abs_diff"])
        )
    return table


def drift_table(report: dict[str, Any]) -> Table:
    """A drift report (its ``to_dict()``): one row per feature, flagged statistics in red."""
    features = report.get("features", [])
    table = Table(
        title=f"drift: {report.get('reference')} -> {report.get('current')}", title_justify="left"
    )
    for column in ("feature", "kind", "n ref", "n cur", "null ref", "null cur"):
        table.add_column(column, justify="left" if column in ("feature", "kind") else "right")
    for column in ("psi", "js", "ks p", "wasserstein", "chi2 p", "flags"):
        table.add_column(column, justify="left" if column == "flags" else "right")
    for f in features:
        flags = f.get("flags") or []
        if f.get("insufficient_data"):
            verdict = Text("insufficient data", style="dim")
        elif flags:
            verdict = Text(", ".join(flags), style="bold red")
        else:
            verdict = Text(
                "warn: " + ", ".join(f["warnings"]) if f.get("warnings") else "", style="yellow"
            )

        def stat(key: str, flag: str, f: dict[str, Any] = f, flags: list[str] = flags) -> Text:
            return Text(_num(f.get(key)), style="red" if flag in flags else "")

        table.add_row(
            f["feature"],
            f["kind"],
            str(f["n_reference"]),
            str(f["n_current"]),
            _num(f["null_rate_reference"]),
            _num(f["null_rate_current"]),
            stat("psi", "psi"),
            stat("js", "js"),
            stat("ks_pvalue", "ks"),
            _num(f.get("wasserstein")),
            stat("chi2_pvalue", "chi2"),
            verdict,
        )
    drifted = sum(1 for f in features if f.get("drifted"))
    table.caption = f"{drifted} of {len(features)} features drifted"
    return table
