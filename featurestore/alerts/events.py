"""Which alert events a recorded report or ingestion run raises, with a one-line summary."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Event", "events_for"]

_DIFFERENCES = ("stale", "missing_online", "missing_offline", "mismatch", "outdated")


@dataclass(frozen=True)
class Event:
    """One alert: its name, a sentence for people, and the figures behind it."""

    event: str
    summary: str
    details: dict[str, Any] = field(default_factory=dict)


def _ingestion(run: Mapping[str, Any]) -> list[Event]:
    view, status = run.get("view"), run.get("status")
    details = {
        k: run.get(k) for k in ("run_id", "view", "source", "status", "rows_in", "rows_written")
    } | {"rows_quarantined": run.get("rows_quarantined"), "violations": run.get("violations")}
    if status == "rejected":
        reason = run.get("error") or "contract failures"
        return [
            Event(
                "contract_rejected",
                f"{view}: batch of {run.get('rows_in')} rows rejected ({reason})",
                details,
            )
        ]
    if run.get("rows_quarantined"):
        checks = ", ".join(
            f"{v.get('column') or '<batch>'} {v.get('check')}"
            for v in run.get("violations", [])[:3]
        )
        return [
            Event(
                "quarantined",
                f"{view}: {run['rows_quarantined']} of {run.get('rows_in')} rows quarantined ({checks})",
                details,
            )
        ]
    return []


def _skew(report: Mapping[str, Any]) -> list[Event]:
    totals = {c: sum(f.get(c, 0) for f in report.get("features", [])) for c in _DIFFERENCES}
    found = {c: n for c, n in totals.items() if n}
    if not found:
        return []
    worst = sorted(
        (f for f in report["features"] if any(f.get(c) for c in found)),
        key=lambda f: -sum(f.get(c, 0) for c in found),
    )[:5]
    summary = "skew: " + ", ".join(f"{n} {c}" for c, n in found.items())
    details = {
        "checked_at": report.get("checked_at"),
        "samples": report.get("samples"),
        "totals": found,
        "features": [
            {"view": f["view"], "feature": f["feature"], **{c: f.get(c, 0) for c in found}}
            for f in worst
        ],
    }
    return [Event("skew", f"{summary} in {report.get('samples')} sampled rows", details)]


def _drift(report: Mapping[str, Any]) -> list[Event]:
    drifted = [f for f in report.get("features", []) if f.get("drifted")]
    if not drifted:
        return []
    names = ", ".join(f["feature"] for f in drifted)
    details = {
        "reference": report.get("reference"),
        "current": report.get("current"),
        "features": [
            {"feature": f["feature"], "flags": f.get("flags"), "psi": f.get("psi")} for f in drifted
        ],
    }
    summary = f"drift: {len(drifted)} of {len(report['features'])} features against {report.get('reference')} ({names})"
    return [Event("drift", summary, details)]


def _performance(report: Mapping[str, Any]) -> list[Event]:
    alarms = report.get("alarms") or []
    if not alarms:
        return []
    fired = ", ".join(f"{a['detector']} at {a.get('timestamp')}" for a in alarms[:5])
    return [
        Event(
            "detector",
            f"concept drift: {fired}",
            {"alarms": alarms, "window": report.get("window")},
        )
    ]


def _policy_decision(decision: Mapping[str, Any]) -> list[Event]:
    if not decision.get("retrain"):
        return []  # a decision not to retrain (or to wait out a cooldown) is no news
    return [Event("retrain", f"{decision.get('policy')}: {decision.get('reason')}", dict(decision))]


def _rollout(record: Mapping[str, Any]) -> list[Event]:
    action = record.get("action")
    what = {
        "shadow": "in shadow",
        "canary": f"in canary for {record.get('fraction', 0):.0%} of entities",
        "promoted": "promoted: it is the version in force",
        "aborted": "aborted: the baseline stays",
    }.get(str(action), str(action))
    summary = (
        f"{record.get('view')}: version {record.get('candidate_version')} "
        f"(baseline {record.get('baseline_version')}) {what}"
    )
    return [Event("rollout", summary, dict(record))]


def events_for(kind: str, record: Mapping[str, Any]) -> list[Event]:
    """The events a registry record raises (none for a clean one).

    Args:
        kind: ``"ingestion"``, ``"skew"``, ``"drift"``, ``"performance"`` or
            ``"policy_decision"`` or ``"rollout"`` (each step of a rollout).
        record: the ``to_dict()`` of the report or ingestion run.
    """
    handlers = {
        "ingestion": _ingestion,
        "skew": _skew,
        "drift": _drift,
        "performance": _performance,
        "policy_decision": _policy_decision,
        "rollout": _rollout,
    }
    handler = handlers.get(kind)
    return handler(record) if handler else []
