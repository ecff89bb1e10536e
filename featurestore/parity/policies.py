"""Evaluating a retraining policy (DESIGN.md §15): four triggers, a cooldown, one decision.

A :class:`~featurestore.definitions.RetrainPolicy` is evaluated at a time ``now``; its data comes
through a :class:`PolicyData` (the store's serving log, feedback and saved datasets, or frames in a
test). The rules:

* **Window.** Performance, drift and prediction drift read the last ``window`` before ``now``:
  feedback with ``now - window <= timestamp < now`` and values served in that span. Feedback of
  the ``"control"`` group (traffic served without the model) is left out: it says nothing about
  the model.
* **Age** fires when ``now - since >= max_age``. ``since`` is the later of the reference dataset's
  save time and the last decision of this policy (any version) to retrain. Why both: re-saving the
  reference (``save_as`` the same name) is what a retrain looks like to the store, so it restarts
  the clock; and a decision to retrain is taken to start one, so the age trigger asks again
  ``max_age`` later rather than at every evaluation after the first ``max_age`` (which the
  cooldown would only space out). If the retrain never happened, performance and drift still
  say so. With neither a saved reference nor an earlier retrain the age is unknown
  (``insufficient_data``).
* **Performance.** Rows with both a prediction and a label; fewer than ``min_labels`` is
  ``insufficient_data``. The metrics are those of :func:`~featurestore.parity.performance_report`
  (one window); accuracy, precision, recall, F1 and ROC AUC fire below their floor, log-loss, MAE
  and RMSE above their ceiling; a metric the feedback cannot give (ROC AUC without scores) is
  reported as None and does not fire.
* **Drift.** The service's features (named as the reference frame names them: ``feature`` or
  ``view__feature``), reference frame against the values served in the window, with the
  statistics of :func:`~featurestore.parity.drift_report`. A feature drifts when any statistic
  the policy names crosses its threshold (``psi``/``js`` above, ``ks_pvalue``/``chi2_pvalue``
  below) and both sides have at least ``min_samples`` values; the trigger fires when at least
  ``min_features`` features drift. No feature with enough values is ``insufficient_data``.
* **Prediction drift.** The window's predictions against a baseline: the reference frame's
  ``prediction`` column when it has one, else the first ``window`` of predictions at or after the
  reference was saved (the model's first days in production). The chi-square p-value is that of
  the performance report (predicted classes, or the baseline's decile bins for a regression);
  both sides need ``min_samples`` predictions, and a window that overlaps the baseline's is
  ``insufficient_data``. It fires when ``p < chi2_pvalue``.
* **Decision.** ``retrain`` is true when a trigger fired, unless the previous decision to retrain
  is less than ``cooldown`` old: then the decision records the triggers that fired, ``retrain``
  false and ``cooldown_until``. A trigger whose data cannot be read (a reference dataset that is
  not saved) is ``error`` and never fires; the others still decide.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import polars as pl

from featurestore.definitions.policies import HIGHER_IS_BETTER, RetrainPolicy
from featurestore.errors import FeatureStoreError, RequestError
from featurestore.parity.decisions import PolicyDecision, TriggerResult, span
from featurestore.parity.drift import DriftThresholds, FeatureDrift, drift_report
from featurestore.parity.performance import window_summary
from featurestore.registry.feedback import CONTROL
from featurestore.reports import iso

__all__ = ["Measured", "PolicyData", "decide", "evaluate_policy", "measure"]


class PolicyData(Protocol):
    """Where a policy's figures come from (the store, or frames in a test)."""

    def reference(self, name: str) -> tuple[pl.DataFrame, dt.datetime]:
        """A saved training frame and when it was saved; NotFoundError if it is not saved."""
        ...

    def served(
        self, columns: Sequence[str], since: dt.datetime, until: dt.datetime
    ) -> pl.DataFrame:
        """Values served with ``since <= requested_at < until``, one column per name in
        ``columns`` that was served (``feature`` or ``view__feature``)."""
        ...

    def feedback(self, since: dt.datetime, until: dt.datetime) -> pl.DataFrame:
        """Feedback with ``since <= timestamp < until``: timestamp, prediction, label, group."""
        ...

    def first_prediction_at(self, since: dt.datetime) -> dt.datetime | None:
        """The first prediction at or after ``since``, outside the control group."""
        ...


@dataclass(frozen=True)
class Measured:
    """The triggers that read data (everything but age), measured once before deciding."""

    now: dt.datetime
    since: dt.datetime  # where the window the triggers read starts
    reference_saved_at: dt.datetime | None
    triggers: list[TriggerResult]


