"""ADWIN and DDM over error streams: detection after a known jump, silence on a stationary one.

Bounds (river 0.26 defaults, measured over 30 seeds): ADWIN checks every 32 items and fires 47-79
items after a 0.05 -> 0.5 error-rate jump; DDM fires 7-169 items after it. The tests allow ADWIN
100 items and DDM 250. DDM (unlike ADWIN) also raises early false alarms on a stationary 5% error
stream (in about half the seeds: its warm-up of 30 items leaves a small minimum error rate), so
only ADWIN is required to stay silent before the jump.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from river.drift import ADWIN
from river.drift.binary import DDM

from featurestore.errors import RequestError
from featurestore.parity import Alarm, run_detectors

JUMP = 2_000
ADWIN_DELAY = 100
DDM_DELAY = 250


def jump_stream(seed: int) -> list[float]:
    g = np.random.default_rng(seed)
    errors = np.concatenate([g.random(JUMP) < 0.05, g.random(JUMP) < 0.5])
    return errors.astype(float).tolist()


@pytest.mark.parametrize("seed", range(5))
def test_both_detectors_fire_soon_after_the_error_rate_jumps(seed: int) -> None:
    alarms = run_detectors(jump_stream(seed))
    adwin = [a.index for a in alarms if a.detector == "ADWIN"]
    ddm = [a.index for a in alarms if a.detector == "DDM"]
    assert adwin and min(adwin) >= JUMP, adwin
    assert min(adwin) <= JUMP + ADWIN_DELAY
    assert any(JUMP <= i <= JUMP + DDM_DELAY for i in ddm), ddm


@pytest.mark.parametrize("seed", range(5))
def test_adwin_is_silent_on_a_stationary_stream(seed: int) -> None:
    errors = (np.random.default_rng(100 + seed).random(4_000) < 0.05).astype(float).tolist()
    assert [a for a in run_detectors(errors) if a.detector == "ADWIN"] == []


def test_the_wrapper_reports_what_river_reports() -> None:
    errors = jump_stream(7)
    adwin, ddm = ADWIN(), DDM()
    expected = []
    for i, e in enumerate(errors):
        adwin.update(e)
        if adwin.drift_detected:
            expected.append(Alarm("ADWIN", i))
        ddm.update(bool(e))
        if ddm.drift_detected:
            expected.append(Alarm("DDM", i))
    assert run_detectors(errors) == expected


def test_alarms_carry_the_request_time() -> None:
    errors = jump_stream(1)
    start = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    times = [start + dt.timedelta(seconds=i) for i in range(len(errors))]
    alarms = run_detectors(errors, times)
    assert alarms
    for alarm in alarms:
        assert alarm.timestamp == times[alarm.index]
        out = alarm.to_dict()
        assert list(out) == ["detector", "timestamp", "index"]
        assert out["timestamp"].endswith("Z")


def test_absolute_errors_run_adwin_only() -> None:
    g = np.random.default_rng(3)
    errors = np.abs(np.concatenate([g.normal(0, 1, 1_500), g.normal(0, 4, 1_500)])).tolist()
    alarms = run_detectors(errors)
    assert alarms and {a.detector for a in alarms} == {"ADWIN"}
    assert min(a.index for a in alarms) >= 1_500
    assert run_detectors([0.0, 1.0, 1.0], binary=False) == []


def test_bad_streams_are_request_errors() -> None:
    with pytest.raises(RequestError, match="3 errors but 2 times"):
        run_detectors([0, 1, 0], [dt.datetime(2026, 1, 1)] * 2)
    with pytest.raises(RequestError, match="not a finite number"):
        run_detectors([0.0, float("nan")])
    with pytest.raises(RequestError, match="0 or 1 only"):
        run_detectors([0.0, 0.5], binary=True)
