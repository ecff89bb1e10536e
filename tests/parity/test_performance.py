"""Performance reports against direct computations of each metric and test."""

from __future__ import annotations

import datetime as dt
import json
from itertools import product
from typing import Any

import numpy as np
import polars as pl
import pytest
from scipy.stats import chi2_contingency

from featurestore.errors import RequestError
from featurestore.parity import DriftThresholds, performance_report

TOL = {"rel": 1e-9, "abs": 1e-12}
START = dt.datetime(2026, 1, 1, 3, 17, tzinfo=dt.UTC)
WINDOW_KEYS = [
    "start",
    "end",
    "n",
    "accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "log_loss",
    "mae",
    "rmse",
    "label_distribution",
    "prediction_distribution",
    "label_drift_pvalue",
    "prediction_drift_pvalue",
    "label_drift",
    "prediction_drift",
]


def feedback(
    prediction: Any, label: Any, *, every: dt.timedelta, start: dt.datetime = START
) -> pl.DataFrame:
    n = len(prediction)
    return pl.DataFrame(
        {
            "request_id": [f"r{i}" for i in range(n)],
            "timestamp": pl.Series(
                [start + i * every for i in range(n)], dtype=pl.Datetime("us", "UTC")
            ),
            "prediction": prediction,
            "label": label,
        },
        strict=False,
    )