def evaluate_policy(
    policy: RetrainPolicy,
    data: PolicyData,
    *,
    now: dt.datetime,
    features: Sequence[tuple[str, str]],
    version: int = 1,
    last_retrain_at: dt.datetime | None = None,
) -> PolicyDecision:
    """Evaluate ``policy`` at ``now`` (rules in the module docstring).

    Args:
        policy: the policy.
        data: where the figures come from.
        now: the time of the decision (timezone-aware).
        features: the service's features as ``(view, feature)`` pairs.
        version: the policy's registry version (recorded).
        last_retrain_at: the policy's previous decision to retrain, if any.
    """
    measured = measure(policy, data, now=now, features=features)
    return decide(policy, measured, version=version, last_retrain_at=last_retrain_at)


def measure(
    policy: RetrainPolicy,
    data: PolicyData,
    *,
    now: dt.datetime,
    features: Sequence[tuple[str, str]],
) -> Measured:
    """Read the data and judge the performance, drift and prediction-drift triggers."""
    if not isinstance(now, dt.datetime) or now.tzinfo is None:
        raise RequestError(f"now must be a timezone-aware datetime, got {now!r}")
    try:
        since = now - policy.window
    except OverflowError:
        raise RequestError(
            f"now {iso(now)} is too early: policy {policy.name!r} reads the {span(policy.window)} "
            "before it"
        ) from None
    reference: pl.DataFrame | None = None
    saved_at: dt.datetime | None = None
    missing: str | None = None
    try:
        reference, saved_at = data.reference(policy.reference)
    except FeatureStoreError as exc:
        missing = exc.message
    feedback: pl.DataFrame | None = None
    if policy.performance or policy.prediction_drift:
        feedback = _model_rows(data.feedback(since, now))
    triggers: list[TriggerResult] = []
    if policy.performance:
        assert feedback is not None
        triggers.append(_performance(policy, feedback, since, now))
    if policy.drift:
        if reference is None:
            triggers.append(TriggerResult("drift", "error", f"no reference: {missing}"))
        else:
            triggers.append(_drift(policy, reference, data, features, since, now))
    if policy.prediction_drift:
        assert feedback is not None
        if reference is None or saved_at is None:
            triggers.append(TriggerResult("prediction_drift", "error", f"no baseline: {missing}"))
        else:
            baseline = _baseline(policy, reference, saved_at, data, since)
            triggers.append(_prediction_drift(policy, feedback, baseline, since, now))
    return Measured(now, since, saved_at, triggers)


def decide(
    policy: RetrainPolicy,
    measured: Measured,
    *,
    version: int,
    last_retrain_at: dt.datetime | None,
) -> PolicyDecision:
    """Add the age trigger and the cooldown to what was measured, and decide."""
    now = measured.now
    triggers = list(measured.triggers)
    if policy.max_age is not None:
        triggers.insert(0, _age(policy.max_age, now, measured.reference_saved_at, last_retrain_at))
    fired = [t for t in triggers if t.fired]
    cooldown_until = None
    if (
        fired
        and last_retrain_at is not None
        and policy.cooldown
        and now - last_retrain_at < policy.cooldown
    ):
        cooldown_until = _plus(last_retrain_at, policy.cooldown)
    retrain = bool(fired) and cooldown_until is None
    if retrain:
        reason = "retrain: " + "; ".join(t.reason for t in fired)
    elif fired:
        reason = (
            f"no retrain: cooling down until {iso(cooldown_until)} after the retrain decided at "
            f"{iso(last_retrain_at)}; fired: " + "; ".join(t.reason for t in fired)
        )
    else:
        reason = "no retrain: no trigger fired (" + "; ".join(t.reason for t in triggers) + ")"
    return PolicyDecision(
        policy=policy.name,
        policy_version=version,
        service=policy.service_name,
        reference=policy.reference,
        evaluated_at=now,
        window_start=measured.since,
        retrain=retrain,
        reason=reason,
        triggers=triggers,
        reference_saved_at=measured.reference_saved_at,
        last_retrain_at=last_retrain_at,
        cooldown_until=cooldown_until,
    )


def _plus(value: dt.datetime, delta: dt.timedelta) -> dt.datetime:
    """``value + delta``, held at the last datetime there is (a time in year 9999)."""
    try:
        return value + delta
    except OverflowError:
        return dt.datetime.max.replace(tzinfo=dt.UTC)


def _model_rows(feedback: pl.DataFrame) -> pl.DataFrame:
    """Feedback of the traffic the model served (the control group left out)."""
    if "group" not in feedback.columns:
        return feedback
    return feedback.filter(pl.col("group").is_null() | (pl.col("group") != CONTROL))


