"""Policies and feedback loops over HTTP, end to end: a real uvicorn, the real Redis.

The server evaluates the retraining policy on its schedule (``serving.policy_check_interval``)
and answers the decision log; ``/feedback`` takes a ``group``; ``/reports/feedback-loop`` gives
the numbers the Python API gives.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import polars as pl
import pytest
from server_helpers import REDIS_HOST, REDIS_PORT, FeatureServer, delete_keys, need_redis

from featurestore import FeatureStore
from featurestore.server.app import scheduled_policy_evaluations

UTC_US = pl.Datetime("us", "UTC")

DEFINITIONS = """
from datetime import timedelta
from featurestore import Entity, Feature, FeatureService, FeatureView, PushSource, RetrainPolicy
from featurestore import col

driver = Entity("driver", join_keys=["driver_id"], value_type=int)
events = PushSource("events", schema={"driver_id": int, "fare": float, "ts": "datetime"},
                    timestamp_field="ts")
trips = FeatureView("trips", entities=[driver], source=events,
                    features=[Feature("fare", col("fare"))])
svc = FeatureService("svc", features=[trips])
retrain = RetrainPolicy("retrain", service=svc, reference="train",
                        performance={"accuracy": 0.9}, min_labels=30,
                        cooldown=timedelta(hours=1))
"""


def prepare(repo: Path, online_store: str) -> str:
    project = f"pol{uuid.uuid4().hex[:10]}"
    repo.mkdir()
    (repo / "featurestore.toml").write_text(
        f'project = "{project}"\nonline_store = "{online_store}"\n'
        "[serving]\nskew_sample_rate = 1.0\n"
    )
    (repo / "features.py").write_text(DEFINITIONS)
    with FeatureStore(repo) as store:
        store.apply()
        now = dt.datetime.now(dt.UTC)
        frame = pl.DataFrame(
            {"driver_id": list(range(30)), "fare": np.linspace(1, 30, 30), "ts": [now] * 30},
            schema_overrides={"ts": UTC_US},
        )
        store.push("events", frame, to="online_and_offline")
        spine = pl.DataFrame(
            {"driver_id": list(range(30)), "event_timestamp": [now + dt.timedelta(seconds=1)] * 30},
            schema_overrides={"event_timestamp": UTC_US},
        )
        store.get_training_frame(spine, service="svc", save_as="train")
    return project


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[FeatureStore, FeatureServer]]:
    need_redis()
    repo = tmp_path / "repo"
    project = prepare(repo, f"redis://{REDIS_HOST}:{REDIS_PORT}/0")
    store = FeatureStore(repo)
    server = FeatureServer(
        repo, tmp_path / "server.log", {"FEATURESTORE_SERVING_POLICY_CHECK_INTERVAL": "0.5"}
    )
    try:
        yield store, server.start()
    finally:
        server.stop()
        store.close()
        delete_keys(project)


def test_decisions_groups_and_feedback_loops_over_http(
    live: tuple[FeatureStore, FeatureServer],
) -> None:
    store, server = live
    url = server.url
    for i in range(40):
        answer = httpx.post(
            url + "/get-online-features",
            json={"features": ["trips:fare"], "entities": {"driver_id": [i % 30]}},
            timeout=30,
        ).json()
        request_id = answer["metadata"]["request_id"]
        body = {"request_id": request_id, "prediction": 1, "label": int(i % 2 == 0)}
        if i % 4 == 0:
            body["group"] = "control"
        stored = httpx.post(url + "/feedback", json=body, timeout=30)
        assert stored.status_code == 200, stored.text
    regroup = httpx.post(
        url + "/feedback", json={"request_id": request_id, "label": 1, "group": "x"}, timeout=30
    )
    assert regroup.status_code == 409
    too_long = httpx.post(
        url + "/feedback", json={"request_id": request_id, "label": 1, "group": "g" * 65}
    )
    assert too_long.status_code == 422 and "group" in too_long.text

    # once the 30 model rows (the control group's 10 left out) are in, the schedule finds
    # accuracy 1/3: every prediction is 1, a third of those labels are
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        decisions = httpx.get(url + "/policies/decisions", params={"retrain": "true"}).json()
        if decisions:
            break
        time.sleep(0.2)
    assert decisions, server.log.read_text()[-2000:]
    first = decisions[-1]
    assert first["policy"] == "retrain" and first["fired"] == ["performance"]
    perf = first["triggers"][0]
    assert perf["figures"]["n_labelled"] == 30
    assert perf["figures"]["metrics"]["accuracy"] == pytest.approx(1 / 3)
    time.sleep(1.2)  # more scheduled evaluations: they cool down
    log = httpx.get(url + "/policies/decisions", params={"policy": "retrain", "limit": 1000}).json()
    assert len(log) >= 2 and sum(d["retrain"] for d in log) == 1
    assert log[0]["cooldown_until"] == first["cooldown_until"] or log[0]["retrain"] is False
    assert httpx.get(url + "/policies/decisions", params={"limit": 0}).status_code == 422
    # the schedule goes on deciding: compare what both had recorded before the newest one seen
    until = log[0]["evaluated_at"]
    older = httpx.get(url + "/policies/decisions", params={"until": until, "limit": 1000}).json()
    assert older == log[1:]
    mine = store.policy_decisions(until=dt.datetime.fromisoformat(until), limit=1000)
    assert [d.to_dict() for d in mine] == older

    answer = httpx.get(url + "/reports/feedback-loop", params={"window": "1d"}, timeout=30)
    assert answer.status_code == 200, answer.text
    over_http = answer.json()
    assert over_http == store.feedback_loop_report("1d").to_dict()
    assert [g["group"] for g in over_http["overall"]["groups"]] == ["control", None]
    assert over_http["overall"]["z_test"]["n_control"] == 10
    latest = httpx.get(url + "/reports/feedback-loop", params={"latest": "true"}).json()
    assert latest == over_http
    bad = httpx.get(url + "/reports/feedback-loop", params={"window": "soon"})
    assert bad.status_code == 422 and "window 'soon'" in bad.json()["detail"]


def test_the_schedule_runs_in_process(tmp_path: Path) -> None:
    prepare(tmp_path / "repo", "sqlite:///.featurestore/online.db")
    with FeatureStore(tmp_path / "repo") as store:

        async def run_a_while() -> None:
            task = asyncio.create_task(scheduled_policy_evaluations(store, 0.2))
            await asyncio.sleep(1.0)
            task.cancel()

        asyncio.run(run_a_while())
        decisions = store.policy_decisions()
        assert len(decisions) >= 2  # it keeps running on its schedule
        assert all(d.trigger("performance").status == "insufficient_data" for d in decisions)  # type: ignore[union-attr]