def window_index(n: int, every: dt.timedelta, width: dt.timedelta) -> np.ndarray:
    """Each row's window, counted from the Unix epoch."""
    us = dt.timedelta(microseconds=1)
    first = (START - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // us
    return (first + np.arange(n) * (every // us)) // (width // us)


def pairwise_auc(y: np.ndarray, s: np.ndarray) -> float:
    pos, neg = s[y == 1], s[y == 0]
    wins = sum((p > q) + 0.5 * (p == q) for p, q in product(pos, neg))
    return wins / (len(pos) * len(neg))


def binary_metrics(y: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    tp = int(np.sum((y == 1) & (predicted == 1)))
    tn = int(np.sum((y == 0) & (predicted == 0)))
    fp = int(np.sum((y == 0) & (predicted == 1)))
    fn = int(np.sum((y == 1) & (predicted == 0)))
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    return {
        "accuracy": (tp + tn) / len(y),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall),
    }


def probability_case(seed: int = 0, n: int = 600) -> tuple[np.ndarray, np.ndarray, pl.DataFrame]:
    g = np.random.default_rng(seed)
    y = (g.random(n) < 0.35).astype(int)
    p = np.clip(0.3 + 0.4 * y + g.normal(0, 0.25, n), 0, 1).round(2)  # rounding makes ties
    return y, p, feedback(p, y, every=dt.timedelta(minutes=7))


def test_classification_metrics_per_window_equal_direct_computation() -> None:
    y, p, frame = probability_case()
    report = performance_report(frame, window=dt.timedelta(hours=6))
    assert report.task == "classification" and report.n_feedback == report.n_labelled == 600
    window_of = window_index(600, dt.timedelta(minutes=7), dt.timedelta(hours=6))
    assert [w.start for w in report.windows] == [
        dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=6 * int(k))
        for k in np.unique(window_of)
    ]
    for w, k in zip(report.windows, np.unique(window_of), strict=True):
        rows = window_of == k
        yw, pw = y[rows], p[rows]
        assert w.end - w.start == dt.timedelta(hours=6) and w.n == rows.sum()
        expected = binary_metrics(yw, (pw >= 0.5).astype(int))
        expected["roc_auc"] = pairwise_auc(yw, pw)
        clipped = np.clip(pw, 1e-15, 1 - 1e-15)
        expected["log_loss"] = float(
            -np.mean([np.log(q) if t else np.log(1 - q) for t, q in zip(yw, clipped, strict=True)])
        )
        for name, value in expected.items():
            assert w.metrics[name] == pytest.approx(value, **TOL), name
        assert w.metrics["mae"] is None and w.metrics["rmse"] is None


def test_threshold_moves_the_predicted_class() -> None:
    y, p, frame = probability_case(seed=1, n=200)
    report = performance_report(frame, window=dt.timedelta(days=30), threshold=0.7)
    (w,) = report.windows
    expected = binary_metrics(y, (p >= 0.7).astype(int))
    assert w.metrics["accuracy"] == pytest.approx(expected["accuracy"], **TOL)
    assert w.prediction_distribution == {"0": int((p < 0.7).sum()), "1": int((p >= 0.7).sum())}


def test_label_and_prediction_drift_against_the_first_window() -> None:
    g = np.random.default_rng(4)
    y = np.concatenate([g.random(300) < 0.2, g.random(300) < 0.6]).astype(int)
    predicted = np.concatenate([g.random(300) < 0.25, g.random(300) < 0.25]).astype(int)
    frame = feedback(predicted, y, every=dt.timedelta(minutes=1))
    report = performance_report(frame, window=dt.timedelta(hours=2))
    window_of = window_index(600, dt.timedelta(minutes=1), dt.timedelta(hours=2))
    assert len(report.windows) == len(np.unique(window_of))
    first_labels = first_preds = None
    for i, (w, k) in enumerate(zip(report.windows, np.unique(window_of), strict=True)):
        rows = window_of == k
        labels = [int((y[rows] == 0).sum()), int((y[rows] == 1).sum())]
        preds = [int((predicted[rows] == 0).sum()), int((predicted[rows] == 1).sum())]
        assert w.label_distribution == {"0": labels[0], "1": labels[1]}
        assert w.prediction_distribution == {"0": preds[0], "1": preds[1]}
        if i == 0:
            first_labels, first_preds = labels, preds
            assert w.label_drift_pvalue is None and w.label_drift is None
            continue
        p_label = chi2_contingency(np.array([first_labels, labels])).pvalue
        p_pred = chi2_contingency(np.array([first_preds, preds])).pvalue
        assert w.label_drift_pvalue == pytest.approx(p_label, **TOL)
        assert w.prediction_drift_pvalue == pytest.approx(p_pred, **TOL)
        assert w.label_drift == (p_label < 0.05)
    assert report.windows[-1].label_drift is True
    assert not any(w.prediction_drift for w in report.windows)


def test_a_reference_frame_gives_the_first_window_a_pvalue_too() -> None:
    g = np.random.default_rng(5)
    ref_y = (g.random(500) < 0.5).astype(int)
    reference = feedback(ref_y, ref_y, every=dt.timedelta(minutes=1))
    y = (g.random(100) < 0.2).astype(int)
    report = performance_report(
        feedback(y, y, every=dt.timedelta(minutes=1)),
        window=dt.timedelta(days=1),
        reference=reference,
        thresholds=DriftThresholds(chi2_pvalue=0.01),
    )
    (w,) = report.windows
    table = np.array(
        [[int((ref_y == 0).sum()), int(ref_y.sum())], [int((y == 0).sum()), int(y.sum())]]
    )
    assert w.label_drift_pvalue == pytest.approx(chi2_contingency(table).pvalue, **TOL)
    assert w.label_drift == (chi2_contingency(table).pvalue < 0.01)


def test_windows_awaiting_labels_still_get_prediction_drift() -> None:
    g = np.random.default_rng(6)
    p = np.concatenate([g.random(200) * 0.5, 0.5 + g.random(200) * 0.5])
    y = pl.Series((g.random(400) < 0.5).tolist()).scatter(list(range(200, 400)), None)
    report = performance_report(
        feedback(p, y, every=dt.timedelta(hours=1)), window=dt.timedelta(days=5)
    )
    window_of = window_index(400, dt.timedelta(hours=1), dt.timedelta(days=5))
    labelled = window_of[:200]
    assert [w.n for w in report.windows] == [
        int((labelled == k).sum()) for k in np.unique(window_of)
    ]
    assert report.windows[-1].n == 0
    last = report.windows[-1]
    assert last.label_distribution is None and last.label_drift_pvalue is None
    assert all(
        last.metrics[m] is None
        for m in ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
    )
    assert last.prediction_distribution == {
        "false": 0,
        "true": int((window_of == window_of[-1]).sum()),
    }
    assert last.prediction_drift is True
    assert report.n_labelled == 200


def test_hard_classes_and_bools_have_no_auc_or_log_loss() -> None:
    y = [True, False, True, True, False, False]
    for predicted in ([1, 0, 0, 1, 1, 0], [True, False, False, True, True, False]):
        (w,) = performance_report(feedback(predicted, y, every=dt.timedelta(seconds=1))).windows
        expected = binary_metrics(np.array(y, dtype=int), np.array(predicted, dtype=int))
        assert {k: w.metrics[k] for k in expected} == pytest.approx(expected)
        assert w.metrics["roc_auc"] is None and w.metrics["log_loss"] is None
        assert w.label_distribution == {"false": 3, "true": 3}


def test_scores_outside_unit_interval_have_auc_but_no_log_loss() -> None:
    g = np.random.default_rng(8)
    y = (g.random(300) < 0.4).astype(int)
    s = g.normal(0, 1, 300) + 1.5 * y
    report = performance_report(feedback(s, y, every=dt.timedelta(seconds=1)), threshold=0.0)
    (w,) = report.windows
    assert w.metrics["roc_auc"] == pytest.approx(pairwise_auc(y, s), **TOL)
    assert w.metrics["log_loss"] is None
    assert w.metrics["accuracy"] == pytest.approx(np.mean((s >= 0) == y), **TOL)
    assert any("no log-loss" in note for note in report.notes)


def test_undefined_ratios_are_none() -> None:
    (w,) = performance_report(feedback([0, 0, 0], [0, 0, 0], every=dt.timedelta(seconds=1))).windows
    assert w.metrics["accuracy"] == 1.0
    assert (w.metrics["precision"], w.metrics["recall"], w.metrics["f1"]) == (None, None, None)
    (w,) = performance_report(feedback([0.2, 0.9], [1, 1], every=dt.timedelta(seconds=1))).windows
    assert w.metrics["roc_auc"] is None and w.metrics["precision"] == 1.0
    assert w.metrics["f1"] == pytest.approx(2 / 3)


def test_string_classes_with_a_positive_class() -> None:
    y = ["spam", "ham", "spam", "ham", "ham"]
    predicted = ["spam", "spam", "spam", "ham", "ham"]
    (w,) = performance_report(feedback(predicted, y, every=dt.timedelta(seconds=1))).windows
    assert w.label_distribution == {"ham": 3, "spam": 2}
    assert (w.metrics["precision"], w.metrics["recall"]) == pytest.approx((2 / 3, 1.0))
    (w,) = performance_report(
        feedback(predicted, y, every=dt.timedelta(seconds=1)), positive="ham"
    ).windows
    assert (w.metrics["precision"], w.metrics["recall"]) == pytest.approx((1.0, 2 / 3))
    with pytest.raises(RequestError, match="binary classification; the feedback has 3 classes"):
        performance_report(
            feedback(["a", "b", "c"], ["a", "b", "b"], every=dt.timedelta(seconds=1))
        )
    with pytest.raises(RequestError, match="prediction 'yes' is not one of the classes"):
        performance_report(feedback(["yes", None], [True, False], every=dt.timedelta(seconds=1)))
    with pytest.raises(RequestError, match="Positive class 'maybe' is not one of the classes"):
        performance_report(feedback(y, predicted, every=dt.timedelta(seconds=1)), positive="maybe")


@pytest.mark.parametrize(
    ("labels", "task"),
    [
        ([True, False, None], "classification"),
        (["a", "b", None], "classification"),
        ([0, 1, 1], "classification"),
        ([0, 1, 2], "regression"),
        ([0.0, 1.0, 1.0], "regression"),
        ([None, None, None], "classification"),
    ],
)
def test_task_detection(labels: list[Any], task: str) -> None:
    predictions = [0.2, 0.8, 0.5]
    report = performance_report(feedback(predictions, labels, every=dt.timedelta(seconds=1)))
    assert report.task == task


def test_an_explicit_task_wins() -> None:
    frame = feedback([0.2, 0.8, 0.5], [0, 1, 1], every=dt.timedelta(seconds=1))
    (w,) = performance_report(frame, task="regression").windows
    assert w.metrics["mae"] == pytest.approx((0.2 + 0.2 + 0.5) / 3)
    frame = feedback([0.0, 1.0, 1.0], [0.0, 1.0, 0.0], every=dt.timedelta(seconds=1))
    (w,) = performance_report(frame, task="classification").windows
    assert w.metrics["accuracy"] == pytest.approx(2 / 3)


def test_regression_metrics_distributions_and_binned_chi_square() -> None:
    g = np.random.default_rng(10)
    y = np.concatenate([g.normal(10, 2, 400), g.normal(12, 2, 400)])
    yhat = y + g.normal(0, 1, 800)
    report = performance_report(
        feedback(yhat, y, every=dt.timedelta(minutes=3)), window=dt.timedelta(hours=10)
    )
    assert report.task == "regression"
    offsets = window_index(800, dt.timedelta(minutes=3), dt.timedelta(hours=10))
    offsets -= offsets[0]
    first = y[offsets == 0]
    edges = np.unique(np.quantile(first, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]))
    for i, w in enumerate(report.windows):
        rows = offsets == i
        err = yhat[rows] - y[rows]
        assert w.metrics["mae"] == pytest.approx(np.mean(np.abs(err)), **TOL)
        assert w.metrics["rmse"] == pytest.approx(np.sqrt(np.mean(err**2)), **TOL)
        assert w.metrics["accuracy"] is None
        assert w.label_distribution == pytest.approx(
            dict(
                zip(
                    ["p10", "p25", "p50", "p75", "p90"],
                    np.quantile(y[rows], [0.1, 0.25, 0.5, 0.75, 0.9]),
                    strict=True,
                )
            )
        )
        if i:
            counts = [
                np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
                for values in (first, y[rows])
            ]
            assert w.label_drift_pvalue == pytest.approx(
                chi2_contingency(np.array(counts)).pvalue, **TOL
            )
    assert report.windows[-1].label_drift is True
    assert {a.detector for a in report.alarms} <= {"ADWIN"}
    assert any("DDM skipped" in note for note in report.notes)


def test_concept_drift_alarms_point_at_labelled_requests_in_time_order() -> None:
    g = np.random.default_rng(2)
    y = (g.random(4_000) < 0.5).astype(int)
    wrong = np.concatenate([g.random(2_000) < 0.05, g.random(2_000) < 0.5])
    predicted = np.where(wrong, 1 - y, y)
    frame = feedback(predicted, y, every=dt.timedelta(seconds=30))
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=1)
    report = performance_report(shuffled, window=dt.timedelta(hours=4))
    assert {"ADWIN", "DDM"} <= {a.detector for a in report.alarms}
    for alarm in report.alarms:
        assert alarm.timestamp == START + alarm.index * dt.timedelta(seconds=30)
    assert min(a.index for a in report.alarms if a.detector == "ADWIN") >= 2_000


