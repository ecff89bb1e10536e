"""The rollout report's figures from hand-made log and feedback frames (no store needed): the
two-proportion z-test of the arms and the value differences of shadow rows."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import polars as pl
import pytest

from featurestore.online.encoding import pack_value
from featurestore.parity.rollout_report import rollout_report

T0 = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
UTC_US = pl.Datetime("us", "UTC")
ROLLOUT = {"id": 1, "view": "v", "baseline_version": 1, "candidate_version": 2}


def log(rows: list[tuple[str, Any, Any]]) -> pl.DataFrame:
    """Shadow rows of view ``v``: (feature, candidate value, served value)."""
    return pl.DataFrame(
        {
            "view": ["v"] * len(rows),
            "feature": [r[0] for r in rows],
            "value": [pack_value(r[1]) for r in rows],
            "served_value": [pack_value(r[2]) for r in rows],
            "keys": [pack_value({"driver_id": i}) for i in range(len(rows))],
            "requested_at": [T0] * len(rows),
            "arm": ["shadow"] * len(rows),
        },
        schema_overrides={"requested_at": UTC_US, "value": pl.Binary, "served_value": pl.Binary},
    )


def feedback(arms: dict[str, tuple[int, int]], control: int = 0) -> pl.DataFrame:
    """``arm -> (outcomes, rows)`` of binary feedback, plus ``control`` rows of the control
    group in the current arm, every one an outcome (the report leaves them out)."""
    rows = [(arm, int(i < x), None) for arm, (x, n) in arms.items() for i in range(n)]
    rows += [("current", 1, "control")] * control
    return pl.DataFrame(
        {
            "timestamp": [T0 + dt.timedelta(minutes=i) for i in range(len(rows))],
            "prediction": [i % 2 for i in range(len(rows))],
            "label": [r[1] for r in rows],
            "group": [r[2] for r in rows],
            "arm": [r[0] for r in rows],
        },
        schema_overrides={"timestamp": UTC_US, "group": pl.String, "arm": pl.String},
    )


def test_the_z_test_equals_a_hand_computation() -> None:
    report = rollout_report(
        ROLLOUT,
        shadow=log([]),
        served=log([]),
        feedback=feedback({"current": (12, 40), "candidate": (25, 50)}, control=30),
    )
    z_test = report.z_test
    assert z_test is not None
    pooled = (12 + 25) / (40 + 50)
    z = (25 / 50 - 12 / 40) / math.sqrt(pooled * (1 - pooled) * (1 / 40 + 1 / 50))
    assert (z_test.n_control, z_test.n_rest) == (40, 50)  # the control group is left out
    assert (z_test.control_rate, z_test.rest_rate) == (pytest.approx(0.3), pytest.approx(0.5))
    assert z_test.z == pytest.approx(z, rel=1e-12)
    assert z_test.pvalue == pytest.approx(math.erfc(abs(z) / math.sqrt(2)), rel=1e-9)
    assert z == pytest.approx(1.9161, abs=1e-4)  # by hand: 0.2 / sqrt(37/90 * 53/90 * 0.045)
    arms = {a.arm: a for a in report.arms}
    assert (arms["current"].n, arms["candidate"].n) == (40, 50)


def test_no_z_test_without_both_arms() -> None:
    report = rollout_report(
        ROLLOUT, shadow=log([]), served=log([]), feedback=feedback({"candidate": (3, 10)})
    )
    assert report.z_test is None
    assert [a.arm for a in report.arms] == ["candidate"]


def test_value_differences_of_the_shadow_rows() -> None:
    shadow = log(
        [
            ("x", 2.0, 1.0),  # mismatch: |diff| 1, SMAPE 2/3
            ("x", 1.0, 1.0 + 1e-12),  # a match within 1e-9 relative
            ("x", 3, 6),  # mismatch: |diff| 3, SMAPE 2/3
            ("x", None, 4.0),  # the candidate has no value
            ("s", "a", "a"),
        ]
    )
    report = rollout_report(ROLLOUT, shadow=shadow, served=log([]), feedback=feedback({}))
    by_feature = {v.feature: v for v in report.values}
    assert [v.feature for v in report.values] == ["s", "x"]
    x = by_feature["x"]
    assert (x.total, x.match, x.mismatch) == (4, 1, 3)
    assert (x.both_null, x.current_null, x.candidate_null) == (0, 0, 1)
    assert x.mean_abs_diff == pytest.approx(2.0) and x.max_abs_diff == pytest.approx(3.0)
    assert x.smape == pytest.approx(2 / 3)
    assert [(e["current"], e["candidate"]) for e in x.examples] == [(1.0, 2.0), (6, 3), (4.0, None)]
    assert x.examples[0]["keys"] == {"driver_id": 0}
    assert (by_feature["s"].total, by_feature["s"].match) == (1, 1)
