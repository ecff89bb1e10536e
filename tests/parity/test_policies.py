"""Retraining policies on generated data with known answers: each trigger alone, combined, and the
cooldown, evaluated once a day over a month (the day a trigger must fire is planted).

The data comes from frames through the ``PolicyData`` protocol (the store's own implementation is
tested in ``test_acting_store.py``). Day ``d`` is ``[T0 + (d - 1) days, T0 + d days)`` and is
judged by the decision at ``T0 + d days``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
import pytest
from scipy.stats import chi2_contingency

from featurestore import RetrainPolicy
from featurestore.errors import NotFoundError, RequestError
from featurestore.parity import PolicyDecision, evaluate_policy

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
UTC_US = pl.Datetime("us", "UTC")
FEATURES = [("trips", "a"), ("trips", "b"), ("trips", "c")]
DECILES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]


@dataclass
class Frames:
    """Generated data behind the PolicyData protocol."""

    reference_frame: pl.DataFrame
    saved_at: dt.datetime | None = T0
    served_frame: pl.DataFrame = field(default_factory=pl.DataFrame)
    feedback_frame: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(
            schema={
                "timestamp": UTC_US,
                "prediction": pl.Int64,
                "label": pl.Int64,
                "group": pl.String,
            }
        )
    )
    name: str = "train"

    def reference(self, name: str) -> tuple[pl.DataFrame, dt.datetime]:
        if self.saved_at is None or name != self.name:
            raise NotFoundError(f"dataset {name!r} is not saved in project 'test'")
        return self.reference_frame, self.saved_at

    def served(
        self, columns: Sequence[str], since: dt.datetime, until: dt.datetime
    ) -> pl.DataFrame:
        if self.served_frame.height == 0:
            return pl.DataFrame()
        rows = self.served_frame.filter(
            pl.col("requested_at").is_between(since, until, closed="left")
        )
        return (
            rows.select([c for c in columns if c in rows.columns])
            if rows.height
            else pl.DataFrame()
        )

    def feedback(self, since: dt.datetime, until: dt.datetime) -> pl.DataFrame:
        return self.feedback_frame.filter(
            pl.col("timestamp").is_between(since, until, closed="left")
        )

    def first_prediction_at(self, since: dt.datetime) -> dt.datetime | None:
        rows = self.feedback_frame.filter(
            (pl.col("timestamp") >= since)
            & pl.col("prediction").is_not_null()
            & (pl.col("group").is_null() | (pl.col("group") != "control"))
        )
        first = rows["timestamp"].min()
        assert first is None or isinstance(first, dt.datetime)
        return first


def run(policy: RetrainPolicy, data: Frames, last_day: int = 30) -> dict[int, PolicyDecision]:
    """A decision at the end of each day, remembering the last decision to retrain."""
    decisions: dict[int, PolicyDecision] = {}
    last: dt.datetime | None = None
    for day in range(1, last_day + 1):
        decision = evaluate_policy(
            policy, data, now=T0 + day * DAY, features=FEATURES, last_retrain_at=last
        )
        decisions[day] = decision
        if decision.retrain:
            last = decision.evaluated_at
    return decisions


def retrain_days(decisions: dict[int, PolicyDecision]) -> list[int]:
    return [day for day, d in decisions.items() if d.retrain]


def fired_days(decisions: dict[int, PolicyDecision], trigger: str) -> list[int]:
    return [day for day, d in decisions.items() if trigger in d.fired]


def policy(**kwargs: Any) -> RetrainPolicy:
    return RetrainPolicy("retrain", service="svc", reference="train", **kwargs)


# -- generated data ---------------------------------------------------------------------------------


def confusion_rows(
    day: int, tp: int, fp: int, fn: int, tn: int, group: str | None = None
) -> pl.DataFrame:
    """A day of labelled predictions with exactly this confusion matrix, spread over the day."""
    predictions = [1] * tp + [1] * fp + [0] * fn + [0] * tn
    labels = [1] * tp + [0] * fp + [1] * fn + [0] * tn
    n = len(labels)
    start = T0 + (day - 1) * DAY
    times = [start + (i + 0.5) * DAY / n for i in range(n)]
    return pl.DataFrame(
        {"timestamp": times, "prediction": predictions, "label": labels, "group": [group] * n},
        schema={"timestamp": UTC_US, "prediction": pl.Int64, "label": pl.Int64, "group": pl.String},
    )


def f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn)


GOOD = (120, 15, 15, 150)  # F1 0.889
BAD = (100, 35, 35, 130)  # F1 0.741: the same 135 predicted positives, so no prediction drift


def performance_feedback(
    bad_from: int, days: int = 30, short_day: int | None = None
) -> pl.DataFrame:
    frames = []
    for day in range(1, days + 1):
        counts = BAD if day >= bad_from else GOOD
        if day == short_day:
            counts = tuple(c // 2 for c in counts)  # 149 labels: under min_labels
        frames.append(confusion_rows(day, *counts))
        # the control group is served without the model: its "predictions" are all wrong, so
        # counting it would sink F1 below the floor from day 1
        frames.append(confusion_rows(day, 0, 50, 50, 0, group="control"))
    return pl.concat(frames).sort("timestamp")


def reference_frame(seed: int = 0, n: int = 2000) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame({name: rng.normal(0, 1, n) for _, name in FEATURES})


def served_days(shifts: dict[int, dict[str, float]], days: int = 30, n: int = 500) -> pl.DataFrame:
    """``n`` served rows a day; ``shifts[day][feature]`` moves that feature's mean that day on."""
    rng = np.random.default_rng(1)
    frames = []
    current: dict[str, float] = {}
    for day in range(1, days + 1):
        current |= shifts.get(day, {})
        start = T0 + (day - 1) * DAY
        frame = {name: rng.normal(current.get(name, 0.0), 1, n) for _, name in FEATURES}
        frames.append(
            pl.DataFrame(frame).with_columns(
                requested_at=pl.Series(
                    [start + (i + 0.5) * DAY / n for i in range(n)], dtype=UTC_US
                )
            )
        )
    return pl.concat(frames)


