"""The rollout report (DESIGN.md §15): how a candidate view version compares with the baseline.

Inputs are the serving log and feedback of the rollout's time span:

* **Value differences**, from the shadow's rows: the candidate's value beside the value served
  to the same entity in the same request, judged and tallied as the skew check judges a served
  value against its recomputation (:mod:`~featurestore.parity.differences`: exact, floats
  within a relative 1e-9): per feature, ``match``, ``mismatch``, nulls on either side, mean and
  max absolute difference and SMAPE over numeric mismatches, a few examples.
* **Drift between the arms**, per feature (:func:`~featurestore.parity.drift.feature_drift`,
  the baseline arm as the reference): the current arm's values are those served outside the
  canary and the ones served beside a shadow value; the candidate arm's, those served in the
  canary and the shadow's.
* **Performance per arm**, from feedback whose request id carries the rollout's arm (see
  :func:`featurestore.serving.rollouts.arm_code`): rows, outcome rate, metrics and prediction
  diversity per arm (the feedback-loop report's figures over the whole span), and the
  two-proportion z-test of the candidate's outcome rate against the current arm's. Feedback of
  the ``"control"`` group (traffic served without the model) is left out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import polars as pl

from featurestore.online.encoding import unpack_value
from featurestore.parity.differences import Tally, same_value
from featurestore.parity.drift import DriftReport, DriftThresholds, feature_drift
from featurestore.parity.feedback_loops import feedback_loop_report, two_proportion_ztest
from featurestore.parity.loop_report import ZTest
from featurestore.registry.feedback import CONTROL

__all__ = ["ArmPerformance", "RolloutReport", "ValueDifferences", "rollout_report"]

CURRENT, CANDIDATE = "current", "candidate"
_SPAN = dt.timedelta(days=365 * 100)  # one feedback-loop window over any rollout


@dataclass
class ValueDifferences:
    """How the candidate's values of one feature compare with those served beside them."""

    view: str
    feature: str
    total: int = 0
    match: int = 0
    mismatch: int = 0
    both_null: int = 0
    current_null: int = 0
    candidate_null: int = 0
    mean_abs_diff: float | None = None
    max_abs_diff: float | None = None
    smape: float | None = None
    examples: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class ArmPerformance:
    """One arm's feedback over the rollout."""

    arm: str
    n: int
    n_labelled: int
    outcome_rate: float | None
    metrics: dict[str, float | None] | None
    distinct_predictions: int | None
    top_prediction: str | None
    top_share: float | None
    prediction_std: float | None

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class RolloutReport:
    """The comparison of a rollout's arms (``to_dict()`` is what the CLI and HTTP give)."""

    rollout: Mapping[str, Any]
    values: list[ValueDifferences]
    drift: DriftReport
    arms: list[ArmPerformance]
    z_test: ZTest | None
    notes: list[str] = field(default_factory=list)

    def arm(self, name: str) -> ArmPerformance | None:
        """The performance of arm ``name`` (``"current"`` or ``"candidate"``), if it had feedback."""
        return next((a for a in self.arms if a.arm == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rollout": dict(self.rollout),
            "values": [v.to_dict() for v in self.values],
            "drift": self.drift.to_dict(),
            "arms": [a.to_dict() for a in self.arms],
            "z_test": None if self.z_test is None else self.z_test.to_dict(),
            "notes": list(self.notes),
        }

    def __str__(self) -> str:
        r = self.rollout
        lines = [
            f"rollout {r.get('id')} of {r.get('view')}: version {r.get('baseline_version')} -> "
            f"{r.get('candidate_version')}, {r.get('stage')} ({r.get('status')})"
        ]
        for v in self.values:
            lines.append(
                f"  {v.view}:{v.feature}: {v.total} compared, {v.match} match, "
                f"{v.mismatch} mismatch"
            )
        drifted = self.drift.drifted
        lines.append(f"  drift between arms: {', '.join(drifted) if drifted else 'none'}")
        for a in self.arms:
            lines.append(
                f"  arm {a.arm}: {a.n} feedback rows, outcome rate {a.outcome_rate}, "
                f"distinct predictions {a.distinct_predictions}, top share {a.top_share}"
            )
        return "\n".join(lines)


def rollout_report(
    rollout: Mapping[str, Any],
    *,
    shadow: pl.DataFrame,
    served: pl.DataFrame,
    feedback: pl.DataFrame,
    thresholds: DriftThresholds | None = None,
    max_examples: int = 5,
) -> RolloutReport:
    """Compare the arms of ``rollout`` (a ``RolloutRecord.to_dict()``).

    Args:
        shadow: the serving log's shadow rows of the span (``read_serving_log(shadow=True)``).
        served: the served rows of the span (the canary's arms are in its ``arm`` column).
        feedback: ``timestamp``, ``prediction``, ``label``, ``group`` and ``arm``
            (``"current"``, ``"candidate"``; other rows are left out).
        thresholds: where drift flags.
    """
    view = str(rollout["view"])
    shadow = shadow.filter(pl.col("view") == view)
    served = served.filter((pl.col("view") == view) & pl.col("arm").is_in([CURRENT, CANDIDATE]))
    notes: list[str] = []
    values = _differences(shadow, max_examples)
    if not values:
        notes.append("no shadow samples: no value differences")
    current: dict[str, list[Any]] = {}
    candidate: dict[str, list[Any]] = {}
    for row in shadow.iter_rows(named=True):
        beside = row["served_value"]
        candidate.setdefault(row["feature"], []).append(unpack_value(row["value"]))
        if beside is not None:
            current.setdefault(row["feature"], []).append(unpack_value(beside))
    for row in served.iter_rows(named=True):
        side = candidate if row["arm"] == CANDIDATE else current
        side.setdefault(row["feature"], []).append(unpack_value(row["value"]))
    chosen = thresholds or DriftThresholds()
    drifts = [
        feature_drift(
            name,
            pl.Series(name, current[name], strict=False),
            pl.Series(name, candidate[name], strict=False),
            chosen,
        )
        for name in current
        if name in candidate
    ]
    drift = DriftReport("current arm", "candidate arm", drifts, chosen)
    arms, z_test = _performance(feedback, notes)
    return RolloutReport(dict(rollout), values, drift, arms, z_test, notes)


def _differences(shadow: pl.DataFrame, limit: int) -> list[ValueDifferences]:
    tallies: dict[tuple[str, str], Tally] = {}
    for row in shadow.filter(pl.col("served_value").is_not_null()).iter_rows(named=True):
        key = (row["view"], row["feature"])
        tally = tallies.setdefault(key, Tally(*key))
        cand, cur = unpack_value(row["value"]), unpack_value(row["served_value"])
        cls = "match" if same_value(cur, cand) else "mismatch"
        tally.add(cls, cur, cand, partial(_example, row, cur, cand), limit)
    return [
        ValueDifferences(
            t.view,
            t.feature,
            total=t.total,
            match=t.counts["match"],
            mismatch=t.counts["mismatch"],
            both_null=t.both_null,
            current_null=t.ours_null,
            candidate_null=t.theirs_null,
            mean_abs_diff=t.mean_abs_diff,
            max_abs_diff=t.max_abs_diff,
            smape=t.smape,
            examples=t.examples,
        )
        for _, t in sorted(tallies.items())
    ]


def _example(row: Mapping[str, Any], current: Any, candidate: Any) -> dict[str, Any]:
    return {
        "keys": unpack_value(row["keys"]),
        "requested_at": row["requested_at"].isoformat(),
        "current": current,
        "candidate": candidate,
    }


def _performance(
    feedback: pl.DataFrame, notes: list[str]
) -> tuple[list[ArmPerformance], ZTest | None]:
    # traffic served without the model (the "control" group) says nothing about either version
    model = pl.col("group").is_null() | (pl.col("group") != CONTROL)
    rows = feedback.filter(pl.col("arm").is_in([CURRENT, CANDIDATE]) & model)
    if rows.height == 0:
        notes.append("no feedback from the canary's arms: no performance per arm")
        return [], None
    arms: list[ArmPerformance] = []
    rates: dict[str, tuple[int, int]] = {}
    for name in (CURRENT, CANDIDATE):
        part = rows.filter(pl.col("arm") == name).with_columns(
            pl.lit(None, pl.String).alias("group")
        )
        if part.height == 0:
            continue
        report = feedback_loop_report(
            part.select("timestamp", "prediction", "label", "group"), window=_SPAN
        )
        windows = report.windows
        group = report.groups[0] if report.groups else None
        arms.append(
            ArmPerformance(
                arm=name,
                n=part.height,
                n_labelled=group.n_labelled if group else 0,
                outcome_rate=group.outcome_rate if group else None,
                metrics=group.metrics if group else None,
                distinct_predictions=_one(windows, "distinct_predictions"),
                top_prediction=_one(windows, "top_prediction"),
                top_share=_one(windows, "top_share"),
                prediction_std=_one(windows, "prediction_std"),
            )
        )
        if group is not None and group.outcome_rate is not None and report.outcome_kind == "binary":
            rates[name] = (round(group.outcome_rate * group.n_labelled), group.n_labelled)
    z_test = None
    if CURRENT in rates and CANDIDATE in rates:
        z_test = two_proportion_ztest(*rates[CURRENT], *rates[CANDIDATE])
    return arms, z_test


def _one(windows: Sequence[Any], name: str) -> Any:
    """A figure of the single window the whole span falls in (None if it straddles two)."""
    return getattr(windows[0], name) if len(windows) == 1 else None
