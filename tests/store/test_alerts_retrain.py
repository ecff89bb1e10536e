"""A retraining policy's decision to retrain is posted to the ``[[alerts]]`` webhooks subscribed
to ``retrain`` (a real receiver on a loopback port); decisions not to retrain are not."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pytest
from store_repo import definitions
from test_alerts import MakeStore, Receiver, alerts_toml, free_port, wait_until
from test_ingest import batch

from featurestore import RetrainPolicy

POLICY = RetrainPolicy(
    "ranking_retrain",
    service="ranking",
    reference="ranking_train",
    performance={"accuracy": 0.9},
    min_labels=20,
    cooldown=dt.timedelta(days=1),
)


@pytest.fixture
def webhook() -> Iterator[Receiver]:
    up = Receiver(free_port()).start()
    yield up
    up.stop()


def test_a_retrain_is_posted_once(make_store: MakeStore, webhook: Receiver) -> None:
    receiver = webhook
    store = make_store(alerts_toml(receiver.url, events='["retrain"]'), [*definitions(), POLICY])
    store.ingest("driver_trips", batch(6))
    store.materialize(end=dt.datetime.now(dt.UTC))
    [quiet] = store.evaluate_policies()  # no feedback yet: nothing to post
    assert not quiet.retrain
    for i in range(30):
        answer = store.get_online_features(["driver_trips:fare"], entities={"driver_id": [i % 3]})
        store.log_feedback(answer.request_id, prediction=1, label=int(i % 3 == 0))
    [due] = store.evaluate_policies()
    [cooling] = store.evaluate_policies()
    assert due.retrain and not cooling.retrain and cooling.fired == ["performance"]
    [body] = wait_until(lambda: receiver.bodies)
    assert body["event"] == "retrain" and body["project"] == store.project
    assert body["summary"] == f"ranking_retrain: {due.reason}"
    assert body["details"] == due.to_dict()
    time.sleep(0.3)
    assert len(receiver.bodies) == 1  # the cooling-down decision raised nothing
    [delivery] = store.registry.alert_deliveries()
    assert (delivery["event"], delivery["status"]) == ("retrain", "delivered")