def test_to_dict_shape_and_json() -> None:
    _, _, frame = probability_case(n=100)
    out = performance_report(frame).to_dict()
    assert list(out)[:6] == ["task", "window", "windows", "alarms", "n_feedback", "n_labelled"]
    assert out["window"] == "P1D"
    for window in out["windows"]:
        assert list(window) == WINDOW_KEYS
        assert window["start"].endswith("Z") and window["end"].endswith("Z")
    assert json.loads(json.dumps(out, allow_nan=False)) == out
    rendered = str(performance_report(frame))
    assert "classification performance per P1D" in rendered and "roc_auc" in rendered
    hours = performance_report(frame, window=dt.timedelta(hours=1, minutes=30)).to_dict()
    assert hours["window"] == "PT1H30M"


def test_naive_and_other_zone_timestamps_are_utc() -> None:
    naive = feedback(
        [1, 0], [1, 1], every=dt.timedelta(hours=1), start=dt.datetime(2026, 1, 1, 23, 30)
    )
    (first, second) = performance_report(naive).windows
    assert first.start == dt.datetime(2026, 1, 1, tzinfo=dt.UTC) and first.n == 1
    assert second.start == dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    zoned = naive.with_columns(
        pl.col("timestamp").dt.replace_time_zone("UTC").dt.convert_time_zone("Asia/Tokyo")
    )
    assert performance_report(zoned).to_dict() == performance_report(naive).to_dict()


