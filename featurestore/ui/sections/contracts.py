"""The contracts page: ingestion runs over time, failures per check, quarantined rows with
their reasons."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from featurestore.ui import charts
from featurestore.ui.pages import Page, Params, register_page

if TYPE_CHECKING:
    from featurestore.store import FeatureStore

__all__ = ["build", "failures_per_check", "quarantine_rows"]

MAX_RUNS = 100
MAX_ROWS = 200


def failures_per_check(runs: list[dict[str, Any]]) -> dict[str, int]:
    """``"column: check"`` -> failures, summed over ``runs`` (IngestReport dicts)."""
    totals: dict[str, int] = {}
    for run in runs:
        for v in run.get("violations", []):
            key = f"{v.get('column') or '<batch>'}: {v['check']}"
            totals[key] = totals.get(key, 0) + int(v.get("failures", 0))
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


def quarantine_rows(
    store: FeatureStore, view: str, run_id: str | None
) -> tuple[list[str], list[dict[str, Any]], int]:
    """The quarantined rows of ``view`` to show: their data columns, rows (first ``MAX_ROWS``,
    each with ``reasons`` as text) and how many there are."""
    frame = store.quarantined(view, run_id=run_id)
    columns = [c for c in frame.columns if not c.startswith("__")]
    rows = []
    for record in frame.head(MAX_ROWS).to_dicts():
        rows.append(
            {
                "run_id": record.get("__run_id"),
                "row": record.get("__row"),
                "values": [record.get(c) for c in columns],
                "reasons": [
                    f"{r.get('column') or '<batch>'}: {r.get('check')} ({r.get('value')})"
                    for r in record.get("__reasons") or []
                ],
            }
        )
    return columns, rows, frame.height


def build(store: FeatureStore, params: Params) -> dict[str, Any]:
    view = params.get("view") or None
    run_id = params.get("run") or None
    if view is not None:
        store.get_feature_view(view)  # an unknown view is a 404
    runs = [r.to_dict() for r in store.contract_reports(view=view, limit=MAX_RUNS)]
    failures = failures_per_check(runs)
    figures = []
    if runs:
        figures.append(charts.contract_runs(runs))
    if failures:
        figures.append(
            charts.bars("failures per check", list(failures), list(failures.values()), "failures")
        )
    shown = view or next((r["view"] for r in runs if r["rows_quarantined"]), None)
    quarantine: dict[str, Any] | None = None
    if shown is not None:
        columns, rows, total = quarantine_rows(store, shown, run_id)
        quarantine = {
            "view": shown,
            "run": run_id,
            "columns": columns,
            "rows": rows,
            "total": total,
        }
    return {
        "view": view,
        "views": [v.name for v in store.list_feature_views()],
        "runs": runs,
        "failures": failures,
        "figures": figures,
        "quarantine": quarantine,
    }


register_page(Page("contracts", "Contracts", "pages/contracts.html", build, order=10))
