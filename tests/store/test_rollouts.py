"""Rollouts of a view version through the store, on the SQLite and the Redis online stores:
the versions' online values kept apart, the same entities always in the canary (checked against
an independent hash), shadow answers equal to no rollout, abort restoring the old state exactly,
promote putting the candidate in force, the arm in the serving log and in feedback."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from store_repo import T0, TripContract, driver, trips

from featurestore import ConflictError, Feature, FeatureStore, FeatureView, RequestError, col
from featurestore.online import encode_entity_keys
from featurestore.registry import ObjectSpec
from featurestore.registry.dryrun import dry_plan
from featurestore.repo import collect
from featurestore.serving.rollouts import candidate_record
from tests.cli_helpers import EXE, run

UTC_US = pl.Datetime("us", "UTC")
DRIVERS = list(range(60))


def view(factor: float, *extra: Feature) -> FeatureView:
    """Version 1: ``scaled = fare``; version 2: ``scaled = fare * 2`` plus an extra feature."""
    return FeatureView(
        "v",
        entities=[driver],
        source=trips,
        contract=TripContract,
        ttl=None,
        features=[Feature("scaled", col("fare") * factor), *extra],
    )


CANDIDATE = view(2.0, Feature("bonus", col("fare") + 100))


def rows() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "driver_id": DRIVERS,
            "fare": [float(d) + 0.5 for d in DRIVERS],
            "city": ["ams"] * len(DRIVERS),
            "event_ts": [T0 + timedelta(hours=1)] * len(DRIVERS),
            "created_ts": [T0 + timedelta(hours=1, minutes=5)] * len(DRIVERS),
        },
        schema_overrides={"event_ts": UTC_US, "created_ts": UTC_US},
    )


def open_repo(repo: Path, project: str, online: str = "") -> FeatureStore:
    """A store with version 1 materialized and version 2 applied (not yet served)."""
    (repo / "data").mkdir(parents=True)
    (repo / "featurestore.toml").write_text(
        f'project = "{project}"\n{online}[serving]\nskew_sample_rate = 1.0\n'
    )
    store = FeatureStore(repo)
    store.apply([driver, trips, view(1.0)])
    store.ingest("v", rows())
    store.materialize(end=T0 + timedelta(days=1))
    store.apply([CANDIDATE])
    return store


@pytest.fixture(params=["sqlite", "redis"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, project_name: str
) -> Iterator[FeatureStore]:
    online = ""
    if request.param == "redis":
        online = f'online_store = "{request.getfixturevalue("redis_url")}"\n'
    with open_repo(tmp_path, project_name, online) as store:
        yield store


def answer(store: FeatureStore, features: list[str] | None = None) -> dict[str, Any]:
    response = store.get_online_features(features or ["v:scaled"], entities={"driver_id": DRIVERS})
    return {
        "values": response.to_dict(),
        "statuses": dict(response.statuses),
        "event_timestamps": dict(response.event_timestamps),
    }


def in_canary(store: FeatureStore, fraction: float) -> list[bool]:
    """Independently of serving: the keyed BLAKE2b place of each entity's online key."""
    keys = encode_entity_keys(store.project, "driver", {"driver_id": DRIVERS})
    places = [
        int.from_bytes(hashlib.blake2b(k.encode(), key=b"canary:v", digest_size=8).digest(), "big")
        / 2.0**64
        for k in keys
    ]
    return [p < fraction for p in places]


def test_start_keeps_the_baseline_in_force_and_the_candidate_apart(store: FeatureStore) -> None:
    before = answer(store)
    assert store.state.versions[("feature_view", "v")] == 2  # just applied
    record = store.start_rollout("v", version=2, stage="shadow", sample=1.0)
    assert (record.baseline_version, record.candidate_version, record.status) == (1, 2, "running")
    assert store.registry.get("feature_view", "v").version == 1  # the baseline is in force
    assert store.online.count(candidate_record("v", 2)) == len(DRIVERS)
    assert answer(store) == before  # shadow never changes what is served
    assert before["values"]["scaled"] == [d + 0.5 for d in DRIVERS]
    store.apply([CANDIDATE])  # the repo's candidate stays a candidate
    assert store.registry.get("feature_view", "v").version == 1
    with pytest.raises(RequestError, match="rolling out version 2"):
        store.apply([view(3.0)])
    with pytest.raises(ConflictError, match="already rolling out"):
        store.rollout_steps._rows.start(
            "v",
            baseline=1,
            candidate=3,
            stage="shadow",
            fraction=0.1,
            sample=0.1,
            now=T0,
        )


