"""The policies page: the retraining policies' decision log (DESIGN.md §15): every evaluation,
what fired and why, and each policy's decisions to retrain over time."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from featurestore.ui import charts
from featurestore.ui.pages import Page, Params, register_page

if TYPE_CHECKING:
    from featurestore.store import FeatureStore

__all__ = ["build", "from_decisions"]

MAX_DECISIONS = 200


def from_decisions(decisions: list[dict[str, Any]]) -> dict[str, Any]:
    """The page's data from decisions (``PolicyDecision.to_dict()``, newest first)."""
    figures = []
    if decisions:
        series: dict[str, tuple[list[Any], list[float | None]]] = {}
        for d in reversed(decisions):  # oldest first
            times, values = series.setdefault(d["policy"], ([], []))
            times.append(d["evaluated_at"])
            values.append(1.0 if d["retrain"] else 0.0)
        figures.append(
            charts.lines_over_time("decisions to retrain (1) over time", series, "retrain")
        )
    return {
        "decisions": decisions,
        "retrains": sum(1 for d in decisions if d["retrain"]),
        "figures": figures,
    }


def build(store: FeatureStore, params: Params) -> dict[str, Any]:
    policy = params.get("policy") or None
    found = store.policy_decisions(policy, limit=MAX_DECISIONS)
    names = sorted({d.policy for d in store.policy_decisions(limit=MAX_DECISIONS)})
    return {"policy": policy, "policies": names, **from_decisions([d.to_dict() for d in found])}


register_page(Page("policies", "Policies", "pages/policies.html", build, order=60))
