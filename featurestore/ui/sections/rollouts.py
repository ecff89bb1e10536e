"""The rollouts page: every rollout of a view version (its steps and status) and the latest
recorded comparison of a rollout's arms (``featurestore rollout report``): value differences,
drift between the arms, performance and prediction diversity per arm (DESIGN.md §15)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from featurestore.ui import charts
from featurestore.ui.pages import Page, Params, register_page

if TYPE_CHECKING:
    from featurestore.store import FeatureStore

__all__ = ["build", "from_records"]

MAX_REPORTS = 200


def from_records(rollouts: list[dict[str, Any]], reports: list[dict[str, Any]]) -> dict[str, Any]:
    """The page's data from rollout records and recorded rollout reports (both newest first):
    the latest report of the newest rollout that has one."""
    latest = next((r for ro in rollouts for r in reports if r["rollout"]["id"] == ro["id"]), None)
    figures = []
    if latest is not None:
        values = latest["values"]
        if values:
            figures.append(
                charts.class_bars(
                    "candidate vs served values (shadow)",
                    [f"{v['view']}:{v['feature']}" for v in values],
                    {
                        "match": [v["match"] for v in values],
                        "mismatch": [v["mismatch"] for v in values],
                    },
                )
            )
        arms = latest["arms"]
        if arms:
            names = [a["arm"] for a in arms]
            figures.append(
                charts.bars(
                    "distinct predictions per arm",
                    names,
                    [a["distinct_predictions"] for a in arms],
                    "distinct",
                )
            )
            figures.append(
                charts.bars(
                    "outcome rate per arm", names, [a["outcome_rate"] for a in arms], "outcome"
                )
            )
    return {"rollouts": rollouts, "latest": latest, "figures": figures}


def build(store: FeatureStore, params: Params) -> dict[str, Any]:
    view = params.get("view") or None
    rollouts = [r.to_dict() for r in store.rollouts(view)]
    reports = store.registry.reports("rollout", limit=MAX_REPORTS)
    return {"view": view, **from_records(rollouts, reports)}


register_page(Page("rollouts", "Rollouts", "pages/rollouts.html", build, order=70))
