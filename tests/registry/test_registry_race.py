"""Concurrent writers: racing applies queue and re-plan; nothing half-written or duplicated."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from featurestore.errors import ConflictError
from featurestore.registry import ObjectSpec, Registry

ROUNDS = 15


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls at the same moment on threads; results (or raised errors) in call order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_racing_partial_applies_keep_every_change(pair: tuple[Registry, Registry]) -> None:
    first, second = pair

    def specs(who: str, round_: int) -> list[ObjectSpec]:
        return [
            ObjectSpec("view", f"own_{who}", {"round": round_}),
            ObjectSpec("view", "shared", {"by": who, "round": round_}),
        ]

    for round_ in range(ROUNDS):
        results = race(
            lambda r=round_: first.apply(specs("a", r), partial=True),
            lambda r=round_: second.apply(specs("b", r), partial=True),
        )
        assert not [r for r in results if isinstance(r, Exception)], results

    shared = first.history("view", "shared")
    assert [h.version for h in shared] == list(range(1, 2 * ROUNDS + 1))
    expected = [{"by": who, "round": r} for r in range(ROUNDS) for who in "ab"]
    assert sorted(map(repr, (h.spec for h in shared))) == sorted(map(repr, expected))
    for who in "ab":
        own = second.history("view", f"own_{who}")
        assert [h.spec["round"] for h in own] == list(range(ROUNDS))
        assert [h.version for h in own] == list(range(1, ROUNDS + 1))


def test_racing_full_applies_end_in_one_of_the_two_states(
    pair: tuple[Registry, Registry],
) -> None:
    first, second = pair
    for round_ in range(ROUNDS // 3):
        set_a = [ObjectSpec("view", "x", {"r": round_}), ObjectSpec("entity", "a", {})]
        set_b = [ObjectSpec("view", "y", {"r": round_}), ObjectSpec("entity", "b", {})]
        results = race(lambda s=set_a: first.apply(s), lambda s=set_b: second.apply(s))
        assert not [r for r in results if isinstance(r, Exception)], results
        final = {(o.kind, o.name, repr(o.spec)) for o in first.list()}
        assert final in (
            {(o.kind, o.name, repr(o.spec)) for o in set_a},
            {(o.kind, o.name, repr(o.spec)) for o in set_b},
        )
    for kind, name in (("view", "x"), ("view", "y"), ("entity", "a"), ("entity", "b")):
        versions = [h.version for h in first.history(kind, name)]
        assert versions == list(range(1, len(versions) + 1))


def test_racing_ingestions_get_distinct_increasing_seqs(pair: tuple[Registry, Registry]) -> None:
    first, second = pair
    seqs: list[int] = []
    for _ in range(ROUNDS):
        results = race(
            lambda: [first.begin_ingestion("v", "s")[1] for _ in range(3)],
            lambda: [second.begin_ingestion("v", "s")[1] for _ in range(3)],
        )
        for per_thread in results:
            assert per_thread == sorted(per_thread)
            seqs += per_thread
    assert sorted(seqs) == list(range(1, 6 * ROUNDS + 1))


def test_racing_duplicate_feedback_stores_it_once(pair: tuple[Registry, Registry]) -> None:
    first, second = pair
    for round_ in range(ROUNDS):
        rows = [{"request_id": f"r{round_}", "label": round_}]
        results = race(lambda r=rows: first.add_feedback(r), lambda r=rows: second.add_feedback(r))
        assert sorted(map(type, results), key=str) == sorted([int, ConflictError], key=str)
    assert [r["label"] for r in first.feedback()] == list(range(ROUNDS))