def _age(
    max_age: dt.timedelta,
    now: dt.datetime,
    saved_at: dt.datetime | None,
    last_retrain_at: dt.datetime | None,
) -> TriggerResult:
    starts = [
        (t, what)
        for t, what in ((saved_at, "reference saved"), (last_retrain_at, "last retrain decided"))
        if t
    ]
    if not starts:
        return TriggerResult(
            "age",
            "insufficient_data",
            "age unknown: the reference is not saved and no retrain was decided",
            {"max_age_seconds": max_age.total_seconds()},
        )
    since, what = max(starts, key=lambda s: s[0])
    age = now - since
    figures = {
        "age_seconds": age.total_seconds(),
        "max_age_seconds": max_age.total_seconds(),
        "since": iso(since),
        "since_what": what,
    }
    fired = age >= max_age
    sign = ">=" if fired else "<"
    reason = f"age {span(age)} {sign} max_age {span(max_age)} ({what} {iso(since)})"
    return TriggerResult("age", "fired" if fired else "ok", reason, figures)


def _performance(
    policy: RetrainPolicy, feedback: pl.DataFrame, since: dt.datetime, now: dt.datetime
) -> TriggerResult:
    labelled = feedback.filter(pl.col("prediction").is_not_null() & pl.col("label").is_not_null())
    figures: dict[str, Any] = {
        "n_labelled": labelled.height,
        "min_labels": policy.min_labels,
        "thresholds": dict(policy.performance),
    }
    if labelled.height < policy.min_labels:
        reason = f"{labelled.height} labelled predictions in the window, fewer than min_labels {policy.min_labels}"
        return TriggerResult("performance", "insufficient_data", reason, figures)
    try:
        summary, task = window_summary(labelled, start=since, end=now)
    except RequestError as exc:
        return TriggerResult("performance", "error", exc.message, figures)
    metrics = {m: summary.metrics.get(m) for m in policy.performance}
    breached: list[str] = []
    judged: list[str] = []
    for metric, limit in policy.performance.items():
        value = metrics[metric]
        if value is None:
            judged.append(f"{metric} not available ({task})")
            continue
        higher = metric in HIGHER_IS_BETTER
        bad = value < limit if higher else value > limit
        sign = ("<" if bad else ">=") if higher else (">" if bad else "<=")
        text = f"{metric} {value:.4g} {sign} {limit:g}"
        (breached if bad else judged).append(text)
    figures |= {"task": task, "metrics": metrics, "breached": [b.split()[0] for b in breached]}
    n = f" over {labelled.height} labelled predictions"
    if breached:
        return TriggerResult("performance", "fired", ", ".join(breached) + n, figures)
    return TriggerResult("performance", "ok", ", ".join(judged) + n, figures)


def _column(reference: pl.DataFrame, view: str, feature: str) -> str | None:
    for name in (f"{view}__{feature}", feature):
        if name in reference.columns:
            return name
    return None


def _crossed(drift: FeatureDrift, limits: dict[str, float | int]) -> list[str]:
    hits = []
    for statistic in ("psi", "js", "ks_pvalue", "chi2_pvalue"):
        limit, value = limits.get(statistic), getattr(drift, statistic)
        if limit is None or value is None:
            continue
        if (value < limit) if statistic.endswith("pvalue") else (value > limit):
            hits.append(statistic)
    return hits