def psi_by_hand(ref: np.ndarray, cur: np.ndarray) -> float:
    edges = np.unique(np.quantile(ref, DECILES))
    r = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=edges.size + 1) / ref.size
    c = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=edges.size + 1) / cur.size
    r, c = np.where(r == 0, 1e-4, r), np.where(c == 0, 1e-4, c)
    return float(np.sum((c - r) * np.log(c / r)))


# -- each trigger alone ------------------------------------------------------------------------------


def test_performance_fires_on_the_day_f1_falls_below_the_floor() -> None:
    data = Frames(reference_frame(), feedback_frame=performance_feedback(bad_from=12))
    decisions = run(policy(performance={"f1": 0.80}, min_labels=200, cooldown=None), data)
    assert fired_days(decisions, "performance") == list(range(12, 31))
    assert retrain_days(decisions) == list(range(12, 31))  # no cooldown: every bad day
    day12, day11 = decisions[12], decisions[11]
    perf = day12.trigger("performance")
    assert perf is not None and perf.status == "fired"
    assert perf.figures["metrics"]["f1"] == pytest.approx(f1(*BAD[:3]), abs=1e-12)
    assert perf.figures["n_labelled"] == 300  # the control group's 100 rows are left out
    assert perf.figures["breached"] == ["f1"]
    assert "f1 0.7407 < 0.8 over 300 labelled predictions" in day12.reason
    assert day12.reason.startswith("retrain: ")
    assert day11.trigger("performance").figures["metrics"]["f1"] == pytest.approx(f1(*GOOD[:3]))  # type: ignore[union-attr]
    assert not day11.retrain and day11.reason.startswith(
        "no retrain: no trigger fired (f1 0.8889 >= 0.8"
    )


def test_too_few_labels_never_fire() -> None:
    data = Frames(reference_frame(), feedback_frame=performance_feedback(bad_from=12, short_day=13))
    decisions = run(policy(performance={"f1": 0.80}, min_labels=200, cooldown=None), data, 14)
    assert fired_days(decisions, "performance") == [12, 14]
    short = decisions[13].trigger("performance")
    assert short is not None and short.status == "insufficient_data"
    assert short.reason == "149 labelled predictions in the window, fewer than min_labels 200"


def test_accuracy_floor_and_a_metric_the_feedback_cannot_give() -> None:
    data = Frames(reference_frame(), feedback_frame=performance_feedback(bad_from=5))
    decisions = run(policy(performance={"accuracy": 0.85, "roc_auc": 0.7}, cooldown=None), data, 6)
    # accuracy: good days 270/300 = 0.9, bad ones 230/300; predicted classes carry no scores
    assert fired_days(decisions, "performance") == [5, 6]
    figures = decisions[5].trigger("performance").figures  # type: ignore[union-attr]
    assert figures["metrics"] == {"accuracy": pytest.approx(230 / 300), "roc_auc": None}
    assert figures["breached"] == ["accuracy"]
    assert "roc_auc not available (classification)" in decisions[4].reason


