"""The skew page: classes per view and feature over time (from the recorded skew reports) and a
drill-down to the sampled entities behind a feature's differences.

A recorded report keeps a few examples per feature; the drill-down lists every sampled value
that was not a ``match``, by re-running the skew classification over the serving log up to the
report's ``checked_at`` without recording it; it is computed once per report and kept in
memory.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from featurestore.errors import NotFoundError
from featurestore.reports import parse_iso
from featurestore.ui import charts
from featurestore.ui.pages import Page, Params, register_page

if TYPE_CHECKING:
    from featurestore.store import FeatureStore

__all__ = ["build", "entities", "history_figures"]

MAX_REPORTS = 60
MAX_ENTITIES = 500
_CACHE: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
_LOCK = threading.Lock()


def classes_of(features: list[dict[str, Any]]) -> list[str]:
    """The classes the reports count, in the skew check's order."""
    return [c for c in charts.CLASS_COLORS if any(c in f for f in features)]


def history_figures(history: list[dict[str, Any]], feature: str | None) -> list[dict[str, Any]]:
    """Class counts over time (all features, or ``view:feature``) and per feature (latest)."""
    reports = list(reversed(history))  # oldest first
    if not reports:
        return []
    latest = reports[-1]["report"]
    classes = classes_of(latest["features"])

    def picked(report: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            f
            for f in report["features"]
            if feature is None or f"{f['view']}:{f['feature']}" == feature
        ]

    times = [r["report"]["checked_at"] for r in reports]
    over_time = {
        c: [sum(f.get(c, 0) for f in picked(r["report"])) for r in reports] for c in classes
    }
    which = feature or "every feature"
    names = [f"{f['view']}:{f['feature']}" for f in latest["features"]]
    per_feature = {c: [f.get(c, 0) for f in latest["features"]] for c in classes}
    return [
        charts.class_bars(f"skew classes over time ({which})", times, over_time),
        charts.class_bars("skew classes per feature (latest check)", names, per_feature),
    ]


def entities(store: FeatureStore, checked_at: str) -> list[dict[str, Any]]:
    """Every sampled value the check at ``checked_at`` did not find a ``match``: view, feature,
    class, entity keys, request time, served value and event time, recomputed value."""
    key = (str(store.config.repo_path), store.project, checked_at)
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
    report = store.check_skew(until=parse_iso(checked_at), max_examples=1 << 30, record=False)
    found = [
        {"view": f.view, "feature": f.feature, **example}
        for f in report.features
        for example in f.examples
    ]
    with _LOCK:
        if len(_CACHE) > 16:
            _CACHE.clear()
        _CACHE[key] = found
    return found


def build(store: FeatureStore, params: Params) -> dict[str, Any]:
    feature = params.get("feature") or None
    wanted = params.get("class") or None
    history = store.registry.report_history("skew", MAX_REPORTS)
    latest = history[0]["report"] if history else None
    if feature is not None and latest is not None:
        names = {f"{f['view']}:{f['feature']}" for f in latest["features"]}
        if feature not in names:
            raise NotFoundError(f"the latest skew report has no feature {feature!r}")
    drill: dict[str, Any] | None = None
    if latest is not None and (feature is not None or params.get("entities")):
        rows = [
            e
            for e in entities(store, latest["checked_at"])
            if (feature is None or f"{e['view']}:{e['feature']}" == feature)
            and (wanted is None or e["class"] == wanted)
        ]
        drill = {
            "feature": feature,
            "class": wanted,
            "total": len(rows),
            "rows": rows[:MAX_ENTITIES],
            "keys": sorted({k for r in rows for k in r["keys"]}),
        }
    return {
        "latest": latest,
        "classes": classes_of(latest["features"]) if latest else [],
        "reports": len(history),
        "feature": feature,
        "figures": history_figures(history, feature),
        "drill": drill,
    }


register_page(Page("skew", "Skew", "pages/skew.html", build, order=20))