def _drift(
    policy: RetrainPolicy,
    reference: pl.DataFrame,
    data: PolicyData,
    features: Sequence[tuple[str, str]],
    since: dt.datetime,
    now: dt.datetime,
) -> TriggerResult:
    limits = dict(policy.drift)
    min_features, min_samples = int(limits["min_features"]), int(limits["min_samples"])
    names = [c for c in (_column(reference, v, f) for v, f in features) if c is not None]
    figures: dict[str, Any] = {
        "thresholds": {k: v for k, v in limits.items() if k not in ("min_features", "min_samples")},
        "min_features": min_features,
        "min_samples": min_samples,
        "not_in_reference": [f"{v}:{f}" for v, f in features if _column(reference, v, f) is None],
    }
    current = data.served(names, since, now)
    compared = [n for n in names if n in current.columns]
    figures["not_served"] = [n for n in names if n not in current.columns]
    if not compared:
        return TriggerResult(
            "drift",
            "insufficient_data",
            "no feature of the service was served in the window",
            figures,
        )
    # Statistics the policy does not name keep their defaults: only the named ones count.
    defaults = DriftThresholds()
    thresholds = DriftThresholds(
        psi=float(limits.get("psi", defaults.psi)),
        psi_warn=min(float(limits.get("psi", defaults.psi_warn)), defaults.psi_warn),
        ks_pvalue=float(limits.get("ks_pvalue", defaults.ks_pvalue)),
        js=float(limits.get("js", defaults.js)),
        chi2_pvalue=float(limits.get("chi2_pvalue", defaults.chi2_pvalue)),
        min_samples=min_samples,
    )
    try:
        report = drift_report(
            reference,
            current,
            features=compared,
            reference_name=policy.reference,
            current_name="serving log",
            thresholds=thresholds,
        )
    except FeatureStoreError as exc:
        return TriggerResult("drift", "error", exc.message, figures)
    per_feature: dict[str, Any] = {}
    drifted: list[str] = []
    judged = 0
    for f in report.features:
        enough = not f.insufficient_data  # fewer than min_samples values on a side
        hits = _crossed(f, limits) if enough else []
        per_feature[f.feature] = {
            "n_reference": f.n_reference,
            "n_current": f.n_current,
            **{s: getattr(f, s) for s in figures["thresholds"]},
            "crossed": hits,
            "insufficient_data": not enough,
        }
        judged += enough
        if hits:
            drifted.append(f.feature)
    figures |= {"features": per_feature, "drifted": drifted}
    named = ", ".join(
        f"{k} {'<' if k.endswith('pvalue') else '>'} {v:g}"
        for k, v in figures["thresholds"].items()
    )
    if not judged:
        reason = f"no feature has {min_samples} values on both sides"
        return TriggerResult("drift", "insufficient_data", reason, figures)
    listed = f": {', '.join(drifted)}" if drifted else ""
    if len(drifted) >= min_features:
        reason = f"{len(drifted)} of {judged} features drifted ({named}){listed}; min_features {min_features}"
        return TriggerResult("drift", "fired", reason, figures)
    reason = f"{len(drifted)} of {judged} features drifted ({named}){listed}; min_features {min_features}"
    return TriggerResult("drift", "ok", reason, figures)


@dataclass(frozen=True)
class _Baseline:
    frame: pl.DataFrame | None  # timestamp, prediction, label; None when there is none yet
    described: str
    until: dt.datetime | None  # the end of a baseline window (windows before it overlap it)


def _baseline(
    policy: RetrainPolicy,
    reference: pl.DataFrame,
    saved_at: dt.datetime,
    data: PolicyData,
    since: dt.datetime,
) -> _Baseline:
    if "prediction" in reference.columns:
        given = pl.DataFrame(
            {
                "timestamp": pl.Series(
                    [saved_at] * reference.height, dtype=pl.Datetime("us", "UTC")
                ),
                "prediction": reference["prediction"],
                "label": pl.Series([None] * reference.height, dtype=pl.Null),
            }
        )
        return _Baseline(given, f"column 'prediction' of {policy.reference!r}", None)
    first = data.first_prediction_at(saved_at)
    if first is None:
        return _Baseline(None, f"no prediction since {policy.reference!r} was saved", None)
    end = _plus(first, policy.window)
    frame = _model_rows(data.feedback(first, end)) if end <= since else None
    return _Baseline(frame, f"predictions from {iso(first)} to {iso(end)}", end)


def _prediction_drift(
    policy: RetrainPolicy,
    feedback: pl.DataFrame,
    baseline: _Baseline,
    since: dt.datetime,
    now: dt.datetime,
) -> TriggerResult:
    limit = float(policy.prediction_drift["chi2_pvalue"])
    min_samples = int(policy.prediction_drift["min_samples"])
    current = feedback.filter(pl.col("prediction").is_not_null())
    figures: dict[str, Any] = {
        "chi2_pvalue": limit,
        "min_samples": min_samples,
        "baseline": baseline.described,
        "n_current": current.height,
    }
    if baseline.frame is None:
        why = (
            baseline.described
            if baseline.until is None
            else f"the baseline ({baseline.described}) overlaps the window"
        )
        return TriggerResult("prediction_drift", "insufficient_data", why, figures)
    base = baseline.frame.filter(pl.col("prediction").is_not_null())
    figures["n_baseline"] = base.height
    if min(base.height, current.height) < min_samples:
        reason = f"{current.height} predictions in the window and {base.height} in the baseline; {min_samples} needed on each side"
        return TriggerResult("prediction_drift", "insufficient_data", reason, figures)
    try:
        summary, _ = window_summary(
            current, start=since, end=now, reference=base.select("timestamp", "prediction", "label")
        )
    except RequestError as exc:
        return TriggerResult("prediction_drift", "error", exc.message, figures)
    p = summary.prediction_drift_pvalue
    figures |= {"pvalue": p, "distribution": summary.prediction_distribution}
    if p is None:
        return TriggerResult(
            "prediction_drift", "ok", "chi-square undefined (one class on both sides)", figures
        )
    fired = p < limit
    reason = f"prediction chi-square p {p:.3g} {'<' if fired else '>='} {limit:g} against {baseline.described}"
    return TriggerResult("prediction_drift", "fired" if fired else "ok", reason, figures)