def test_regression_errors_fire_above_their_ceiling() -> None:
    frames = []
    for day in range(1, 7):
        start, error = T0 + (day - 1) * DAY, (0.3 if day < 4 else 0.7)
        labels = np.linspace(0, 10, 300)
        frames.append(
            pl.DataFrame(
                {
                    "timestamp": [start + (i + 0.5) * DAY / 300 for i in range(300)],
                    "prediction": labels + np.where(np.arange(300) % 2, error, -error),
                    "label": labels,
                    "group": [None] * 300,
                },
                schema_overrides={"timestamp": UTC_US, "group": pl.String},
            )
        )
    data = Frames(reference_frame(), feedback_frame=pl.concat(frames))
    decisions = run(policy(performance={"mae": 0.5, "rmse": 0.5}, cooldown=None), data, 6)
    assert fired_days(decisions, "performance") == [4, 5, 6]
    figures = decisions[4].trigger("performance").figures  # type: ignore[union-attr]
    assert figures["task"] == "regression" and figures["breached"] == ["mae", "rmse"]
    assert figures["metrics"]["mae"] == pytest.approx(0.7) and figures["metrics"][
        "rmse"
    ] == pytest.approx(0.7)
    assert "mae 0.3 <= 0.5" in decisions[3].reason


def test_age_counts_from_the_reference_or_the_last_retrain() -> None:
    data = Frames(reference_frame())
    decisions = run(policy(max_age=10 * DAY, cooldown=None), data)
    # day 10: ten days after the reference was saved; day 20: ten days after that retrain
    assert retrain_days(decisions) == [10, 20, 30]
    age = decisions[10].trigger("age")
    assert age is not None and age.figures["since_what"] == "reference saved"
    assert age.figures["age_seconds"] == 10 * 86400 and age.reason.startswith(
        "age 10 d >= max_age 10 d"
    )
    later = decisions[15].trigger("age")
    assert later is not None and later.status == "ok"
    assert (later.figures["since_what"], later.figures["age_seconds"]) == (
        "last retrain decided",
        5 * 86400,
    )


def test_resaving_the_reference_restarts_the_age() -> None:
    data = Frames(reference_frame())
    pol = policy(max_age=10 * DAY, cooldown=None)
    first = run(pol, data, 12)
    assert retrain_days(first) == [10]
    data.saved_at = T0 + 15 * DAY  # the model was retrained on day 15
    last = first[10].evaluated_at
    days = {}
    for day in range(13, 31):
        days[day] = evaluate_policy(
            pol, data, now=T0 + day * DAY, features=FEATURES, last_retrain_at=last
        )
        if days[day].retrain:
            last = days[day].evaluated_at
    assert retrain_days(days) == [25]


def test_drift_fires_when_enough_features_drift() -> None:
    ref = reference_frame()
    shifts = {5: {"a": 1.0}, 6: {"a": 0.0}, 10: {"a": 1.0, "b": 1.0}}
    data = Frames(ref, served_frame=served_days(shifts))
    decisions = run(policy(drift={"psi": 0.25, "min_features": 2}, cooldown=None), data)
    assert fired_days(decisions, "drift") == list(range(10, 31))
    day5 = decisions[5].trigger("drift")
    assert day5 is not None and day5.status == "ok" and day5.figures["drifted"] == ["a"]
    assert "1 of 3 features drifted (psi > 0.25): a; min_features 2" in day5.reason
    day10 = decisions[10].trigger("drift")
    assert day10 is not None and day10.figures["drifted"] == ["a", "b"]
    served = data.served_frame.filter(
        pl.col("requested_at").is_between(T0 + 9 * DAY, T0 + 10 * DAY, closed="left")
    )
    for name in ("a", "b", "c"):  # the figures are the PSI an independent computation gives
        expected = psi_by_hand(ref[name].to_numpy(), served[name].to_numpy())
        assert day10.figures["features"][name]["psi"] == pytest.approx(expected, rel=1e-9)
    assert day10.figures["features"]["c"]["psi"] < 0.1 < day10.figures["features"]["a"]["psi"]


def test_drift_needs_enough_values_and_served_features() -> None:
    data = Frames(reference_frame(), served_frame=served_days({}, days=2, n=50))
    decisions = run(policy(drift={"psi": 0.25}, cooldown=None), data, 3)
    low = decisions[1].trigger("drift")
    assert low is not None and low.status == "insufficient_data"
    assert low.reason == "no feature has 100 values on both sides"
    assert low.figures["features"]["a"]["insufficient_data"] is True
    none = decisions[3].trigger("drift")  # nothing served on day 3
    assert none is not None and none.status == "insufficient_data"
    assert none.figures["not_served"] == ["a", "b", "c"]


