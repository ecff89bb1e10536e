"""Rollouts over HTTP, end to end: a real uvicorn, the real Redis.

A shadow rollout never changes what is served: the answers' bytes are those of no rollout (the
request id aside, which is new per call); a canary serves the candidate to its entities; abort
gives back the very bytes served before; every step needs the ``write`` scope's endpoints and
answers the rollout's record.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import polars as pl
import pytest
from server_helpers import REDIS_HOST, REDIS_PORT, FeatureServer, delete_keys, need_redis

from featurestore import Entity, Feature, FeatureStore, FeatureView, PushSource, col

UTC_US = pl.Datetime("us", "UTC")
DRIVERS = list(range(40))

driver = Entity("driver", join_keys=["driver_id"], value_type=int)
events = PushSource(
    "events", schema={"driver_id": int, "fare": float, "ts": "datetime"}, timestamp_field="ts"
)


def trips(factor: float) -> FeatureView:
    return FeatureView(
        "trips",
        entities=[driver],
        source=events,
        features=[Feature("fare", col("fare") * factor), Feature("flat", col("fare") * 0)],
    )


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[FeatureStore, FeatureServer]]:
    need_redis()
    repo = tmp_path / "repo"
    repo.mkdir()
    project = f"ro{uuid.uuid4().hex[:10]}"
    (repo / "featurestore.toml").write_text(
        f'project = "{project}"\nonline_store = "redis://{REDIS_HOST}:{REDIS_PORT}/0"\n'
        "[serving]\nskew_sample_rate = 1.0\n"
    )
    store = FeatureStore(repo)
    store.apply([driver, events, trips(1.0)])
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    frame = pl.DataFrame(
        {"driver_id": DRIVERS, "fare": np.linspace(1, 40, 40), "ts": [now] * 40},
        schema_overrides={"ts": UTC_US},
    )
    store.push("events", frame, to="online_and_offline")
    store.materialize()
    store.apply([trips(3.0)])  # version 2, the candidate
    server = FeatureServer(repo, tmp_path / "server.log")
    try:
        yield store, server.start()
    finally:
        server.stop()
        store.close()
        delete_keys(project)


def served(url: str) -> bytes:
    """The answer's bytes with the request id (new per call) blanked."""
    answer = httpx.post(
        url + "/get-online-features",
        json={"features": ["trips:fare", "trips:flat"], "entities": {"driver_id": DRIVERS}},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return re.sub(rb'"request_id":"[0-9a-f]{32}"', b'"request_id":""', answer.content)


def test_shadow_canary_abort_promote_over_http(
    live: tuple[FeatureStore, FeatureServer],
) -> None:
    store, server = live
    url = server.url
    before = served(url)
    start = {"view": "trips", "version": 2, "stage": "shadow", "sample": 1.0}
    record = httpx.post(url + "/rollouts", json=start, timeout=60)
    assert record.status_code == 200, record.text
    assert record.json()["status"] == "running" and record.json()["baseline_version"] == 1
    for _ in range(3):
        assert served(url) == before  # byte-identical while the shadow computes version 2

    report = httpx.get(url + "/rollouts/trips/report", timeout=60)
    assert report.status_code == 200, report.text
    values = {v["feature"]: v for v in report.json()["values"]}
    assert values["fare"]["mismatch"] == values["fare"]["total"] >= len(DRIVERS)
    assert values["flat"]["match"] == values["flat"]["total"]

    canary = dict(start, stage="canary", fraction=0.5)
    assert httpx.post(url + "/rollouts", json=canary, timeout=60).status_code == 200
    changed = httpx.post(
        url + "/get-online-features",
        json={"features": ["trips:fare"], "entities": {"driver_id": DRIVERS}},
        timeout=30,
    ).json()
    fares = changed["results"][1]["values"]
    base = np.linspace(1, 40, 40)
    tripled = [f == pytest.approx(3 * b) for f, b in zip(fares, base, strict=True)]
    assert 5 < sum(tripled) < 35
    assert all(f == pytest.approx(b) or t for f, b, t in zip(fares, base, tripled, strict=True))

    # a push reaches both arms, each computed by its own version
    pushed_at = dt.datetime.now(dt.UTC).isoformat()
    rows = {
        "driver_id": DRIVERS,
        "fare": [100.0 + d for d in DRIVERS],
        "ts": [pushed_at] * len(DRIVERS),
    }
    push = httpx.post(
        url + "/push", json={"push_source_name": "events", "df": rows, "to": "online_and_offline"}
    )
    assert push.status_code == 200, push.text
    now_served = httpx.post(
        url + "/get-online-features",
        json={"features": ["trips:fare"], "entities": {"driver_id": DRIVERS}},
        timeout=30,
    ).json()["results"][1]["values"]
    expected = [(100.0 + d) * (3 if t else 1) for d, t in zip(DRIVERS, tripled, strict=True)]
    assert now_served == pytest.approx(expected)

    other = httpx.post(url + "/rollouts", json=dict(start, version=3), timeout=30)
    assert other.status_code == 404  # no version 3
    bad = httpx.post(url + "/rollouts", json=dict(start, stage="full"), timeout=30)
    assert bad.status_code == 422
    listed = httpx.get(url + "/rollouts", params={"view": "trips"}, timeout=30).json()
    assert [r["stage"] for r in listed] == ["canary"]
    assert [s["step"] for s in listed[0]["steps"]] == ["shadow", "canary"]

    aborted = httpx.post(url + "/rollouts/trips/abort", timeout=60)
    assert aborted.status_code == 200 and aborted.json()["status"] == "aborted"
    after_abort = httpx.post(
        url + "/get-online-features",
        json={"features": ["trips:fare"], "entities": {"driver_id": DRIVERS}},
        timeout=30,
    ).json()["results"][1]["values"]
    assert after_abort == pytest.approx([100.0 + d for d in DRIVERS])  # the baseline's values
    again = httpx.post(url + "/rollouts/trips/abort", timeout=30)
    assert again.status_code == 404 and "no rollout" in again.json()["detail"]

    assert httpx.post(url + "/rollouts", json=start, timeout=60).status_code == 200
    promoted = httpx.post(url + "/rollouts/trips/promote", timeout=60)
    assert promoted.status_code == 200 and promoted.json()["status"] == "promoted"
    after = httpx.post(
        url + "/get-online-features",
        json={"features": ["trips:fare"], "entities": {"driver_id": DRIVERS}},
        timeout=30,
    ).json()
    assert after["results"][1]["values"] == pytest.approx([3 * (100.0 + d) for d in DRIVERS])
    store.refresh()
    assert store.state.versions[("feature_view", "trips")] == 2
