"""Model performance, label/prediction drift and concept drift from feedback (DESIGN.md §9).

``feedback`` has one row per request: ``timestamp`` (Datetime; naive means UTC), ``prediction``
(float, int, bool or str; null when a label arrived without a prediction) and ``label`` (null while
unknown); a ``request_id`` column may be there and is not used. NaN counts as null.

Rules:

* **Task.** Labels that are bool, str/categorical, or integers all in {0, 1} make a binary
  classification; other numeric labels a regression. Without any label the predictions decide
  (bool/str, or numbers within [0, 1], mean classification). ``task=`` overrides.
* **Classes.** The positive class is ``True``, ``1``, or for strings ``positive=`` (default: the
  class that sorts last; at most two classes). Numeric predictions all in {0, 1} are classes;
  otherwise they are scores and the class is ``score >= threshold``; scores all within [0, 1] are
  probabilities.
* **Windows** are ``[k * window, (k + 1) * window)`` counted from the Unix epoch, listed in time
  order; windows without any feedback are left out. ``n`` counts rows with both a prediction and a
  label; the metrics use those rows: accuracy, precision ``tp / (tp + fp)``, recall
  ``tp / (tp + fn)``, F1 ``2tp / (2tp + fp + fn)`` (each None when its denominator is 0), ROC AUC
  (scores only, both classes present; Mann-Whitney on average ranks), log-loss (probabilities only,
  clipped to [1e-15, 1 - 1e-15]); MAE and RMSE for regression.
* **Label and prediction drift.** Distributions per window: class counts (classification) or the
  quantiles p10/p25/p50/p75/p90 (regression), over every row with a label (resp. a prediction, so
  windows whose labels have not arrived still get prediction drift). The chi-square p-value
  compares each window's counts with the reference's on a 2 x k table: class counts, or for
  regression counts over the 10 bins of the reference deciles (the PSI bins of drift). The
  reference is ``reference`` (another feedback frame) or else the first window that has labels
  (resp. predictions); that window gets no p-value of its own. Drift means p < ``chi2_pvalue``.
* **Concept drift.** ADWIN and DDM run over the per-request error stream (rows with both, in
  timestamp order): 0/1 misclassifications, or absolute errors for ADWIN only in a regression.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import polars as pl

from featurestore.errors import RequestError
from featurestore.limits import EPOCH
from featurestore.parity.detectors import Alarm, run_detectors
from featurestore.parity.drift import DriftThresholds
from featurestore.parity.feedback import Encoded, EncodedReference, encode_feedback
from featurestore.parity.stats import (
    FloatArray,
    bin_counts,
    chi2_test,
    classification_metrics,
    decile_edges,
    regression_metrics,
    text_table,
)
from featurestore.reports import html_repr, iso

__all__ = [
    "PerformanceReport",
    "WindowPerformance",
    "performance_report",
    "window_bounds",
    "window_summary",
]

_QUANTILES = {"p10": 0.1, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p90": 0.9}
_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "mae", "rmse")


@dataclass(frozen=True)
class WindowPerformance:
    """Metrics and distributions of one time window; None for what does not apply."""

    start: dt.datetime
    end: dt.datetime
    n: int
    metrics: dict[str, float | None]
    label_distribution: dict[str, float] | None
    prediction_distribution: dict[str, float] | None
    label_drift_pvalue: float | None
    prediction_drift_pvalue: float | None
    label_drift: bool | None
    prediction_drift: bool | None

    def to_dict(self) -> dict[str, Any]:
        """The window's keys in the documented order."""
        return {
            "start": iso(self.start),
            "end": iso(self.end),
            "n": self.n,
            **{name: self.metrics.get(name) for name in _METRICS},
            "label_distribution": self.label_distribution,
            "prediction_distribution": self.prediction_distribution,
            "label_drift_pvalue": self.label_drift_pvalue,
            "prediction_drift_pvalue": self.prediction_drift_pvalue,
            "label_drift": self.label_drift,
            "prediction_drift": self.prediction_drift,
        }