def test_drift_by_ks_only_counts_the_named_statistic() -> None:
    data = Frames(reference_frame(), served_frame=served_days({3: {"a": 0.5}}, days=4))
    decisions = run(policy(drift={"ks_pvalue": 0.001}, cooldown=None), data, 4)
    assert fired_days(decisions, "drift") == [3, 4]
    figures = decisions[3].trigger("drift").figures  # type: ignore[union-attr]
    assert figures["features"]["a"]["crossed"] == ["ks_pvalue"]
    assert set(figures["features"]["a"]) >= {"ks_pvalue", "n_reference", "n_current"}
    assert "psi" not in figures["features"]["a"]


def prediction_feedback(shift_day: int, days: int = 12) -> pl.DataFrame:
    """300 predictions a day: 135 positive before ``shift_day``, 195 from it on."""
    frames = []
    for day in range(1, days + 1):
        ones = 195 if day >= shift_day else 135
        frames.append(confusion_rows(day, ones, 0, 0, 300 - ones))
    frame = pl.concat(frames)
    # the first prediction is at T0 exactly, so the baseline is day 1
    return frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(T0)
        .otherwise(pl.col("timestamp"))
        .alias("timestamp")
    )


def test_prediction_drift_against_the_first_day_of_predictions() -> None:
    data = Frames(reference_frame(), feedback_frame=prediction_feedback(shift_day=8))
    decisions = run(policy(prediction_drift={"chi2_pvalue": 0.01}, cooldown=None), data, 12)
    assert fired_days(decisions, "prediction_drift") == [8, 9, 10, 11, 12]
    first = decisions[1].trigger("prediction_drift")
    assert first is not None and first.status == "insufficient_data" and "overlaps" in first.reason
    day8 = decisions[8].trigger("prediction_drift")
    assert day8 is not None
    expected = chi2_contingency(np.array([[165, 135], [105, 195]])).pvalue
    assert day8.figures["pvalue"] == pytest.approx(expected, rel=1e-12)
    assert (
        day8.figures["baseline"]
        == "predictions from 2026-03-01T00:00:00.000000Z to 2026-03-02T00:00:00.000000Z"
    )
    day7 = decisions[7].trigger("prediction_drift")
    assert day7 is not None and day7.status == "ok" and day7.figures["pvalue"] == pytest.approx(1.0)


def test_prediction_drift_against_the_reference_prediction_column() -> None:
    ref = reference_frame(n=300).with_columns(prediction=pl.Series([1] * 135 + [0] * 165))
    data = Frames(ref, feedback_frame=prediction_feedback(shift_day=3, days=4))
    decisions = run(policy(prediction_drift={"chi2_pvalue": 0.01}, cooldown=None), data, 4)
    assert fired_days(decisions, "prediction_drift") == [3, 4]  # day 1 is judged too
    assert (
        decisions[1].trigger("prediction_drift").figures["baseline"]
        == "column 'prediction' of 'train'"
    )  # type: ignore[union-attr]


# -- combined, and the cooldown -----------------------------------------------------------------------


def test_cooldown_spaces_retrains_but_records_what_fired() -> None:
    data = Frames(reference_frame(), feedback_frame=performance_feedback(bad_from=12))
    decisions = run(policy(performance={"f1": 0.80}, cooldown=3 * DAY), data)
    assert retrain_days(decisions) == [12, 15, 18, 21, 24, 27, 30]
    day13 = decisions[13]
    assert day13.fired == ["performance"] and not day13.retrain
    assert day13.cooldown_until == T0 + 15 * DAY and day13.last_retrain_at == T0 + 12 * DAY
    assert day13.reason.startswith(
        "no retrain: cooling down until 2026-03-16T00:00:00.000000Z after the retrain decided at "
        "2026-03-13T00:00:00.000000Z; fired: f1 0.7407 < 0.8"
    )
    assert decisions[11].cooldown_until is None


