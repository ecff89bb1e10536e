"""The overview page: views with versions, watermarks, freshness and online row counts;
services and saved datasets."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from featurestore.catalog import list_datasets, list_services, list_views, online_rows
from featurestore.ui import charts
from featurestore.ui.pages import Page, Params, register_page

if TYPE_CHECKING:
    from featurestore.store import FeatureStore

__all__ = ["build"]


def build(store: FeatureStore, params: Params) -> dict[str, Any]:
    views = list_views(store)
    stored = [v["name"] for v in views if v["kind"] == "feature_view" and v.get("online")]
    counts = online_rows(store, stored)
    for view in views:
        view["online_rows"] = counts.get(view["name"])
    figures = []
    if stored:
        figures.append(
            charts.bars("online rows per view", stored, [counts[v] for v in stored], "rows")
        )
        hours = [
            None if v.get("freshness_seconds") is None else v["freshness_seconds"] / 3600
            for v in views
            if v["name"] in stored
        ]
        figures.append(charts.bars("hours since the last materialization", stored, hours, "hours"))
    return {
        "project": store.project,
        "views": views,
        "services": list_services(store),
        "datasets": list_datasets(store),
        "figures": figures,
    }


register_page(Page("", "Overview", "pages/overview.html", build, order=0))
