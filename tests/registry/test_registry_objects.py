"""Definitions in the registry: plan, apply, dry runs, versions, history, removal, re-adding."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC

import pytest

from featurestore.errors import DefinitionError, NotFoundError
from featurestore.registry import ObjectSpec, Plan, PlanItem, Registry

ENTITY = ObjectSpec("entity", "driver", {"join_keys": ["driver_id"]})
SOURCE = ObjectSpec("source", "trips", {"path": "trips.parquet", "timestamp": "ts"})
VIEW = ObjectSpec("view", "driver_stats", {"source": "trips", "features": ["a", "b"], "ttl": None})


def view(**spec: object) -> ObjectSpec:
    return ObjectSpec("view", "driver_stats", {"source": "trips", **spec})


def actions(plan: Plan) -> dict[tuple[str, str], tuple[str, int | None, int | None]]:
    return {(i.kind, i.name): (i.action, i.old_version, i.new_version) for i in plan.items}


def test_first_apply_adds_everything_at_version_one(registry: Registry) -> None:
    plan = registry.apply([ENTITY, SOURCE, VIEW])
    assert plan.applied and plan.has_changes
    assert [i.action for i in plan.items] == ["add", "add", "add"]
    assert all(i.old_version is None and i.new_version == 1 for i in plan.items)
    stored = registry.get("view", "driver_stats")
    assert stored.version == 1 and stored.spec == VIEW.spec
    assert stored.created_at.tzinfo is UTC
    canonical = json.dumps(VIEW.spec, sort_keys=True, separators=(",", ":"))
    assert stored.spec_hash == hashlib.sha256(canonical.encode()).hexdigest()
    assert [(o.kind, o.name) for o in registry.list()] == [
        ("entity", "driver"),
        ("source", "trips"),
        ("view", "driver_stats"),
    ]
    assert [o.name for o in registry.list("source")] == ["trips"]


def test_identical_apply_is_idempotent_whatever_the_key_order(registry: Registry) -> None:
    registry.apply([ENTITY, VIEW])
    reordered = ObjectSpec("view", "driver_stats", dict(reversed(list(VIEW.spec.items()))))
    plan = registry.apply([ENTITY, reordered])
    assert not plan.has_changes and plan.applied
    assert [i.action for i in plan.unchanged] == ["unchanged", "unchanged"]
    assert registry.history("view", "driver_stats")[-1].version == 1


def test_change_makes_a_new_version_and_keeps_the_old(registry: Registry) -> None:
    registry.apply([ENTITY, view(ttl=60)])
    plan = registry.apply([ENTITY, view(ttl=120)])
    assert actions(plan)[("view", "driver_stats")] == ("change", 1, 2)
    assert [i.name for i in plan.changed] == ["driver_stats"]
    assert registry.get("view", "driver_stats").spec["ttl"] == 120
    assert registry.get("view", "driver_stats", version=1).spec["ttl"] == 60
    history = registry.history("view", "driver_stats")
    assert [h.version for h in history] == [1, 2]
    assert history[0].spec_hash != history[1].spec_hash
    assert history[0].created_at <= history[1].created_at


def test_plan_and_dry_run_write_nothing(registry: Registry) -> None:
    registry.apply([ENTITY, view(ttl=1)])
    specs = [view(ttl=2), SOURCE]
    planned = registry.plan(specs)
    dry = registry.apply(specs, dry_run=True)
    assert planned == dry and not dry.applied
    assert actions(dry) == {
        ("view", "driver_stats"): ("change", 1, 2),
        ("source", "trips"): ("add", None, 1),
        ("entity", "driver"): ("remove", 1, None),
    }
    assert registry.get("view", "driver_stats").version == 1
    assert {o.name for o in registry.list()} == {"driver", "driver_stats"}
    assert registry.apply(specs) == Plan(dry.items, applied=True)


def test_full_apply_removes_softly_and_readding_continues_numbering(registry: Registry) -> None:
    registry.apply([ENTITY, view(ttl=1)])
    registry.apply([ENTITY, view(ttl=2)])
    plan = registry.apply([ENTITY])
    assert actions(plan)[("view", "driver_stats")] == ("remove", 2, None)
    assert [o.name for o in registry.list()] == ["driver"]
    with pytest.raises(NotFoundError, match=r"view 'driver_stats' was removed.*version=2"):
        registry.get("view", "driver_stats")
    assert registry.get("view", "driver_stats", version=2).spec["ttl"] == 2
    assert [h.version for h in registry.history("view", "driver_stats")] == [1, 2]
    # Removing again is not a change.
    assert not registry.apply([ENTITY]).has_changes
    readded = registry.apply([ENTITY, view(ttl=2)])
    assert actions(readded)[("view", "driver_stats")] == ("add", None, 3)
    assert registry.get("view", "driver_stats").version == 3
    assert [h.version for h in registry.history("view", "driver_stats")] == [1, 2, 3]


def test_partial_apply_never_removes(registry: Registry) -> None:
    registry.apply([ENTITY, VIEW])
    plan = registry.apply([SOURCE], partial=True)
    assert actions(plan) == {("source", "trips"): ("add", None, 1)}
    assert {o.name for o in registry.list()} == {"driver", "trips", "driver_stats"}
    assert registry.plan([], partial=True).items == ()
    assert len(registry.plan([]).removed) == 3


def test_same_name_in_two_kinds_and_two_projects_are_distinct(
    registry: Registry, registry_url: str
) -> None:
    registry.apply([ObjectSpec("view", "x", {"v": 1}), ObjectSpec("source", "x", {"s": 1})])
    with Registry(registry_url, registry.project + "_other") as other:
        assert other.list() == []
        other.apply([ObjectSpec("view", "x", {"v": 99})])
        assert other.get("view", "x").spec == {"v": 99}
    assert registry.get("view", "x").spec == {"v": 1}
    assert registry.get("source", "x").spec == {"s": 1}


def test_hash_is_sha256_of_sorted_compact_json(registry: Registry) -> None:
    spec = {"z": [1, 2.5, None], "a": {"é": "naïve", "b": True}}
    registry.apply([ObjectSpec("source", "s", spec)])
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"))
    stored = registry.get("source", "s")
    assert stored.spec_hash == hashlib.sha256(text.encode()).hexdigest()
    assert stored.spec == spec


def test_stored_specs_cannot_be_edited_through_results(registry: Registry) -> None:
    registry.apply([view(features=["a"])])
    registry.get("view", "driver_stats").spec["features"].append("sneaky")
    assert registry.get("view", "driver_stats").spec["features"] == ["a"]


def test_not_found_errors_name_the_object(registry: Registry) -> None:
    registry.apply([VIEW])
    with pytest.raises(NotFoundError, match=r"view 'nope' is not in the registry of project"):
        registry.get("view", "nope")
    with pytest.raises(NotFoundError, match=r"view 'driver_stats' has no version 7"):
        registry.get("view", "driver_stats", version=7)
    with pytest.raises(NotFoundError, match=r"entity 'driver' is not in the registry"):
        registry.history("entity", "driver")


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        ([VIEW, VIEW], r"view 'driver_stats' is defined twice"),
        ([ObjectSpec("view", "", {})], r"name '' of a view must be a non-empty string"),
        ([ObjectSpec("", "x", {})], r"kind '' of object 'x' must be a non-empty string"),
        ([ObjectSpec("view", "x", [1])], r"the spec of view 'x' must be a dict"),  # type: ignore[arg-type]
        ([ObjectSpec("view", "x", {"t": object()})], r"spec of view 'x' is not storable as JSON"),
        ([ObjectSpec("view", "x", {"t": float("nan")})], r"spec of view 'x' is not storable"),
    ],
)
def test_invalid_specs_are_refused_before_writing(
    registry: Registry, specs: list[ObjectSpec], message: str
) -> None:
    with pytest.raises(DefinitionError, match=message):
        registry.apply(specs)
    assert registry.list() == []


def test_plan_reads_well() -> None:
    plan = Plan(
        (
            PlanItem("view", "a", "add", None, 1),
            PlanItem("view", "bb", "change", 1, 2),
            PlanItem("entity", "c", "unchanged", 3, 3),
            PlanItem("source", "d", "remove", 2, None),
        ),
        applied=False,
    )
    text = str(plan)
    assert text.splitlines()[0] == (
        "Plan (planned): 1 to add, 1 to change, 1 unchanged, 1 to remove"
    )
    assert "+ view a" in text and "v1 -> v2" in text and "- source d" in text
    data = plan.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["summary"] == {"add": 1, "change": 1, "unchanged": 1, "remove": 1}
    assert data["items"][1] == {
        "kind": "view",
        "name": "bb",
        "action": "change",
        "old_version": 1,
        "new_version": 2,
    }
    assert "nothing defined" in str(Plan((), applied=True))