def test_shadow_logs_the_candidate_beside_the_served_value(store: FeatureStore) -> None:
    store.start_rollout("v", version=2, stage="shadow", sample=1.0)
    answer(store)
    store.flush_serving_log()
    shadow = store.serving_log(shadow=True).filter(pl.col("feature") == "scaled")
    assert shadow.height == len(DRIVERS)
    assert set(shadow["arm"]) == {"shadow"}
    assert set(shadow["view_version"]) == {2}
    served = store.serving_log()
    assert "shadow" not in set(served["arm"].drop_nulls())
    report = store.rollout_report("v")
    (scaled,) = [v for v in report.values if v.feature == "scaled"]
    # candidate 2 * (d + 0.5) against served d + 0.5: equal only nowhere (d + 0.5 > 0)
    assert (scaled.total, scaled.mismatch, scaled.match) == (len(DRIVERS), len(DRIVERS), 0)
    assert scaled.max_abs_diff == pytest.approx(max(DRIVERS) + 0.5)
    assert report.drift.features[0].feature == "scaled"


def test_canary_serves_the_same_entities_the_candidate(store: FeatureStore) -> None:
    store.start_rollout("v", version=2, stage="canary", fraction=0.5)
    chosen = in_canary(store, 0.5)
    assert 10 < sum(chosen) < 50
    for _ in range(2):  # always the same arm
        response = store.get_online_features(
            ["v:scaled", "v:bonus"], entities={"driver_id": DRIVERS}
        )
        expected = [(d + 0.5) * (2 if c else 1) for d, c in zip(DRIVERS, chosen, strict=True)]
        assert response.to_dict()["scaled"] == expected
        bonus = response.to_dict()["bonus"]
        assert [b is not None for b in bonus] == chosen  # the baseline lacks the new feature
        assert list(response.arms["v"]) == ["candidate" if c else "current" for c in chosen]
        assert list(response.view_versions[("v", "scaled")]) == [2 if c else 1 for c in chosen]
    store.flush_serving_log()
    log = store.serving_log().filter(pl.col("feature") == "scaled")
    arms = dict(zip(log["keys"].to_list(), log["arm"].to_list(), strict=True))
    assert sorted(set(arms.values())) == ["candidate", "current"]


def test_feedback_records_the_arm(store: FeatureStore) -> None:
    store.start_rollout("v", version=2, stage="canary", fraction=0.5)
    chosen = in_canary(store, 0.5)
    labels = []
    for d, c in zip(DRIVERS, chosen, strict=True):
        response = store.get_online_features(["v:scaled"], entities={"driver_id": [d]})
        label = int(c)  # the candidate arm converts, the current does not
        store.log_feedback(response.request_id, prediction=label, label=label)
        labels.append(label)
    frame = store.feedback_frame(arms=True)
    assert frame["arm"].to_list() == ["candidate" if c else "current" for c in chosen]
    report = store.rollout_report("v")
    candidate, current = report.arm("candidate"), report.arm("current")
    assert candidate is not None and current is not None
    assert (candidate.n, current.n) == (sum(chosen), len(DRIVERS) - sum(chosen))
    assert (candidate.outcome_rate, current.outcome_rate) == (1.0, 0.0)


def test_abort_restores_the_old_state_exactly(store: FeatureStore) -> None:
    before = answer(store)
    store.start_rollout("v", version=2, stage="shadow", sample=1.0)
    store.start_rollout("v", version=2, stage="canary", fraction=0.5)
    assert answer(store) != before
    record = store.abort_rollout("v")
    assert record.status == "aborted"
    assert answer(store) == before
    assert store.registry.get("feature_view", "v").version == 1
    assert store.online.count(candidate_record("v", 2)) == 0
    assert store.state.rollouts == {}
    with pytest.raises(Exception, match="no rollout of view 'v' is running"):
        store.abort_rollout("v")


def test_promote_puts_the_candidate_in_force(store: FeatureStore) -> None:
    store.start_rollout("v", version=2, stage="canary", fraction=0.2)
    record = store.promote_rollout("v")
    assert record.status == "promoted"
    assert store.registry.get("feature_view", "v").version == 2
    response = store.get_online_features(["v:scaled", "v:bonus"], entities={"driver_id": DRIVERS})
    assert response.to_dict()["scaled"] == [(d + 0.5) * 2 for d in DRIVERS]
    assert response.to_dict()["bonus"] == [d + 100.5 for d in DRIVERS]
    assert set(response.view_versions[("v", "scaled")]) == {2}
    assert store.online.count(candidate_record("v", 2)) == 0
    assert [r.status for r in store.rollouts("v")] == ["promoted"]


def test_bad_rollouts_are_refused(store: FeatureStore) -> None:
    with pytest.raises(RequestError, match="stage"):
        store.start_rollout("v", version=2, stage="full")  # type: ignore[arg-type]
    with pytest.raises(RequestError, match="fraction"):
        store.start_rollout("v", version=2, stage="canary", fraction=0.0)
    with pytest.raises(RequestError, match="older than"):
        store.start_rollout("v", version=1)
    with pytest.raises(Exception, match="no version 7"):
        store.start_rollout("v", 7)  # by position, as DESIGN §15 writes it


def test_each_step_raises_a_rollout_event(store: FeatureStore) -> None:
    from featurestore.alerts import events_for

    seen: list[tuple[str, dict[str, Any]]] = []
    store.registry.add_listener(lambda kind, record: seen.append((kind, dict(record))))
    store.start_rollout("v", version=2, stage="canary", fraction=0.25)
    store.abort_rollout("v")
    events = [e for kind, record in seen for e in events_for(kind, record)]
    assert [e.event for e in events] == ["rollout", "rollout"]
    assert "in canary for 25% of entities" in events[0].summary
    assert "aborted" in events[1].summary


