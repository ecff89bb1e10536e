"""The policy decision log and feedback groups, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from test_registry_race import race

from featurestore.errors import ConflictError, RequestError
from featurestore.registry import Registry

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def decision(policy: str, at: datetime, retrain: bool, **extra: Any) -> dict[str, Any]:
    return {
        "policy": policy,
        "policy_version": 1,
        "evaluated_at": at.isoformat().replace("+00:00", "Z"),
        "retrain": retrain,
        **extra,
    }


def test_decisions_are_logged_and_read_back_newest_first(registry: Registry) -> None:
    seen: list[datetime | None] = []
    for day, retrain in ((1, False), (2, True), (3, False), (4, True), (5, False)):
        at = T0 + timedelta(days=day)

        def make(last: datetime | None, at: datetime = at, retrain: bool = retrain) -> Any:
            seen.append(last)
            return decision("p", at, retrain, figures={"day": at.day})

        registry.record_decision("p", at, make)
    day = timedelta(days=1)
    assert seen == [None, None, T0 + 2 * day, T0 + 2 * day, T0 + 4 * day]
    registry.record_decision("q", T0, lambda last: decision("q", T0, True))
    got = registry.decisions("p")
    assert [d["figures"]["day"] for d in got] == [6, 5, 4, 3, 2]
    assert got[0]["evaluated_at"] == "2026-01-06T00:00:00Z"  # exactly as given
    assert [d["figures"]["day"] for d in registry.decisions("p", retrain=True)] == [5, 3]
    window = registry.decisions("p", since=T0 + 2 * day, until=T0 + 4 * day)
    assert [d["figures"]["day"] for d in window] == [4, 3]
    assert len(registry.decisions(limit=2)) == 2
    assert {d["policy"] for d in registry.decisions()} == {"p", "q"}
    # the last retrain is looked up as of the decision's time, not the latest one recorded
    registry.record_decision(
        "p", T0 + 3 * day, lambda last: seen.append(last) or decision("p", T0, False)
    )
    assert seen[-1] == T0 + 2 * day


def test_a_bad_decision_is_refused_and_stores_nothing(registry: Registry) -> None:
    with pytest.raises(RequestError, match="needs the key 'retrain'"):
        registry.record_decision(
            "p", T0, lambda last: {"policy": "p", "policy_version": 1, "evaluated_at": T0}
        )
    with pytest.raises(RequestError, match="retrain must be a bool"):
        registry.record_decision("p", T0, lambda last: decision("p", T0, "yes"))  # type: ignore[arg-type]
    with pytest.raises(RequestError, match="cannot be stored as JSON"):
        registry.record_decision("p", T0, lambda last: decision("p", T0, True, x=float("nan")))
    assert registry.decisions() == []


def test_racing_evaluations_fire_once(pair: tuple[Registry, Registry]) -> None:
    """Two servers deciding at once: the second sees the first's retrain (the project lock)."""

    def decide_on(registry: Registry, at: datetime) -> Any:
        def make(last: datetime | None) -> dict[str, Any]:
            time.sleep(0.05)  # a slow decision widens the window a race would need
            return decision("p", at, retrain=last is None)

        return registry.record_decision("p", at, make)

    for round_ in range(4):
        at = T0 + timedelta(days=round_)
        results = race(
            lambda r=pair[0], a=at: decide_on(r, a), lambda r=pair[1], a=at: decide_on(r, a)
        )
        assert not [r for r in results if isinstance(r, Exception)], results
    retrains = pair[0].decisions(retrain=True)
    assert len(retrains) == 1 and len(pair[1].decisions()) == 8


def test_feedback_groups(registry: Registry) -> None:
    registry.add_feedback([{"request_id": "r1", "prediction": 1, "group": "control"}])
    registry.add_feedback([{"request_id": "r1", "label": 0, "group": "control"}])  # same: fine
    registry.add_feedback([{"request_id": "r5", "prediction": 1, "group": "control"}])
    registry.add_feedback([{"request_id": "r2", "prediction": 1}])
    registry.add_feedback([{"request_id": "r2", "label": 1, "group": "model"}])  # fills it in
    with pytest.raises(ConflictError, match="'r5' is already in group 'control'"):
        registry.add_feedback(
            [{"request_id": "r3", "label": 1}, {"request_id": "r5", "label": 0, "group": "x"}]
        )
    for bad in ("", " ", "x" * 65, "a\nb", 3):
        with pytest.raises(RequestError, match="group of request 'r4' must be a printable string"):
            registry.add_feedback([{"request_id": "r4", "label": 1, "group": bad}])
    rows = {r["request_id"]: r for r in registry.feedback()}
    assert set(rows) == {"r1", "r2", "r5"} and rows["r5"]["label"] is None
    assert (rows["r1"]["group"], rows["r1"]["label"]) == ("control", 0)
    assert (rows["r2"]["group"], rows["r2"]["label"]) == ("model", 1)


def test_first_prediction_leaves_out_control_and_labels(registry: Registry) -> None:
    hour = timedelta(hours=1)
    registry.add_feedback(
        [
            {"request_id": "a", "label": 1, "timestamp": T0},
            {"request_id": "b", "prediction": 1, "timestamp": T0 + hour, "group": "control"},
            {"request_id": "c", "prediction": 0, "timestamp": T0 + 2 * hour},
            {"request_id": "d", "prediction": 1, "timestamp": T0 + 3 * hour, "group": "model"},
        ]
    )
    assert registry.first_prediction_at(T0) == T0 + 2 * hour
    assert registry.first_prediction_at(T0 + 2 * hour + timedelta(seconds=1)) == T0 + 3 * hour
    assert registry.first_prediction_at(T0 + 4 * hour) is None
