"""The feedback-loop report on generated recommender traffic: its figures equal an independent
computation (the z-test by hand with ``scipy.stats.norm``), a planted narrowing and a planted
divergence are flagged, and a healthy run is not."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import Counter
from dataclasses import dataclass

import numpy as np
import polars as pl
import pytest
from scipy.stats import norm

from featurestore.errors import ConfigError, RequestError
from featurestore.parity import (
    FeedbackLoopReport,
    FeedbackLoopThresholds,
    feedback_loop_report,
    two_proportion_ztest,
)

T0 = dt.datetime(2026, 1, 29, tzinfo=dt.UTC)  # a Thursday: weeks count from 1970-01-01
DAY = dt.timedelta(days=1)
WEEK = 7 * DAY
UTC_US = pl.Datetime("us", "UTC")


@dataclass
class Traffic:
    feedback: pl.DataFrame
    served: pl.DataFrame


def recommender(
    *,
    weeks: int = 4,
    per_day: int = 400,
    items: list[int] | None = None,
    model_rate: list[float] | None = None,
    control_rate: float = 0.10,
    control_share: float = 0.2,
    seed: int = 0,
) -> Traffic:
    """A recommender's traffic: each request shows one item (the prediction, also the entity
    served) and is clicked or not (the label). ``items[w]`` is how many distinct items the model
    shows in week ``w``; the control group is shown any of 100 items at random."""
    rng = np.random.default_rng(seed)
    items = items or [100] * weeks
    model_rate = model_rate or [control_rate] * weeks
    rows: dict[str, list[object]] = {"timestamp": [], "prediction": [], "label": [], "group": []}
    served: dict[str, list[object]] = {"requested_at": [], "keys": [], "sample": []}
    for day in range(weeks * 7):
        week = day // 7
        for i in range(per_day):
            at = T0 + day * DAY + (i + 0.5) * DAY / per_day
            control = rng.random() < control_share
            item = int(rng.integers(100 if control else items[week]))
            rate = control_rate if control else model_rate[week]
            rows["timestamp"].append(at)
            rows["prediction"].append(f"item_{item:03d}")
            rows["label"].append(int(rng.random() < rate))
            rows["group"].append("control" if control else None)
            served["requested_at"].append(at)
            served["keys"].append(f"item_{item:03d}".encode())
            served["sample"].append(len(served["sample"]))
    feedback = pl.DataFrame(rows, schema_overrides={"timestamp": UTC_US, "group": pl.String})
    log = pl.DataFrame(served, schema_overrides={"requested_at": UTC_US, "keys": pl.Binary})
    return Traffic(feedback, log)


def report(traffic: Traffic, window: dt.timedelta = WEEK) -> FeedbackLoopReport:
    return feedback_loop_report(traffic.feedback, traffic.served, window=window)


def test_the_figures_equal_an_independent_computation() -> None:
    traffic = recommender(items=[100, 80, 60, 40], model_rate=[0.10, 0.12, 0.14, 0.16], seed=3)
    got = report(traffic)
    assert [w.start for w in got.windows] == [T0 + k * WEEK for k in range(4)]
    rows = traffic.feedback.to_dicts()
    for window in got.windows:
        part = [r for r in rows if window.start <= r["timestamp"] < window.end]
        model = [r for r in part if r["group"] != "control"]
        control = [r for r in part if r["group"] == "control"]
        counts = Counter(r["prediction"] for r in model)
        _, top_n = counts.most_common(1)[0]
        assert window.n_feedback == len(part) and window.n_predictions == len(model)
        assert window.distinct_predictions == len(counts)
        assert window.top_share == pytest.approx(top_n / len(model), rel=1e-12)
        assert counts[window.top_prediction] == top_n
        keys = {
            k
            for k, t in zip(traffic.served["keys"], traffic.served["requested_at"], strict=True)
            if window.start <= t < window.end
        }
        assert window.entities == len(keys)
        # the z-test, by hand
        x1, n1 = sum(r["label"] for r in control), len(control)
        x2, n2 = sum(r["label"] for r in model), len(model)
        pooled = (x1 + x2) / (n1 + n2)
        z = (x2 / n2 - x1 / n1) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
        assert window.z_test is not None
        assert window.z_test.z == pytest.approx(z, rel=1e-12)
        assert window.z_test.pvalue == pytest.approx(2 * norm.sf(abs(z)), rel=1e-12)
        assert (window.z_test.n_control, window.z_test.n_rest) == (n1, n2)
        by_group = {g.group: g for g in window.groups}
        assert list(by_group) == ["control", None]  # control first
        assert by_group["control"].outcome_rate == pytest.approx(x1 / n1, rel=1e-12)
        assert by_group[None].outcome_rate == pytest.approx(x2 / n2, rel=1e-12)
        assert by_group[None].n_labelled == n2
    first = got.windows[0]
    for window in got.windows[1:]:
        assert window.distinct_trend == pytest.approx(
            window.distinct_predictions / first.distinct_predictions  # type: ignore[operator]
        )
        assert window.top_share_trend == pytest.approx(window.top_share - first.top_share)  # type: ignore[operator]
        assert window.entities_trend == pytest.approx(window.entities / first.entities)  # type: ignore[operator]
    assert first.distinct_trend is None and first.entities_trend is None
    labels = traffic.feedback["label"].to_numpy()
    is_control = (traffic.feedback["group"] == "control").fill_null(False).to_numpy()
    overall = two_proportion_ztest(
        int(labels[is_control].sum()),
        int(is_control.sum()),
        int(labels[~is_control].sum()),
        int((~is_control).sum()),
    )
    assert got.z_test == overall


def test_a_healthy_run_is_not_flagged() -> None:
    for seed in range(3):
        got = report(recommender(seed=seed))
        assert not got.narrowing and not got.diverging and got.flags == [], got.flags
        assert got.prediction_kind == "classes" and got.outcome_kind == "binary"
        daily = report(recommender(seed=seed), window=DAY)
        assert daily.flags == []


def test_a_shrinking_recommender_is_flagged_narrowing() -> None:
    got = report(recommender(items=[100, 60, 30, 10]))
    assert [w.flags for w in got.windows] == [[], *[["narrowing_predictions"]] * 3]
    # the control group (a fifth of the traffic) is still shown every item: no fewer entities
    assert [w.entities for w in got.windows] == [100, 100, 99, 100]
    last = got.windows[-1]
    assert last.distinct_predictions == 10 and last.distinct_trend == pytest.approx(0.1)
    assert got.narrowing and not got.diverging
    assert {"start": "2026-02-12T00:00:00.000000Z", "flag": "narrowing_predictions"} in got.flags


def test_a_shrinking_served_set_is_flagged_narrowing_entities() -> None:
    got = report(recommender(items=[100, 90, 30, 10], control_share=0.0))
    assert [w.entities for w in got.windows] == [100, 90, 30, 10]
    assert [w.flags for w in got.windows] == [
        [],
        [],
        ["narrowing_predictions", "narrowing_entities"],
        ["narrowing_predictions", "narrowing_entities"],
    ]
    assert got.windows[2].entities_trend == pytest.approx(0.3)
    assert got.z_test is None  # no control group, no test


def test_control_diverging_from_the_model_is_flagged() -> None:
    got = report(recommender(model_rate=[0.10, 0.10, 0.16, 0.18], per_day=600))
    assert [("diverging" in w.flags) for w in got.windows] == [False, False, True, True]
    assert got.diverging and not got.narrowing
    late = got.windows[3].z_test
    assert late is not None and late.pvalue < 0.01 and late.difference > 0.05


def test_numeric_predictions_narrow_by_their_spread() -> None:
    rng = np.random.default_rng(5)
    n = 500
    times = [T0 + d * DAY + (i + 0.5) * DAY / n for d in range(4) for i in range(n)]
    spread = np.repeat([1.0, 0.95, 0.5, 0.3], n)
    predictions = rng.normal(3.0, 1.0, 4 * n) * spread
    feedback = pl.DataFrame(
        {"timestamp": times, "prediction": predictions, "label": rng.normal(3, 1, 4 * n)},
        schema_overrides={"timestamp": UTC_US},
    )
    got = feedback_loop_report(feedback, window=DAY)
    assert got.prediction_kind == "numeric" and got.outcome_kind == "numeric"
    stds = [float(np.std(predictions[k * n : (k + 1) * n], ddof=1)) for k in range(4)]
    assert [w.prediction_std for w in got.windows] == pytest.approx(stds, rel=1e-12)
    assert [w.std_trend for w in got.windows[1:]] == pytest.approx([s / stds[0] for s in stds[1:]])
    assert [w.flags for w in got.windows] == [
        [],
        [],
        ["narrowing_predictions"],
        ["narrowing_predictions"],
    ]
    assert got.windows[0].entities is None  # no serving log given
    assert got.z_test is None  # numeric outcomes: no z-test
    assert got.groups[0].metrics is not None and "mae" in got.groups[0].metrics


def test_binary_classifier_groups_get_their_performance() -> None:
    rng = np.random.default_rng(2)
    n = 600
    labels = (rng.random(n) < 0.4).astype(int)
    scores = np.clip(labels * 0.6 + rng.random(n) * 0.5, 0, 1)
    groups = np.where(np.arange(n) % 3 == 0, "control", "model")
    feedback = pl.DataFrame(
        {
            "timestamp": [T0 + i * dt.timedelta(minutes=1) for i in range(n)],
            "prediction": scores,
            "label": labels,
            "group": groups,
        },
        schema_overrides={"timestamp": UTC_US},
    )
    got = feedback_loop_report(feedback, window=DAY)
    assert [g.group for g in got.groups] == ["control", "model"]
    model = got.groups[1]
    mask = groups == "model"
    y, yhat = labels[mask], (scores[mask] >= 0.5).astype(int)
    tp, fp, fn = (
        int(((y == 1) & (yhat == 1)).sum()),
        int(((y == 0) & (yhat == 1)).sum()),
        int(((y == 1) & (yhat == 0)).sum()),
    )
    assert model.metrics is not None
    assert model.metrics["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert model.outcome_rate == pytest.approx(y.mean())
    assert got.prediction_kind == "numeric"  # scores: their spread is the diversity


def test_report_shapes() -> None:
    got = report(recommender(items=[100, 60, 30, 10], weeks=4, control_share=0.0))
    data = got.to_dict()
    json.dumps(data)  # JSON-ready as it is
    assert list(data) == [
        "window",
        "control",
        "prediction_kind",
        "outcome_kind",
        "narrowing",
        "diverging",
        "flags",
        "windows",
        "overall",
        "thresholds",
        "diverging_alpha",
        "notes",
    ]
    assert data["window"] == "P7D" and data["windows"][0]["start"] == "2026-01-29T00:00:00.000000Z"
    assert set(data["windows"][0]) >= {
        "entities",
        "distinct_predictions",
        "top_share",
        "z_test",
        "groups",
    }
    [note] = got.notes  # item ids are no class of 0/1 labels: said once
    assert note.startswith("no performance metrics: The prediction 'item_")
    text = str(got)
    assert text.splitlines()[0] == "feedback loops per P7D (control group 'control')"
    assert "narrowing_predictions, narrowing_entities" in text
    assert "flags: narrowing" in text


def test_bad_input_is_refused() -> None:
    frame = recommender(weeks=1, per_day=10).feedback
    with pytest.raises(RequestError, match="lacks column 'label'"):
        feedback_loop_report(frame.drop("label"))
    with pytest.raises(RequestError, match="must be a Datetime"):
        feedback_loop_report(frame.with_columns(pl.col("timestamp").cast(pl.String)))
    with pytest.raises(RequestError, match="positive duration"):
        feedback_loop_report(frame, window=dt.timedelta(0))
    with pytest.raises(ConfigError, match="alpha must be in"):
        FeedbackLoopThresholds(alpha=0)
    empty = feedback_loop_report(frame.clear())
    assert empty.windows == [] and empty.prediction_kind is None and not empty.narrowing
    assert two_proportion_ztest(0, 10, 0, 20) is None and two_proportion_ztest(1, 0, 1, 2) is None


def test_windows_at_the_ends_of_the_calendar() -> None:
    times = [dt.datetime(1, 1, 1, tzinfo=dt.UTC), dt.datetime(9999, 12, 31, 23, tzinfo=dt.UTC)]
    feedback = pl.DataFrame(
        {"timestamp": times, "prediction": ["a", "b"], "label": [1, 0]},
        schema_overrides={"timestamp": UTC_US},
    )
    got = feedback_loop_report(feedback, window=WEEK)
    first, last = got.to_dict()["windows"]
    assert (first["start"], last["end"]) == (
        "0001-01-01T00:00:00.000000Z",
        "9999-12-31T23:59:59.999999Z",
    )
    assert str(got)
