"""``GET /metrics``: latency histograms, request counts, error counts, online-store errors."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families
from server_helpers import Served


def samples(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    reply = httpx.get(url + "/metrics", timeout=30)
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(reply.text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(
    metrics: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return metrics.get((name, frozenset(labels.items())), 0.0)


def test_metrics_count_requests_latency_and_errors(served: Served) -> None:
    before = samples(served.url)
    body = {"features": ["driver_trips:fare_log"], "entities": {"driver_id": [1]}}
    for _ in range(3):
        assert served.post("/get-online-features", body).status_code == 200
    unknown = {"features": ["driver_trips:nope"], "entities": {"driver_id": [1]}}
    assert served.post("/get-online-features", unknown).status_code == 404
    after = samples(served.url)

    endpoint = "/get-online-features"
    ok = "featurestore_requests_total"
    assert (
        value(after, ok, endpoint=endpoint, status="200")
        - value(before, ok, endpoint=endpoint, status="200")
        == 3
    )
    assert value(after, ok, endpoint=endpoint, status="404") >= 1
    count = "featurestore_request_duration_seconds_count"
    assert value(after, count, endpoint=endpoint) - value(before, count, endpoint=endpoint) == 4
    assert (
        value(after, "featurestore_request_duration_seconds_bucket", endpoint=endpoint, le="+Inf")
        >= 4
    )
    errors = "featurestore_errors_total"
    assert value(after, errors, error="NotFoundError") > value(
        before, errors, error="NotFoundError"
    )
    names = {name for name, _ in after}
    assert {
        "featurestore_online_store_errors_total",
        "featurestore_serving_log_samples_logged_total",
        "featurestore_serving_log_samples_dropped_total",
    } <= names


def test_app_state_exposes_the_counters_the_integrator_increments(served: Served) -> None:
    from featurestore.server import create_app

    app = create_app(served.store)
    metrics = app.state.metrics
    metrics.samples_logged.inc(5)
    metrics.samples_dropped.inc(2)
    text = __import__("prometheus_client").generate_latest(metrics.registry).decode()
    assert "featurestore_serving_log_samples_logged_total 5.0" in text
    assert "featurestore_serving_log_samples_dropped_total 2.0" in text
    # each app has its own registry
    assert (
        "samples_logged_total 0.0"
        in __import__("prometheus_client")
        .generate_latest(create_app(served.store).state.metrics.registry)
        .decode()
    )