@dataclass(frozen=True)
class PerformanceReport:
    """Performance per window, and the concept-drift alarms over the whole feedback."""

    task: str  # "classification" | "regression"
    window: dt.timedelta
    windows: list[WindowPerformance]
    alarms: list[Alarm]
    n_feedback: int
    n_labelled: int
    notes: list[str] = field(default_factory=list)

    _repr_html_ = html_repr("performance")

    def to_dict(self) -> dict[str, Any]:
        """``{task, window, windows, alarms, n_feedback, n_labelled}``, then ``notes``."""
        return {
            "task": self.task,
            "window": iso_duration(self.window),
            "windows": [w.to_dict() for w in self.windows],
            "alarms": [a.to_dict() for a in self.alarms],
            "n_feedback": self.n_feedback,
            "n_labelled": self.n_labelled,
            "notes": list(self.notes),
        }

    def __str__(self) -> str:
        names = ["accuracy", "f1", "roc_auc", "log_loss"]
        if self.task == "regression":
            names = ["mae", "rmse"]
        columns = ["start", "n", *names, "label p", "prediction p", "drift"]
        rows = [
            [
                iso(w.start),
                w.n,
                *(w.metrics.get(m) for m in names),
                w.label_drift_pvalue,
                w.prediction_drift_pvalue,
                ", ".join(
                    k
                    for k, hit in (("label", w.label_drift), ("prediction", w.prediction_drift))
                    if hit
                ),
            ]
            for w in self.windows
        ]
        alarms = "; ".join(f"{a.detector} at #{a.index} ({iso(a.timestamp)})" for a in self.alarms)
        caption = f"{self.n_labelled} of {self.n_feedback} labelled; alarms: {alarms or 'none'}"
        title = f"{self.task} performance per {iso_duration(self.window)}"
        text = text_table(title, columns, rows, caption)
        return "\n".join([text, *(f"note: {n}" for n in self.notes)])


def performance_report(
    feedback: pl.DataFrame,
    *,
    window: dt.timedelta = dt.timedelta(days=1),
    task: Literal["classification", "regression"] | None = None,
    threshold: float = 0.5,
    reference: pl.DataFrame | None = None,
    thresholds: DriftThresholds = DriftThresholds(),
    positive: str | None = None,
) -> PerformanceReport:
    """Performance, label/prediction drift and concept drift of a model (rules in the module doc).

    Args:
        feedback: one row per request: ``timestamp``, ``prediction``, ``label``.
        window: the width of the time windows.
        task: ``"classification"`` or ``"regression"``; None detects it from the labels.
        threshold: scores at or above it predict the positive class.
        reference: feedback whose label and prediction distributions are the reference; None
            means the first window.
        thresholds: ``chi2_pvalue`` sets where label and prediction drift flag.
        positive: the positive class of string labels (default: the one that sorts last).

    Returns:
        The report, windows in time order.

    Raises:
        RequestError: a missing column, a non-datetime or null timestamp, more than two classes,
            a prediction that does not fit the labels, or an invalid argument.
    """
    if not isinstance(window, dt.timedelta) or window < dt.timedelta(microseconds=1):
        raise RequestError(f"Performance window must be a positive duration, got {window!r}.")
    if not isinstance(threshold, int | float) or not np.isfinite(threshold):
        raise RequestError(f"Classification threshold must be a finite number, got {threshold!r}.")
    data, ref = encode_feedback(
        feedback, reference, task=task, threshold=threshold, positive=positive
    )
    width = window // dt.timedelta(microseconds=1)
    window_ids = data.micros // width
    # Rows are in time order, so each window is one slice; no rows, no windows.
    starts = [0, *(np.flatnonzero(np.diff(window_ids)) + 1).tolist()] if len(window_ids) else []
    bounds = [*starts, len(window_ids)]
    refs = _References(data, ref, thresholds.chi2_pvalue)
    windows = []
    for lo, hi in itertools.pairwise(bounds):
        windows.append(refs.window(slice(lo, hi), *window_bounds(int(window_ids[lo]), width)))
    alarms, notes = _concept_drift(data)
    return PerformanceReport(
        task=data.task,
        window=window,
        windows=windows,
        alarms=alarms,
        n_feedback=len(data.micros),
        n_labelled=int((~np.isnan(data.label)).sum()),
        notes=[*data.notes, *notes],
    )


