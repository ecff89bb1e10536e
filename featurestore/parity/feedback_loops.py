"""Feedback loops (DESIGN.md §15): is a model shaping the data it will be trained on?

Two signs, per time window: the model's outputs (and what is served) **narrow**, and the outcomes
of traffic served without the model (the ``"control"`` group) **diverge** from the rest.

Inputs: feedback (``timestamp``, ``prediction``, ``label``, optional ``group``) and optionally the
serving log (``requested_at`` and ``keys``, one row per served value of a sampled entity).

Rules:

* **Windows** are ``[k * window, (k + 1) * window)`` from the Unix epoch, in time order; a window
  with neither feedback nor serving is left out.
* **Entities served**: distinct entity keys in the serving log's rows of the window (and the
  number of samples, ``served``: served entity rows of sampled requests). The log
  samples entities by key hash (``serving.skew_sample_rate``), so this counts the sampled ones
  (all of them at rate 1.0); since the sample is a fixed set of keys, its trend is the trend of
  the whole. None without a serving log.
* **Prediction diversity** over the predictions of the rows outside the control group. Strings,
  booleans and whole numbers are *classes*: the number of distinct classes, the top class and its
  share; other numbers are *numeric*: their sample standard deviation (ddof=1). ``predictions=``
  overrides the choice.
* **Trends** compare each window with the *baseline*: the first window with at least
  ``min_samples`` predictions (entities: the first with ``min_samples`` entities). Ratios for
  distinct classes, std and entities (``window / baseline``); a difference for the top share.
* **Outcomes** are the labels: booleans and numbers all 0 or 1 are binary (the outcome rate is
  the share of 1 / True); two string classes are binary with the one that sorts last as 1; other
  numbers are numeric (the rate is their mean; no z-test). Per group (``group`` as given, None
  for feedback sent without one): rows, labelled rows, outcome rate, and the performance metrics
  of :func:`~featurestore.parity.performance_report` where the predictions fit the labels.
* **Two-proportion z-test** between the control group and all the other rows, over labelled rows:
  ``p = (x1 + x2) / (n1 + n2)``, ``z = (rate_rest - rate_control) / sqrt(p (1 - p) (1/n1 + 1/n2))``,
  two-sided ``pvalue = 2 * norm.sf(|z|)``. None without both sides, or when ``p`` is 0 or 1.
* **Flags.** ``narrowing_predictions``: after the baseline, distinct classes (or std) fall below
  ``min_diversity_ratio`` of the baseline's, or the top share rises more than
  ``max_top_share_rise`` above it (windows with ``min_samples`` predictions only).
  ``narrowing_entities``: entities fall below ``min_diversity_ratio`` of the baseline's in a window
  with at least ``min_samples`` served samples (a few distinct entities served many times is the
  narrowing itself; a window with little traffic is not judged). ``diverging``: the z-test's
  p-value is below ``alpha / m`` with at least ``min_group`` labelled rows on each side, where
  ``m`` is the number of windows with such a test (Bonferroni: over the whole report, a healthy
  run raises a false alarm with probability at most ``alpha``, however many windows it has; the
  bar is in ``diverging_alpha``).

Distinct counts grow with volume: compare windows of similar traffic (``n_predictions`` is in
every window to check).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import replace
from typing import Literal

import polars as pl

from featurestore.errors import RequestError
from featurestore.parity.loop_report import (
    FeedbackLoopReport,
    FeedbackLoopThresholds,
    GroupOutcome,
    LoopWindow,
    ZTest,
)
from featurestore.parity.performance import window_bounds, window_summary
from featurestore.parity.stats import finite
from featurestore.registry.feedback import CONTROL

__all__ = [
    "FeedbackLoopReport",
    "FeedbackLoopThresholds",
    "GroupOutcome",
    "LoopWindow",
    "ZTest",
    "feedback_loop_report",
    "two_proportion_ztest",
]

_CLASS_TYPES = (pl.Boolean, pl.String, pl.Categorical, pl.Enum)
PredictionKind = Literal["auto", "classes", "numeric"]


def two_proportion_ztest(x_control: int, n_control: int, x_rest: int, n_rest: int) -> ZTest | None:
    """The pooled two-proportion z-test (two-sided); None when it is undefined."""
    from scipy.stats import norm

    if n_control <= 0 or n_rest <= 0:
        return None
    pooled = (x_control + x_rest) / (n_control + n_rest)
    if pooled <= 0 or pooled >= 1:
        return None
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_control + 1 / n_rest))
    control_rate, rest_rate = x_control / n_control, x_rest / n_rest
    z = (rest_rate - control_rate) / se
    return ZTest(n_control, n_rest, control_rate, rest_rate, z, float(2 * norm.sf(abs(z))))


def feedback_loop_report(
    feedback: pl.DataFrame,
    served: pl.DataFrame | None = None,
    *,
    window: dt.timedelta = dt.timedelta(days=1),
    control: str = CONTROL,
    thresholds: FeedbackLoopThresholds = FeedbackLoopThresholds(),
    predictions: PredictionKind = "auto",
) -> FeedbackLoopReport:
    """The feedback-loop report (rules in the module docstring).

    Args:
        feedback: ``timestamp``, ``prediction``, ``label`` and optionally ``group``.
        served: the serving log (``requested_at``, ``keys``), or None.
        window: the window width.
        control: the name of the group served without the model.
        thresholds: where the flags start.
        predictions: ``"classes"`` or ``"numeric"`` instead of telling them apart by type.

    Raises:
        RequestError: a missing column, a non-datetime timestamp, or a bad argument.
    """
    if not isinstance(window, dt.timedelta) or window < dt.timedelta(microseconds=1):
        raise RequestError(f"feedback-loop window must be a positive duration, got {window!r}")
    if predictions not in ("auto", "classes", "numeric"):
        raise RequestError(
            f"predictions must be 'auto', 'classes' or 'numeric', got {predictions!r}"
        )
    frame = _checked(feedback)
    width = window // dt.timedelta(microseconds=1)
    frame = frame.with_columns(
        (pl.col("timestamp").dt.epoch("us") // width).alias("__window")
    ).sort("timestamp", maintain_order=True)
    notes: list[str] = []
    model = frame.filter(pl.col("group").is_null() | (pl.col("group") != control))
    kind = _prediction_kind(model["prediction"], predictions)
    outcome_kind, outcome = _outcomes(frame["label"], notes)
    performance = _performance_applies(frame, notes)
    frame = frame.with_columns(pl.Series("__outcome", outcome, dtype=pl.Float64))
    entities = _entities(served, width)
    ids = sorted(set(frame["__window"].unique().to_list()) | set(entities))
    judge = _Judge(thresholds, kind)
    parts = {key[0]: part for key, part in frame.partition_by("__window", as_dict=True).items()}
    windows = []
    for wid in ids:
        rows = parts.get(wid, frame.clear())
        start, end = window_bounds(wid, width)
        windows.append(
            judge.window(
                start,
                end,
                rows,
                control,
                entities.get(wid, (0, 0)) if entities else None,
                outcome_kind,
                performance,
            )
        )
    groups = _group_outcomes(frame, control, performance)
    windows, diverging_alpha = _diverging(windows, thresholds)
    return FeedbackLoopReport(
        window=window,
        control=control,
        prediction_kind=kind,
        outcome_kind=outcome_kind,
        windows=windows,
        groups=groups,
        z_test=_ztest(frame, control) if outcome_kind == "binary" else None,
        thresholds=thresholds,
        diverging_alpha=diverging_alpha,
        notes=list(dict.fromkeys(notes)),
    )


def _diverging(
    windows: list[LoopWindow], t: FeedbackLoopThresholds
) -> tuple[list[LoopWindow], float | None]:
    """Flag the windows whose z-test passes the Bonferroni bar; the bar (None: no test)."""
    tested = [
        w.z_test is not None and min(w.z_test.n_control, w.z_test.n_rest) >= t.min_group
        for w in windows
    ]
    if not any(tested):
        return windows, None
    bar = t.alpha / sum(tested)
    flagged = [
        replace(w, flags=[*w.flags, "diverging"])
        if ok and w.z_test is not None and w.z_test.pvalue < bar
        else w
        for w, ok in zip(windows, tested, strict=True)
    ]
    return flagged, bar


def _checked(feedback: pl.DataFrame) -> pl.DataFrame:
    if not isinstance(feedback, pl.DataFrame):
        raise RequestError(f"feedback must be a Polars DataFrame, got {type(feedback).__name__}")
    missing = [c for c in ("timestamp", "prediction", "label") if c not in feedback.columns]
    if missing:
        raise RequestError(f"the feedback frame lacks column {missing[0]!r}")
    if not isinstance(feedback["timestamp"].dtype, pl.Datetime):
        raise RequestError("the feedback column 'timestamp' must be a Datetime (UTC)")
    if "group" not in feedback.columns:
        feedback = feedback.with_columns(pl.lit(None, dtype=pl.String).alias("group"))
    return feedback.select("timestamp", "prediction", "label", pl.col("group").cast(pl.String))


def _prediction_kind(values: pl.Series, given: PredictionKind) -> str | None:
    present = values.drop_nulls()
    if present.dtype.is_float():
        present = present.drop_nans()
    if present.len() == 0:
        return None
    if given != "auto":
        return given
    if isinstance(present.dtype, _CLASS_TYPES) or present.dtype.is_integer():
        return "classes"
    if present.dtype.is_numeric():
        whole = bool((present == present.floor()).all())
        return "classes" if whole else "numeric"
    return "classes"


def _class_names(values: pl.Series) -> pl.Series:
    """Predictions as class names: whole floats print as integers (1.0 and 1 are one class)."""
    if values.dtype.is_float():
        whole = values == values.floor()
        return pl.select(
            pl.when(whole)
            .then(values.cast(pl.Int64, strict=False).cast(pl.String))
            .otherwise(values.cast(pl.String))
        ).to_series()
    return values.cast(pl.String)


def _outcomes(labels: pl.Series, notes: list[str]) -> tuple[str | None, list[float | None]]:
    present = labels.drop_nulls()
    if present.dtype.is_float():
        present = present.drop_nans()
    if present.len() == 0:
        return None, [None] * labels.len()
    if present.dtype == pl.Boolean:
        return "binary", labels.cast(pl.Float64).to_list()
    if present.dtype.is_numeric():
        values = labels.cast(pl.Float64).fill_nan(None)
        binary = bool(present.cast(pl.Float64).is_in([0.0, 1.0]).all())
        return ("binary" if binary else "numeric"), values.to_list()
    if isinstance(present.dtype, _CLASS_TYPES):
        names = sorted(present.cast(pl.String).unique().to_list())
        if len(names) <= 2:
            positive = names[-1]
            text = labels.cast(pl.String)
            return "binary", [None if v is None else float(v == positive) for v in text.to_list()]
        notes.append(f"labels have {len(names)} classes: no outcome rate or z-test")
        return None, [None] * labels.len()
    notes.append(f"labels of dtype {labels.dtype} have no outcome rate")
    return None, [None] * labels.len()


def _entities(served: pl.DataFrame | None, width: int) -> dict[int, tuple[int, int]]:
    """Per window id: distinct entity keys and samples (served entity rows) in the log."""
    if served is None or served.height == 0:
        return {}
    for column in ("requested_at", "keys"):
        if column not in served.columns:
            raise RequestError(f"the serving log lacks column {column!r}")
    samples = pl.col("sample").n_unique() if "sample" in served.columns else pl.len()
    counts = served.group_by((pl.col("requested_at").dt.epoch("us") // width).alias("w")).agg(
        pl.col("keys").n_unique().alias("n"), samples.alias("samples")
    )
    return {w: (n, m) for w, n, m in zip(counts["w"], counts["n"], counts["samples"], strict=True)}


def _group_outcomes(rows: pl.DataFrame, control: str, performance: bool) -> list[GroupOutcome]:
    out = []
    names = rows["group"].unique().to_list()
    order = sorted(names, key=lambda g: (g != control, g is None, g or ""))
    for name in order:
        part = rows.filter(pl.col("group").is_null() if name is None else pl.col("group") == name)
        outcome = part["__outcome"].drop_nulls()
        out.append(
            GroupOutcome(
                group=name,
                n=part.height,
                n_labelled=outcome.len(),
                outcome_rate=finite(outcome.mean()) if outcome.len() else None,
                metrics=_metrics(part) if performance else None,
            )
        )
    return out


def _performance_applies(rows: pl.DataFrame, notes: list[str]) -> bool:
    """Whether the predictions fit the labels well enough for performance metrics."""
    both = rows.filter(pl.col("prediction").is_not_null() & pl.col("label").is_not_null())
    if both.height == 0:
        return False
    try:
        _summary(both)
    except RequestError as exc:
        notes.append(f"no performance metrics: {exc.message}")
        return False
    return True


def _metrics(rows: pl.DataFrame) -> dict[str, float | None] | None:
    both = rows.filter(pl.col("prediction").is_not_null() & pl.col("label").is_not_null())
    if both.height == 0:
        return None
    try:
        metrics = _summary(both)
    except RequestError:  # a group whose rows alone fit no task (checked for all rows first)
        return None
    return {k: v for k, v in metrics.items() if v is not None}


def _summary(both: pl.DataFrame) -> dict[str, float | None]:
    start = both["timestamp"].min()
    assert isinstance(start, dt.datetime)
    columns = both.select("timestamp", "prediction", "label")
    summary, _ = window_summary(columns, start=start, end=start)
    return summary.metrics


def _ztest(rows: pl.DataFrame, control: str) -> ZTest | None:
    labelled = rows.filter(pl.col("__outcome").is_not_null())
    is_control = labelled["group"].fill_null("") == control
    outcome = labelled["__outcome"].to_numpy()
    mask = is_control.to_numpy()
    return two_proportion_ztest(
        int(outcome[mask].sum()), int(mask.sum()), int(outcome[~mask].sum()), int((~mask).sum())
    )


class _Judge:
    """Builds windows in time order, remembering the baselines their trends compare with."""

    def __init__(self, thresholds: FeedbackLoopThresholds, kind: str | None) -> None:
        self.t = thresholds
        self.kind = kind
        self.base_diversity: tuple[int | None, float | None, float | None] | None = None
        self.base_entities: int | None = None

    def window(
        self,
        start: dt.datetime,
        end: dt.datetime,
        rows: pl.DataFrame,
        control: str,
        served: tuple[int, int] | None,
        outcome_kind: str | None,
        performance: bool,
    ) -> LoopWindow:
        t = self.t
        flags: list[str] = []
        model = rows.filter(pl.col("group").is_null() | (pl.col("group") != control))
        predicted = model["prediction"].drop_nulls()
        if predicted.dtype.is_float():
            predicted = predicted.drop_nans()
        distinct = top = share = std = None
        if self.kind == "classes" and predicted.len():
            counts = _class_names(predicted).value_counts(sort=True)
            distinct = counts.height
            top = str(counts[0, 0])
            share = int(counts[0, 1]) / predicted.len()
        elif self.kind == "numeric" and predicted.len():
            std = finite(predicted.cast(pl.Float64).std(ddof=1)) if predicted.len() > 1 else None
        enough = predicted.len() >= t.min_samples
        distinct_trend = top_trend = std_trend = None
        if enough and self.base_diversity is None:
            self.base_diversity = (distinct, share, std)
        elif self.base_diversity is not None:
            base_distinct, base_share, base_std = self.base_diversity
            distinct_trend = _ratio(distinct, base_distinct)
            top_trend = None if share is None or base_share is None else share - base_share
            std_trend = _ratio(std, base_std)
            narrower = (
                (distinct_trend is not None and distinct_trend < t.min_diversity_ratio)
                or (top_trend is not None and top_trend > t.max_top_share_rise)
                or (std_trend is not None and std_trend < t.min_diversity_ratio)
            )
            if enough and narrower:
                flags.append("narrowing_predictions")
        entities = None if served is None else served[0]
        entities_trend: float | None = None
        if served is not None:
            samples = served[1]
            if self.base_entities is None and served[0] >= t.min_samples:
                self.base_entities = served[0]
            elif self.base_entities is not None:
                entities_trend = served[0] / self.base_entities
                if entities_trend < t.min_diversity_ratio and samples >= t.min_samples:
                    flags.append("narrowing_entities")
        z = _ztest(rows, control) if outcome_kind == "binary" else None
        return LoopWindow(
            start=start,
            end=end,
            entities=entities,
            entities_trend=entities_trend,
            n_feedback=rows.height,
            n_predictions=predicted.len(),
            distinct_predictions=distinct,
            top_prediction=top,
            top_share=share,
            prediction_std=std,
            distinct_trend=distinct_trend,
            top_share_trend=top_trend,
            std_trend=std_trend,
            groups=_group_outcomes(rows, control, performance),
            z_test=z,
            flags=flags,
        )


def _ratio(value: float | None, base: float | None) -> float | None:
    if value is None or base is None or base == 0:
        return None
    return value / base