def test_the_cli_runs_each_step(tmp_path: Path, project_name: str) -> None:
    with open_repo(tmp_path, project_name) as store:
        before = answer(store)
        started = run(
            "rollout",
            "start",
            "v",
            "--version",
            "2",
            "--stage",
            "canary",
            "--fraction",
            "0.5",
            "--json",
            cwd=tmp_path,
        )
        assert started.returncode == 0, started.stderr
        assert json.loads(started.stdout)["stage"] == "canary"
        listed = run("rollout", "list", cwd=tmp_path)
        assert "version 1 -> 2, canary (50% of entities), running" in listed.stdout
        store.refresh()
        assert answer(store) != before
        report = run("rollout", "report", "v", "--json", cwd=tmp_path)
        assert report.returncode == 0, report.stderr
        assert json.loads(report.stdout)["rollout"]["status"] == "running"
        bad = run("rollout", "start", "v", "--version", "2", "--stage", "full", cwd=tmp_path)
        assert bad.returncode == 1 and "stage must be" in bad.stderr + bad.stdout
        assert "Traceback" not in bad.stderr
        aborted = run("rollout", "abort", "v", cwd=tmp_path)
        assert aborted.returncode == 0 and "aborted" in aborted.stdout
        store.refresh()
        assert answer(store) == before
        again = run("rollout", "promote", "v", cwd=tmp_path)
        assert again.returncode == 1 and "no rollout of view 'v' is running" in again.stderr


def test_the_skew_check_judges_each_arm_by_its_version(store: FeatureStore) -> None:
    store.start_rollout("v", version=2, stage="canary", fraction=0.5)
    chosen = in_canary(store, 0.5)
    answer(store)
    report = store.check_skew()
    (scaled,) = [f for f in report.features if f.feature == "scaled"]
    # the current arm by version 1 (in force), the canary by version 2: every value matches
    assert (scaled.total, scaled.match) == (len(DRIVERS), len(DRIVERS)), scaled
    assert sum(chosen) < len(DRIVERS)
    store.abort_rollout("v")
    answer(store)
    again = next(f for f in store.check_skew().features if f.feature == "scaled")
    assert again.outdated == 0 and again.match == again.total  # version 2 never came into force


def test_a_dry_run_plans_as_apply_does_during_a_rollout(store: FeatureStore) -> None:
    """``apply --dry-run`` reads the registry without opening it (no migration): it must still
    keep a running rollout's candidate a candidate, and refuse a third definition."""
    store.start_rollout("v", version=2, stage="shadow", sample=1.0)
    url = store.config.sqlalchemy_url(store.config.registry, create_folder=False)

    def specs(*views: FeatureView) -> list[ObjectSpec]:
        return [ObjectSpec(d.kind, d.name, d.to_spec()) for d in collect([driver, trips, *views])]

    for given in (CANDIDATE, view(1.0)):  # the candidate, the baseline
        dry = dry_plan(url, store.project, specs(given), partial=False)
        applied = store.apply([driver, trips, given], dry_run=True)
        assert dry.to_dict() == applied.to_dict()
        assert {item.name: item.action for item in dry.items}["v"] == "unchanged"
    with pytest.raises(RequestError, match="is rolling out version 2"):
        dry_plan(url, store.project, specs(view(3.0)), partial=False)
    with pytest.raises(RequestError, match="is rolling out version 2"):
        store.apply([driver, trips, view(3.0)], dry_run=True)


@pytest.mark.parametrize("point", ["promote.ended", "promote.written"])
def test_a_promote_killed_anywhere_leaves_a_state_a_materialize_completes(
    tmp_path: Path, project_name: str, point: str
) -> None:
    """``rollout promote`` killed with SIGKILL: the candidate is in force (never the baseline
    serving the candidate's values, which an abort could not take back), and a plain
    ``materialize`` then serves exactly what a promote that finished serves."""
    with open_repo(tmp_path, project_name) as store:
        store.start_rollout("v", version=2, stage="canary", fraction=0.5)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEATURESTORE_")}
    killed = subprocess.run(
        [*EXE, "rollout", "promote", "v"],
        cwd=tmp_path,
        env={**env, "FEATURESTORE_FAULT": point},
        capture_output=True,
        timeout=120,
    )
    assert killed.returncode == -9, killed.stderr
    with FeatureStore(tmp_path) as store:
        assert all(r.status != "running" for r in store.rollouts("v"))
        assert store.registry.get("feature_view", "v").version == 2
        store.materialize(end=T0 + timedelta(days=1))
        served = answer(store, ["v:scaled", "v:bonus"])["values"]
        assert served["scaled"] == [2 * (d + 0.5) for d in DRIVERS]
        assert served["bonus"] == [d + 0.5 + 100 for d in DRIVERS]
        assert store.check_skew().samples > 0