def window_summary(
    feedback: pl.DataFrame,
    *,
    start: dt.datetime,
    end: dt.datetime,
    task: Literal["classification", "regression"] | None = None,
    threshold: float = 0.5,
    reference: pl.DataFrame | None = None,
    chi2_pvalue: float = DriftThresholds().chi2_pvalue,
) -> tuple[WindowPerformance, str]:
    """All of ``feedback`` as one window ``[start, end)``, by the rules of :func:`performance_report`.

    Args:
        feedback: the window's rows: ``timestamp``, ``prediction``, ``label``.
        start: where the window starts (reported as given).
        end: where it ends.
        task: as for :func:`performance_report`.
        threshold: as for :func:`performance_report`.
        reference: feedback whose label and prediction distributions the window is compared
            with; None: no p-values.
        chi2_pvalue: label and prediction drift flag below it.

    Returns:
        The window and the task.

    Raises:
        RequestError: as :func:`performance_report`.
    """
    data, ref = encode_feedback(feedback, reference, task=task, threshold=threshold, positive=None)
    refs = _References(data, ref, chi2_pvalue, baseline=False)
    return refs.window(slice(0, len(data.micros)), start, end), data.task


def iso_duration(value: dt.timedelta) -> str:
    """An ISO 8601 duration: ``P1D``, ``PT1H30M``, ``PT0.5S``."""
    micros = value // dt.timedelta(microseconds=1)
    days, rest = divmod(micros, 86_400_000_000)
    hours, rest = divmod(rest, 3_600_000_000)
    minutes, rest = divmod(rest, 60_000_000)
    seconds = f"{rest / 1e6:.6f}".rstrip("0").rstrip(".")
    time = "".join(
        f"{v}{unit}"
        for v, unit in ((hours, "H"), (minutes, "M"), (seconds, "S"))
        if v not in (0, "0")
    )
    return f"P{f'{days}D' if days else ''}{'T' + time if time else ''}" if micros else "PT0S"


class _References:
    """The label and prediction references of one feedback frame, and the windows they judge."""

    def __init__(
        self,
        data: Encoded,
        ref: EncodedReference | None,
        chi2_pvalue: float,
        *,
        baseline: bool = True,
    ) -> None:
        self._data = data
        self._labels = _Reference(data, ref.label if ref else None, baseline=baseline)
        self._predictions = _Reference(data, ref.prediction if ref else None, baseline=baseline)
        self._chi2_pvalue = chi2_pvalue

    def window(self, rows: slice, start: dt.datetime, end: dt.datetime) -> WindowPerformance:
        """The metrics and distributions of ``rows`` (one time window)."""
        data = self._data
        y, yhat = data.label[rows], data.prediction[rows]
        both = ~np.isnan(y) & ~np.isnan(yhat)
        label_p, label_dist = self._labels.compare(y[~np.isnan(y)])
        prediction_p, prediction_dist = self._predictions.compare(yhat[~np.isnan(yhat)])
        return WindowPerformance(
            start=start,
            end=end,
            n=int(both.sum()),
            metrics=_metrics(data, y[both], yhat[both], data.score[rows][both]),
            label_distribution=label_dist,
            prediction_distribution=prediction_dist,
            label_drift_pvalue=label_p,
            prediction_drift_pvalue=prediction_p,
            label_drift=None if label_p is None else label_p < self._chi2_pvalue,
            prediction_drift=None if prediction_p is None else prediction_p < self._chi2_pvalue,
        )


