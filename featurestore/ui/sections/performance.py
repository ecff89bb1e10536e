"""The performance page: metrics per window over time with detector alarms marked, and label
and prediction proportions per window, computed from the recorded feedback (nothing recorded)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from featurestore.ui import charts
from featurestore.ui.pages import Page, Params, register_page

if TYPE_CHECKING:
    from featurestore.store import FeatureStore

__all__ = ["build", "from_report"]

DEFAULT_WINDOW = "1h"


def from_report(report: dict[str, Any] | None) -> dict[str, Any]:
    """The page's data from a ``PerformanceReport.to_dict()`` (None: no feedback yet)."""
    if report is None:
        return {"report": None, "figures": []}
    windows = report["windows"]
    figures = [charts.performance_lines(windows, report["alarms"])]
    for key, title in (
        ("label_distribution", "labels per window"),
        ("prediction_distribution", "predictions per window"),
    ):
        figure = charts.proportions_over_time(title, windows, key)
        if figure is not None:
            figures.append(figure)
    return {"report": report, "figures": figures}


def build(store: FeatureStore, params: Params) -> dict[str, Any]:
    from featurestore.monitoring import parse_window
    from featurestore.parity import performance_report

    window = params.get("window") or DEFAULT_WINDOW
    width = parse_window(window)
    feedback = store.feedback_frame()
    report = performance_report(feedback, window=width) if feedback.height else None
    return {"window": window, **from_report(report.to_dict() if report else None)}


register_page(Page("performance", "Performance", "pages/performance.html", build, order=40))
