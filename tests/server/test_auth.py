"""Bearer tokens: 401 without a valid token, 403 without the scope, 200 with it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import httpx
import pytest
from server_helpers import FeatureServer, Served

READER, WRITER = "reader-token-0123", "writer-token-4567"
TOKENS = f'[{{token = "{READER}", scopes = ["read"]}}, {{token = "{WRITER}", scopes = ["write"]}}]'
FEATURES = {"features": ["driver_trips:fare_log"], "entities": {"driver_id": [1]}}


@pytest.fixture(scope="module")
def secured(served: Served, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("auth") / "server.log"
    server = FeatureServer(served.repo, log, {"FEATURESTORE_SERVING_TOKENS": TOKENS}).start()
    try:
        yield server.url
    finally:
        server.stop()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def push_body() -> dict[str, object]:
    now = dt.datetime.now(dt.UTC).isoformat()
    return {
        "push_source_name": "rider_events",
        "df": {"rider_id": ["auth-rider"], "rating": [2.0], "event_ts": [now]},
    }


@pytest.mark.parametrize(
    "headers",
    [{}, auth("not-a-known-token"), {"Authorization": READER}, {"Authorization": "Basic abc"}],
    ids=["none", "unknown", "no scheme", "basic"],
)
def test_missing_or_invalid_token_is_401(secured: str, headers: dict[str, str]) -> None:
    for path, body in (("/get-online-features", FEATURES), ("/push", push_body())):
        reply = httpx.post(secured + path, json=body, headers=headers, timeout=30)
        assert reply.status_code == 401, reply.text
        assert reply.headers["www-authenticate"].startswith("Bearer")
        assert "token" in reply.json()["detail"] or "Bearer" in reply.json()["detail"]
    reply = httpx.get(secured + "/reports/contracts", headers=headers, timeout=30)
    assert reply.status_code == 401


def test_scopes(secured: str) -> None:
    read = httpx.post(secured + "/get-online-features", json=FEATURES, headers=auth(READER))
    assert read.status_code == 200, read.text
    reports = httpx.get(secured + "/reports/contracts?limit=1", headers=auth(READER))
    assert reports.status_code == 200, reports.text

    denied = httpx.post(secured + "/push", json=push_body(), headers=auth(READER), timeout=30)
    assert denied.status_code == 403, denied.text
    assert "'write'" in denied.json()["detail"]
    denied = httpx.post(secured + "/materialize", json={}, headers=auth(READER), timeout=30)
    assert denied.status_code == 403
    denied = httpx.post(secured + "/get-online-features", json=FEATURES, headers=auth(WRITER))
    assert denied.status_code == 403 and "'read'" in denied.json()["detail"]

    pushed = httpx.post(secured + "/push", json=push_body(), headers=auth(WRITER), timeout=30)
    assert pushed.status_code == 200, pushed.text


def test_health_and_metrics_stay_open(secured: str) -> None:
    assert httpx.get(secured + "/health").json() == {"status": "ok"}
    assert httpx.get(secured + "/metrics").status_code == 200


def test_token_table_compares_every_entry() -> None:
    from featurestore.config import TokenConfig
    from featurestore.server.auth import TokenTable

    table = TokenTable.from_config(
        [TokenConfig(token=READER, scopes=("read",)), TokenConfig(token=READER, scopes=("write",))]
    )
    assert table.scopes_of(READER) == frozenset({"write"})  # the last match, after all compares
    assert table.scopes_of(READER + "x") is None
    assert table.scopes_of("") is None


def test_the_token_is_checked_before_the_body_is_read(secured: str) -> None:
    """An unauthenticated 200 MB body gets its 401 at once; the server reads none of it (only
    the request head is sent here, so a server waiting for the body would time out)."""
    import socket
    import time

    host, port = secured.removeprefix("http://").split(":")
    for path in ("/push", "/get-online-features", "/feedback", "/materialize"):
        started = time.monotonic()
        with socket.create_connection((host, int(port)), timeout=10) as conn:
            head = (
                f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {200 * 1024 * 1024}\r\n\r\n"
            )
            conn.sendall(head.encode() + b'{"push_source_name": "')
            answer = conn.recv(65536)
        assert answer.startswith(b"HTTP/1.1 401"), (path, answer[:200])
        assert time.monotonic() - started < 5
