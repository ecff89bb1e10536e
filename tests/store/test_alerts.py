"""Alerts against a real webhook receiver on a loopback port: posted in the background, retried
with backoff while the receiver is down, every attempt recorded in the registry."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import polars as pl
import pytest
from test_ingest import batch

from featurestore import ContractError, FeatureStore
from featurestore.alerts import Event, events_for
from featurestore.config import AlertConfig
from featurestore.errors import ConfigError

MakeStore = Callable[..., FeatureStore]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receiver:
    """A webhook receiver on 127.0.0.1:``port`` answering ``statuses`` in turn (then 200)."""

    def __init__(self, port: int, statuses: list[int] | None = None) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}/hook"
        self.bodies: list[dict[str, Any]] = []
        self.statuses = list(statuses or [])
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> Receiver:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                owner.bodies.append(json.loads(body))
                status = owner.statuses.pop(0) if owner.statuses else 200
                self.send_response(status)
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    up = Receiver(free_port()).start()
    yield up
    up.stop()


def alerts_toml(
    url: str, events: str = '["quarantined", "contract_rejected"]', **extra: object
) -> str:
    more = "".join(f"{k} = {v}\n" for k, v in extra.items())
    return f'[[alerts]]\nurl = "{url}"\nevents = {events}\nbackoff = 0.2\n{more}'


def wait_until(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"not true within {timeout} s: {check}")


def with_violation() -> pl.DataFrame:
    return batch(fare=[10.0, -1.0, 12.0, 13.0, 14.0, 15.0])


def test_quarantined_and_rejected_batches_are_posted_and_recorded(
    make_store: MakeStore, receiver: Receiver
) -> None:
    store = make_store(alerts_toml(receiver.url))
    report = store.ingest("driver_trips", with_violation())
    naive = batch(3).with_columns(pl.col("event_ts", "created_ts").dt.replace_time_zone(None))
    with pytest.raises(ContractError):
        store.ingest("driver_trips", naive)
    store.ingest("driver_trips", batch(2))  # clean: no alert
    wait_until(lambda: len(receiver.bodies) == 2)
    first, second = receiver.bodies
    assert set(first) >= {"event", "project", "summary", "details", "at"}
    assert (first["event"], second["event"]) == ("quarantined", "contract_rejected")
    assert first["project"] == store.project and first["details"]["run_id"] == report.run_id
    assert "1 of 6 rows quarantined" in first["summary"]
    assert "rejected" in second["summary"]

    def both_delivered() -> list[dict[str, object]]:
        done = [d for d in store.registry.alert_deliveries() if d["status"] == "delivered"]
        return done if len(done) == 2 else []

    deliveries = wait_until(both_delivered)
    assert sorted(str(d["event"]) for d in deliveries) == ["contract_rejected", "quarantined"]
    assert all(d["attempts"] == 1 and d["last_status"] == 200 for d in deliveries)
    time.sleep(0.3)
    assert len(receiver.bodies) == 2  # each posted exactly once


def test_a_receiver_that_is_down_and_comes_back_gets_the_alert(make_store: MakeStore) -> None:
    port = free_port()
    down = Receiver(port)
    store = make_store(alerts_toml(down.url, max_attempts=20))
    store.ingest("driver_trips", with_violation())  # returns at once: posting is not its job

    def retrying() -> bool:
        (d,) = store.registry.alert_deliveries()
        return d["attempts"] >= 2 and d["status"] in ("pending", "sending")

    wait_until(retrying)
    (waiting,) = store.registry.alert_deliveries()
    assert "Connect" in (waiting["last_error"] or "") and waiting["last_status"] is None
    down.start()
    try:
        wait_until(lambda: store.registry.alert_deliveries(status="delivered"))
        (done,) = store.registry.alert_deliveries()
        assert done["attempts"] >= 3 and done["last_status"] == 200 and done["last_error"] is None
        assert [b["event"] for b in down.bodies] == ["quarantined"]
    finally:
        down.stop()


def test_retries_back_off_then_give_up(make_store: MakeStore, receiver: Receiver) -> None:
    receiver.statuses = [500] * 10
    store = make_store(alerts_toml(receiver.url, max_attempts=3))
    started = time.monotonic()
    store.ingest("driver_trips", with_violation())
    wait_until(lambda: store.registry.alert_deliveries(status="failed"))
    # waits of 0.2 s then 0.4 s between the three attempts
    assert time.monotonic() - started >= 0.6
    (failed,) = store.registry.alert_deliveries()
    assert (failed["attempts"], failed["last_status"]) == (3, 500)
    assert "HTTP 500" in failed["last_error"]
    assert len(receiver.bodies) == 3


def test_pending_deliveries_are_resumed_by_the_next_process(
    make_store: MakeStore, tmp_path: Any
) -> None:
    port = free_port()
    receiver = Receiver(port)
    store = make_store(alerts_toml(receiver.url, max_attempts=50))
    store.ingest("driver_trips", with_violation())
    store.close()  # the receiver is down: the delivery stays pending
    (left,) = store.registry.alert_deliveries()
    store.close()
    assert left["status"] in ("pending", "sending") and left["attempts"] >= 1
    receiver.start()
    try:
        again = FeatureStore(store.repo_path)
        try:
            assert again.alerts is not None
            again.alerts.start()  # what the server does when it starts
            wait_until(lambda: again.registry.alert_deliveries(status="delivered"), timeout=30)
            assert [b["event"] for b in receiver.bodies] == ["quarantined"]
        finally:
            again.close()
    finally:
        receiver.stop()


def test_only_subscribed_events_are_posted(make_store: MakeStore, receiver: Receiver) -> None:
    store = make_store(alerts_toml(receiver.url, events='["drift"]'))
    store.ingest("driver_trips", with_violation())
    assert store.alerts is not None
    store.alerts.emit(Event("drift", "drift: 1 of 1 features", {"features": ["x"]}))
    wait_until(lambda: receiver.bodies)
    store.close()
    assert [b["event"] for b in receiver.bodies] == ["drift"]
    assert [d["event"] for d in store.registry.alert_deliveries()] == ["drift"]


def test_events_from_reports() -> None:
    skew = {
        "checked_at": "2026-01-01T00:00:00.000000Z",
        "samples": 10,
        "features": [
            {"view": "v", "feature": "a", "match": 7, "stale": 3, "mismatch": 0},
            {"view": "v", "feature": "b", "match": 10, "stale": 0, "mismatch": 0},
        ],
    }
    (event,) = events_for("skew", skew)
    assert event.event == "skew" and event.summary.startswith("skew: 3 stale")
    clean = {**skew, "features": [skew["features"][1]]}
    assert events_for("skew", clean) == []
    drift = {
        "reference": "train",
        "current": "serving log",
        "features": [
            {"feature": "x", "drifted": True, "flags": ["psi"], "psi": 0.4},
            {"feature": "y", "drifted": False, "flags": [], "psi": 0.01},
        ],
    }
    (event,) = events_for("drift", drift)
    assert event.event == "drift" and "1 of 2 features" in event.summary
    assert events_for("drift", {**drift, "features": drift["features"][1:]}) == []
    alarm = {"detector": "DDM", "timestamp": "2026-01-02T00:00:00.000000Z", "index": 40}
    (event,) = events_for("performance", {"window": "P1D", "alarms": [alarm]})
    assert event.event == "detector" and "DDM" in event.summary
    assert events_for("performance", {"alarms": []}) == []


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        ({"url": "ftp://x"}, "url"),
        ({"url": "http://127.0.0.1:1/x", "events": ["nope"]}, "events"),
        ({"url": "http://127.0.0.1:1/x", "max_attempts": 0}, "max_attempts"),
    ],
)
def test_bad_alert_entries_are_refused(
    make_store: MakeStore, entry: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(ValueError, match=fragment):
        AlertConfig(**entry)
    toml = "[[alerts]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in entry.items())
    with pytest.raises(ConfigError, match=fragment):
        make_store(toml)


def test_serving_never_raises_or_posts_an_alert(make_store: MakeStore, receiver: Receiver) -> None:
    store = make_store(alerts_toml(receiver.url, events='["quarantined", "skew", "drift"]'))
    store.ingest("driver_trips", batch(6))
    store.materialize(end=dt.datetime(2026, 1, 2, tzinfo=dt.UTC))
    for _ in range(20):
        answer = store.get_online_features(["driver_trips:fare"], entities={"driver_id": [0, 1]})
        assert len(answer.statuses["fare"]) == 2  # answered (stale by now: ttl is 7 days)
    assert store.registry.alert_deliveries() == []
    assert "featurestore-alerts" not in {t.name for t in threading.enumerate()}
    assert receiver.bodies == []