def test_empty_feedback() -> None:
    empty = feedback([], [], every=dt.timedelta(seconds=1)).cast(
        {"prediction": pl.Float64, "label": pl.Int64}
    )
    report = performance_report(empty)
    assert (report.windows, report.alarms, report.n_feedback) == ([], [], 0)


def test_bad_input_names_the_problem() -> None:
    frame = feedback([0.1], [1], every=dt.timedelta(seconds=1))
    with pytest.raises(RequestError, match="lacks column 'label'"):
        performance_report(frame.drop("label"))
    with pytest.raises(RequestError, match="'timestamp' is String"):
        performance_report(frame.with_columns(pl.col("timestamp").cast(pl.String)))
    with pytest.raises(RequestError, match="1 row\\(s\\) without a timestamp"):
        performance_report(
            frame.with_columns(pl.lit(None, pl.Datetime("us", "UTC")).alias("timestamp"))
        )
    with pytest.raises(RequestError, match="window must be a positive duration"):
        performance_report(frame, window=dt.timedelta(0))
    with pytest.raises(RequestError, match="threshold must be a finite number"):
        performance_report(frame, threshold=float("nan"))
    with pytest.raises(RequestError, match="Unknown task 'ranking'"):
        performance_report(frame, task="ranking")  # type: ignore[arg-type]
    with pytest.raises(RequestError, match="Label 2 is not a class"):
        performance_report(
            feedback([0.1], [2], every=dt.timedelta(seconds=1)), task="classification"
        )
    with pytest.raises(RequestError, match="prediction column is String"):
        performance_report(feedback(["x"], [2.5], every=dt.timedelta(seconds=1)))
