"""Policies and feedback loops through the store and the CLI: real serving (SQLite online store),
real feedback, the decision log and the ``retrain`` events it raises, and exit code 3."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from featurestore import ConflictError, FeatureStore, RequestError
from featurestore.alerts import Event, events_for
from tests.cli_helpers import run

UTC_US = pl.Datetime("us", "UTC")
DRIVERS = 400

DEFINITIONS = """
from datetime import timedelta
from featurestore import Entity, Feature, FeatureService, FeatureView, PushSource, RetrainPolicy
from featurestore import col

driver = Entity("driver", join_keys=["driver_id"], value_type=int)
events = PushSource(
    "events",
    schema={"driver_id": int, "fare": float, "city": str, "event_ts": "datetime"},
    timestamp_field="event_ts",
)
trips = FeatureView("trips", entities=[driver], source=events,
                    features=[Feature("fare", col("fare")), Feature("city", col("city"))])
svc = FeatureService("svc", features=[trips])
retrain = RetrainPolicy("retrain", service=svc, reference="train", max_age=timedelta(days=30),
                        performance={"f1": 0.8}, drift={"psi": 0.25, "min_features": 1},
                        min_labels=100, cooldown=timedelta(days=1))
"""


def push(store: FeatureStore, fares: np.ndarray, cities: list[str], at: dt.datetime) -> None:
    frame = pl.DataFrame(
        {
            "driver_id": np.arange(len(fares)),
            "fare": fares,
            "city": cities,
            "event_ts": [at] * len(fares),
        },
        schema_overrides={"event_ts": UTC_US},
    )
    store.push("events", frame, to="online_and_offline")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repo with a trained reference: fares ~ N(10, 1), half the drivers in each city."""
    (tmp_path / "featurestore.toml").write_text(
        'project = "acting"\n[serving]\nskew_sample_rate = 1.0\n'
    )
    (tmp_path / "features.py").write_text(DEFINITIONS)
    rng = np.random.default_rng(0)
    then = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    with FeatureStore(tmp_path) as store:
        store.apply()
        push(store, rng.normal(10, 1, DRIVERS), ["a", "b"] * (DRIVERS // 2), then)
        spine = pl.DataFrame(
            {
                "driver_id": np.arange(DRIVERS),
                "event_timestamp": [then + dt.timedelta(hours=1)] * DRIVERS,
            },
            schema_overrides={"event_timestamp": UTC_US},
        )
        store.get_training_frame(spine, service="svc", save_as="train")
    return tmp_path


@pytest.fixture
def store(repo: Path) -> Iterator[FeatureStore]:
    with FeatureStore(repo) as s:
        yield s


def serve_drifted_traffic(store: FeatureStore) -> None:
    """Fares move to N(14, 1); 200 requests get feedback: always "1", right 30% of the time."""
    rng = np.random.default_rng(1)
    push(store, rng.normal(14, 1, DRIVERS), ["a", "b"] * (DRIVERS // 2), dt.datetime.now(dt.UTC))
    for start in range(0, DRIVERS, 50):
        store.get_online_features(
            service="svc", entities={"driver_id": list(range(start, start + 50))}
        )
    for i in range(200):
        answer = store.get_online_features(service="svc", entities={"driver_id": [i]})
        store.log_feedback(answer.request_id, prediction=1, label=int(i % 10 < 3))


def test_a_policy_decides_records_alerts_and_cools_down(store: FeatureStore) -> None:
    recorded: list[Any] = []  # what the registry tells its listeners (alerts listen there)
    store.registry.add_listener(lambda kind, record: recorded.append((kind, record)))

    def alerts() -> list[Event]:
        return [e for kind, record in recorded for e in events_for(kind, record)]

    [quiet] = store.evaluate_policies()
    assert not quiet.retrain and quiet.trigger("drift").status == "insufficient_data"  # type: ignore[union-attr]
    assert quiet.trigger("performance").status == "insufficient_data"  # type: ignore[union-attr]
    serve_drifted_traffic(store)

    [decision] = store.evaluate_policies()
    assert decision.retrain and decision.fired == ["performance", "drift"]
    perf = decision.trigger("performance")
    assert perf is not None and perf.figures["n_labelled"] == 200
    assert perf.figures["metrics"]["f1"] == pytest.approx(2 * 60 / (2 * 60 + 140))
    drift = decision.trigger("drift")
    assert drift is not None and drift.figures["drifted"] == ["fare"]
    assert drift.figures["features"]["fare"]["n_current"] == DRIVERS + 200
    age = decision.trigger("age")
    assert age is not None and age.status == "ok" and age.figures["since_what"] == "reference saved"
    assert [a.event for a in alerts()] == ["retrain"]
    assert alerts()[0].details == decision.to_dict()
    assert alerts()[0].summary.startswith("retrain: retrain: f1 0.4615 < 0.8")

    [again] = store.evaluate_policies()
    assert again.fired == ["performance", "drift"] and not again.retrain
    assert again.cooldown_until == decision.evaluated_at + dt.timedelta(days=1)
    decided = [kind for kind, _ in recorded if kind == "policy_decision"]
    assert len(alerts()) == 1 and len(decided) == 3  # no alert during the cooldown

    later = decision.evaluated_at + dt.timedelta(days=40)
    [aged] = store.evaluate_policies(later)
    assert aged.retrain and aged.fired == ["age"]
    assert aged.trigger("performance").status == "insufficient_data"  # type: ignore[union-attr]
    assert len(alerts()) == 2

    log = store.policy_decisions()
    assert [d.evaluated_at for d in log] == [
        later,
        again.evaluated_at,
        decision.evaluated_at,
        quiet.evaluated_at,
    ]
    assert log[2] == decision  # read back exactly as decided
    assert [d.evaluated_at for d in store.policy_decisions("retrain", retrain=True)] == [
        later,
        decision.evaluated_at,
    ]
    assert store.policy_decisions("other") == []


def test_no_policy_no_decision(tmp_path: Path) -> None:
    (tmp_path / "featurestore.toml").write_text('project = "none"\n')
    with FeatureStore(tmp_path) as store:
        assert store.evaluate_policies() == []
        with pytest.raises(RequestError, match="now must be a datetime"):
            store.evaluate_policies("tomorrow")  # type: ignore[arg-type]


def test_feedback_groups_and_the_feedback_loop_report(store: FeatureStore) -> None:
    rng = np.random.default_rng(3)
    push(store, rng.normal(10, 1, DRIVERS), ["a"] * DRIVERS, dt.datetime.now(dt.UTC))
    served: set[int] = set()
    clicks = {"control": 0, None: 0}
    counts = {"control": 0, None: 0}
    for i in range(240):
        driver = int(rng.integers(0, 60))
        served.add(driver)
        answer = store.get_online_features(["trips:fare"], entities={"driver_id": [driver]})
        group = "control" if i % 4 == 0 else None
        label = int(rng.random() < (0.2 if group else 0.5))
        clicks[group] += label
        counts[group] += 1
        store.log_feedback(answer.request_id, prediction=f"item_{driver % 7}", group=group)
        store.log_feedback(answer.request_id, label=label)  # the group stays
    answer = store.get_online_features(["trips:fare"], entities={"driver_id": [1]})
    store.log_feedback(answer.request_id, prediction="item_1", group="control")
    with pytest.raises(ConflictError, match="already in group 'control'"):
        store.log_feedback(answer.request_id, label=1, group="model")
    future = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)  # no report could window it
    with pytest.raises(RequestError, match=r"later than now plus ingestion\.max_future"):
        store.log_feedback(answer.request_id, label=1, timestamp=future)
    frame = store.feedback_frame()
    assert frame.columns == ["request_id", "timestamp", "prediction", "label", "group"]
    groups = frame["group"].value_counts().sort("group", nulls_last=True)
    assert groups["count"].to_list() == [61, 180]

    report = store.feedback_loop_report("1d")
    assert len(report.windows) in (1, 2)  # two if the test straddles midnight UTC
    assert sum(w.n_feedback for w in report.windows) == 241
    assert report.to_dict()["overall"]["groups"][0]["group"] == "control"
    control, rest = report.groups
    assert control.outcome_rate == pytest.approx(clicks["control"] / 60)
    assert rest.outcome_rate == pytest.approx(clicks[None] / 180)
    assert report.z_test is not None and report.z_test.n_control == 60  # labelled rows
    if len(report.windows) == 1:
        assert report.windows[0].entities == len(served)
        assert report.windows[0].distinct_predictions == 7
    assert store.registry.reports("feedback_loop")[0] == report.to_dict()


def test_the_cli(repo: Path) -> None:
    """As users run it: a real process, exit code 3 when a retrain is due, one line on a mistake."""
    with FeatureStore(repo) as store:
        serve_drifted_traffic(store)
    due = run("policy", "evaluate", "--fail-on-retrain", cwd=repo)
    assert due.returncode == 3, due.stderr
    assert "policy retrain v1 (svc)" in due.stdout and "RETRAIN" in due.stdout
    bad = run("policy", "evaluate", "--at", "soon", cwd=repo)
    assert bad.returncode == 1 and bad.stderr.strip().splitlines() == [
        "error: --at 'soon' is not an ISO 8601 timestamp"
    ]
    # the rest in process (CliRunner): JSON output needs no process of its own
    from typer.testing import CliRunner

    from featurestore.cli import app

    def cli(*args: str) -> Any:
        result = CliRunner().invoke(app, ["--repo", str(repo), *args])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    [cooling] = cli("policy", "evaluate", "--fail-on-retrain", "--json")  # exit 0: cooling down
    assert cooling["retrain"] is False and cooling["cooldown_until"] is not None
    assert cli("policy", "evaluate", "--at", "2099-01-01T00:00:00Z", "--json")[0]["fired"] == [
        "age"
    ]
    retrains = cli("policy", "decisions", "--retrain", "--json")
    assert len(retrains) == 2 and retrains[0]["evaluated_at"] == "2099-01-01T00:00:00.000000Z"
    assert cli("reports", "feedback-loop", "--json")["windows"][-1]["n_feedback"] >= 200


def test_cli_help_and_text(repo: Path) -> None:
    """In process: what needs no exit code of a real process."""
    from typer.testing import CliRunner

    from featurestore.cli import app

    runner = CliRunner()
    for command in (
        ["policy"],
        ["policy", "evaluate"],
        ["policy", "decisions"],
        ["reports", "feedback-loop"],
    ):
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0 and "Example" in result.stdout, command
    empty = runner.invoke(app, ["--repo", str(repo), "policy", "decisions"])
    assert empty.exit_code == 0 and "no decision recorded yet" in empty.stdout
    runner.invoke(app, ["--repo", str(repo), "policy", "evaluate"])
    text = runner.invoke(app, ["--repo", str(repo), "policy", "decisions", "--limit", "1"])
    assert text.exit_code == 0 and text.stdout.startswith("policy retrain v1 (svc) at ")
    assert "\n  age          ok " in text.stdout
