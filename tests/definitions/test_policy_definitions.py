"""RetrainPolicy is a definition: validated when built, frozen, JSON round trip, versioned by apply."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import featurestore
from featurestore import (
    DefinitionError,
    Entity,
    Feature,
    FeatureService,
    FeatureStore,
    FeatureView,
    PushSource,
    RetrainPolicy,
    col,
)
from featurestore.definitions import from_spec

driver = Entity("driver", join_keys=["driver_id"], value_type=int)
events = PushSource(
    "events", schema={"driver_id": int, "fare": float, "ts": "datetime"}, timestamp_field="ts"
)
trips = FeatureView(
    "trips", entities=[driver], source=events, features=[Feature("fare", col("fare"))]
)
ranking = FeatureService("ranking_v1", features=[trips])


def policy(**overrides: Any) -> RetrainPolicy:
    kwargs: dict[str, Any] = dict(
        service="ranking_v1",
        reference="train_v1",
        max_age=timedelta(days=30),
        performance={"f1": 0.80},
        drift={"psi": 0.25, "min_features": 2},
        prediction_drift={"chi2_pvalue": 0.01},
        min_labels=200,
        cooldown=timedelta(days=1),
    )
    kwargs.update(overrides)
    return RetrainPolicy(kwargs.pop("name", "ranking_retrain"), **kwargs)


def test_the_design_example_builds_and_is_exported() -> None:
    p = policy(service=ranking)  # a service object stands for its name
    assert "RetrainPolicy" in featurestore.__all__
    assert p.service == "ranking_v1" and p.triggers == [
        "age",
        "performance",
        "drift",
        "prediction_drift",
    ]
    assert p.drift == {"min_features": 2, "min_samples": 100, "psi": 0.25}
    assert p.prediction_drift == {"chi2_pvalue": 0.01, "min_samples": 100}
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.min_labels = 3  # type: ignore[misc]


def test_specs_round_trip_and_define_equality() -> None:
    p = policy(description="weekly model", tags={"team": "ranking"})
    back = from_spec("retrain_policy", p.to_spec())
    assert back == p and hash(back) == hash(p) and back.to_spec() == p.to_spec()
    assert policy(performance={"f1": 0.7}) != p
    only_age = policy(performance={}, drift={}, prediction_drift={}, cooldown=None)
    assert from_spec("retrain_policy", only_age.to_spec()) == only_age
    assert only_age.triggers == ["age"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": "bad name"}, "RetrainPolicy name 'bad name' is invalid"),
        ({"service": "no-such"}, "service name 'no-such' is invalid"),
        ({"reference": ""}, "reference dataset name '' is invalid"),
        ({"max_age": timedelta(0)}, "max_age must be positive"),
        ({"max_age": 30}, "max_age must be a datetime.timedelta"),
        ({"cooldown": timedelta(days=-1)}, "cooldown must be a timedelta >= 0"),
        ({"window": None}, "window must be a positive timedelta"),
        ({"performance": {"f2": 0.8}}, "unknown performance metric 'f2'"),
        ({"performance": {"f1": 1.5}}, r"performance\['f1'\] must be between 0 and 1"),
        ({"performance": {"rmse": -1}}, r"performance\['rmse'\] must be >= 0"),
        ({"performance": {"f1": "high"}}, r"performance\['f1'\] must be a number"),
        ({"performance": [0.8]}, "performance must be a dict"),
        ({"drift": {"psi": 0.25, "min_feature": 2}}, "unknown drift setting 'min_feature'"),
        ({"drift": {"min_features": 2}}, "drift needs at least one statistic"),
        ({"drift": {"ks_pvalue": 2}}, r"drift\['ks_pvalue'\] must be between 0 and 1"),
        ({"drift": {"psi": 0.2, "min_features": 0}}, r"min_features'\] must be a whole number"),
        ({"prediction_drift": {"p": 0.01}}, "unknown prediction_drift setting 'p'"),
        ({"prediction_drift": {"min_samples": 10}}, 'prediction_drift needs "chi2_pvalue"'),
        ({"min_labels": 0}, "min_labels must be a whole number >= 1"),
        ({"min_labels": True}, "min_labels must be a whole number >= 1"),
        (
            {"max_age": None, "performance": {}, "drift": {}, "prediction_drift": {}},
            "no trigger is set",
        ),
    ],
)
def test_bad_policies_are_refused_with_one_line(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        policy(**overrides)


def test_apply_versions_policies_and_checks_the_service(tmp_path: Path) -> None:
    (tmp_path / "featurestore.toml").write_text('project = "pol"\n')
    with FeatureStore(tmp_path) as store:
        plan = store.apply([trips, ranking, policy()])
        assert ("retrain_policy", "ranking_retrain", "add") in {
            (i.kind, i.name, i.action) for i in plan.items
        }
        assert "retrain_policy ranking_retrain" in str(plan)
        again = store.apply([policy(performance={"f1": 0.75})], dry_run=True)
        assert [(i.action, i.old_version, i.new_version) for i in again.items] == [("change", 1, 2)]
        store.apply([policy(performance={"f1": 0.75})])
        history = store.registry.history("retrain_policy", "ranking_retrain")
        assert [h.spec["performance"] for h in history] == [{"f1": 0.8}, {"f1": 0.75}]
        assert store.acting.policies() == [policy(performance={"f1": 0.75})]
        with pytest.raises(DefinitionError, match="unknown feature service 'other'"):
            store.apply([policy(name="p2", service="other")])


def test_a_repo_file_defines_a_policy(tmp_path: Path) -> None:
    (tmp_path / "featurestore.toml").write_text('project = "polrepo"\n')
    (tmp_path / "features.py").write_text(
        "from datetime import timedelta\n"
        "from featurestore import Entity, Feature, FeatureService, FeatureView, PushSource\n"
        "from featurestore import RetrainPolicy, col\n"
        "d = Entity('driver', join_keys=['driver_id'], value_type=int)\n"
        "e = PushSource('events', schema={'driver_id': int, 'fare': float, 'ts': 'datetime'},"
        " timestamp_field='ts')\n"
        "t = FeatureView('trips', entities=[d], source=e, features=[Feature('fare', col('fare'))])\n"
        "s = FeatureService('svc', features=[t])\n"
        "r = RetrainPolicy('retrain', service=s, reference='train', max_age=timedelta(days=7))\n"
    )
    with FeatureStore(tmp_path) as store:
        plan = store.apply()
        assert ("retrain_policy", "retrain") in {(i.kind, i.name) for i in plan.added}
        assert [p.name for p in store.acting.policies()] == ["retrain"]
