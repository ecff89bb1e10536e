"""The drift page: per feature, the reference and current histograms of the latest drift report
and PSI / Jensen-Shannon / KS over time (every recorded report against the same reference)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from featurestore.reports import iso
from featurestore.ui import charts
from featurestore.ui.pages import Page, Params, register_page

if TYPE_CHECKING:
    from featurestore.store import FeatureStore

__all__ = ["build", "from_history"]

MAX_REPORTS = 100
STATISTICS = (("psi", "PSI"), ("js", "Jensen-Shannon distance"), ("ks_statistic", "KS statistic"))


def from_history(history: list[dict[str, Any]], reference: str | None) -> dict[str, Any]:
    """The page's data from ``Registry.report_history("drift")`` (newest first)."""
    references = list(dict.fromkeys(h["report"]["reference"] for h in history))
    reference = reference or (references[0] if references else None)
    mine = [h for h in reversed(history) if h["report"]["reference"] == reference]  # oldest first
    latest = mine[-1]["report"] if mine else None
    figures = []
    if latest is not None:
        times = [iso(h["recorded_at"]) for h in mine]
        for key, label in STATISTICS:
            series = {}
            for f in latest["features"]:
                values = [
                    next(
                        (
                            g.get(key)
                            for g in h["report"]["features"]
                            if g["feature"] == f["feature"]
                        ),
                        None,
                    )
                    for h in mine
                ]
                if any(v is not None for v in values):
                    series[f["feature"]] = (times, values)
            if series:
                figures.append(charts.lines_over_time(f"{label} over time", series, label))
    histograms = []
    for f in latest["features"] if latest else []:
        figure = charts.drift_histogram(f)
        if figure is not None:
            histograms.append(figure)
    return {
        "reference": reference,
        "references": references,
        "latest": latest,
        "recorded_at": iso(mine[-1]["recorded_at"]) if mine else None,
        "reports": len(mine),
        "figures": figures,
        "histograms": histograms,
    }


def build(store: FeatureStore, params: Params) -> dict[str, Any]:
    history = store.registry.report_history("drift", MAX_REPORTS)
    return from_history(history, params.get("reference") or None)


register_page(Page("drift", "Drift", "pages/drift.html", build, order=30))