def test_all_triggers_together() -> None:
    ref = reference_frame()
    data = Frames(
        ref,
        served_frame=served_days({10: {"a": 1.0, "b": 1.0}}),
        feedback_frame=performance_feedback(bad_from=12),
    )
    pol = policy(
        max_age=timedelta_days(40),
        performance={"f1": 0.80},
        drift={"psi": 0.25, "min_features": 2},
        prediction_drift={"chi2_pvalue": 0.01},
        min_labels=200,
        cooldown=5 * DAY,
    )
    decisions = run(pol, data)
    assert [t.trigger for t in decisions[1].triggers] == [
        "age",
        "performance",
        "drift",
        "prediction_drift",
    ]
    assert {t.trigger: t.status for t in decisions[5].triggers} == {
        "age": "ok",
        "performance": "ok",
        "drift": "ok",
        "prediction_drift": "ok",
    }
    assert fired_days(decisions, "drift") == list(range(10, 31))
    assert fired_days(decisions, "performance") == list(range(12, 31))
    assert fired_days(decisions, "prediction_drift") == []
    assert retrain_days(decisions) == [10, 15, 20, 25, 30]
    assert decisions[10].fired == ["drift"]
    assert decisions[12].fired == ["performance", "drift"] and not decisions[12].retrain
    assert decisions[15].fired == ["performance", "drift"] and decisions[15].retrain
    # the age restarts with every retrain, so it never fires here
    assert fired_days(decisions, "age") == []
    assert decisions[30].trigger("age").figures["age_seconds"] == 5 * 86400  # type: ignore[union-attr]


def test_age_alone_among_healthy_triggers() -> None:
    data = Frames(
        reference_frame(),
        served_frame=served_days({}),
        feedback_frame=performance_feedback(bad_from=99),
    )
    pol = policy(max_age=20 * DAY, performance={"f1": 0.8}, drift={"psi": 0.25}, cooldown=DAY)
    decisions = run(pol, data)
    assert retrain_days(decisions) == [20]
    assert decisions[20].fired == ["age"] and decisions[20].reason.startswith("retrain: age 20 d")


def test_a_missing_reference_is_an_error_not_a_crash() -> None:
    data = Frames(reference_frame(), saved_at=None, feedback_frame=performance_feedback(bad_from=2))
    pol = policy(
        max_age=DAY,
        performance={"f1": 0.8},
        drift={"psi": 0.2},
        prediction_drift={"chi2_pvalue": 0.01},
    )
    decisions = run(pol, data, 2)
    statuses = {t.trigger: (t.status, t.reason) for t in decisions[1].triggers}
    assert statuses["age"][0] == "insufficient_data"
    assert statuses["drift"] == (
        "error",
        "no reference: dataset 'train' is not saved in project 'test'",
    )
    assert statuses["prediction_drift"][0] == "error"
    assert not decisions[1].retrain and decisions[2].retrain  # performance still decides
    assert decisions[2].fired == ["performance"]


def test_decisions_round_trip_and_read_well() -> None:
    data = Frames(reference_frame(), feedback_frame=performance_feedback(bad_from=2))
    decisions = run(policy(performance={"f1": 0.8}, max_age=30 * DAY), data, 3)
    for decision in decisions.values():
        assert PolicyDecision.from_dict(decision.to_dict()) == decision
    text = str(decisions[2])
    assert text.splitlines()[0] == "policy retrain v1 (svc) at 2026-03-03T00:00:00.000000Z: RETRAIN"
    assert "performance  FIRED" in text and "age          ok" in text
    as_dict = decisions[2].to_dict()
    assert as_dict["window"] == {
        "start": "2026-03-02T00:00:00.000000Z",
        "end": "2026-03-03T00:00:00.000000Z",
    }
    assert as_dict["fired"] == ["performance"] and as_dict["retrain"] is True


def timedelta_days(n: int) -> dt.timedelta:
    return n * DAY


def test_dates_at_the_ends_of_the_calendar() -> None:
    data = Frames(reference_frame(), feedback_frame=performance_feedback(bad_from=1, days=1))
    pol = policy(max_age=dt.timedelta(minutes=1), performance={"f1": 0.8})
    first = dt.datetime(1, 1, 1, tzinfo=dt.UTC)
    with pytest.raises(RequestError, match=r"now 0001-01-01T00:00:00\.000000Z is too early"):
        evaluate_policy(pol, data, now=first, features=FEATURES)
    early = evaluate_policy(pol, data, now=first + DAY, features=FEATURES)
    assert early.to_dict()["window"]["start"] == "0001-01-01T00:00:00.000000Z"
    assert PolicyDecision.from_dict(early.to_dict()) == early
    last = dt.datetime(9999, 12, 31, 23, tzinfo=dt.UTC)
    late = evaluate_policy(
        pol, data, now=last, features=FEATURES, last_retrain_at=last - dt.timedelta(minutes=5)
    )
    assert late.fired == ["age"] and not late.retrain  # cooling down: until the calendar ends
    assert late.cooldown_until == dt.datetime.max.replace(tzinfo=dt.UTC)
    assert PolicyDecision.from_dict(late.to_dict()) == late