class _Reference:
    """The distribution windows are compared with: a given one, or else the first window seen
    (unless ``baseline`` is False: then no reference means no p-values)."""

    def __init__(self, data: Encoded, values: FloatArray | None, *, baseline: bool = True):
        self._data = data
        self._baseline = baseline
        # An empty given reference stays empty: no p-values, rather than the first window.
        self._values = None if values is None else np.sort(values[~np.isnan(values)])

    def compare(self, values: FloatArray) -> tuple[float | None, dict[str, float] | None]:
        """The window's chi-square p-value against the reference, and its distribution."""
        if values.size == 0:
            return None, None
        distribution = self._distribution(values)
        if self._values is None:
            if self._baseline:
                self._values = np.sort(values)
            return None, distribution
        return self._pvalue(np.sort(values)), distribution

    def _distribution(self, values: FloatArray) -> dict[str, float]:
        if self._data.task == "classification":
            negative, positive = self._data.classes
            ones = int((values == 1).sum())
            return {negative: values.size - ones, positive: ones}
        quantiles = np.quantile(values, list(_QUANTILES.values()))
        return {k: float(q) for k, q in zip(_QUANTILES, quantiles, strict=True)}

    def _pvalue(self, values: FloatArray) -> float | None:
        assert self._values is not None
        if self._values.size == 0:
            return None
        if self._data.task == "classification":
            ref = [int((self._values == 0).sum()), int((self._values == 1).sum())]
            cur = [int((values == 0).sum()), int((values == 1).sum())]
            table = np.array([ref, cur], dtype=np.int64)
        else:
            edges = decile_edges(self._values)
            table = np.vstack([bin_counts(self._values, edges), bin_counts(values, edges)])
        result = chi2_test(table)
        return None if result is None else result[1]


def _metrics(
    data: Encoded, y: FloatArray, yhat: FloatArray, score: FloatArray
) -> dict[str, float | None]:
    metrics: dict[str, float | None] = dict.fromkeys(_METRICS)
    if data.task == "regression":
        return metrics | regression_metrics(y, yhat)
    scores = score if data.score_kind is not None else None
    probabilities = data.score_kind == "probabilities"
    return metrics | classification_metrics(y, yhat, scores, probabilities=probabilities)


def _concept_drift(data: Encoded) -> tuple[list[Alarm], list[str]]:
    both = ~np.isnan(data.label) & ~np.isnan(data.prediction)
    y, yhat, micros = data.label[both], data.prediction[both], data.micros[both]
    if data.task == "classification":
        alarms, notes = run_detectors((y != yhat).astype(float).tolist(), binary=True), []
    else:
        alarms = run_detectors(np.abs(yhat - y).tolist(), binary=False)
        notes = ["DDM skipped: it needs a 0/1 error stream and this is a regression"]
    # Datetimes only for the few alarms, not for every request.
    timed = [replace(a, timestamp=_at(int(micros[a.index]))) for a in alarms]
    return timed, notes


def _at(micros: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=micros)


_FIRST = dt.datetime.min.replace(tzinfo=dt.UTC)
_LAST = dt.datetime.max.replace(tzinfo=dt.UTC)


def window_bounds(window_id: int, width: int) -> tuple[dt.datetime, dt.datetime]:
    """``[start, end)`` of window ``window_id`` of ``width`` microseconds from the Unix epoch,
    clipped to the datetimes Python has (a window around year 1 or 9999 reaches past them)."""
    micros = [window_id * width, (window_id + 1) * width]
    lowest, highest = (_FIRST - EPOCH) // _MICRO, (_LAST - EPOCH) // _MICRO
    return _at(max(micros[0], lowest)), _at(min(micros[1], highest))


_MICRO = dt.timedelta(microseconds=1)
