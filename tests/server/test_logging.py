"""What ``featurestore serve`` logs, read from a real server process's output: the startup line
(stores with passwords hidden), one line per error (a traceback for a 500), the access log,
``--log-level`` and ``--log-format json``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest
from server_helpers import free_port, http_ready, wait_for

from featurestore.quickstart.sample import write_sample_repo
from featurestore.quickstart.traffic import stop_server

SECRET = "s3cret-pw"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = write_sample_repo(tmp_path_factory.mktemp("logging") / "repo", project="logs")
    from featurestore import FeatureStore

    with FeatureStore(path) as store:
        store.apply()
    return path


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEATURESTORE_")}
    return env | {"FEATURESTORE_SERVER_REFRESH_SECONDS": "60"} | extra


class Server:
    """A server process on a free port whose stderr and stdout go to one file."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("wb") as out:
            command = [arg.replace("{port}", str(self.port)) for arg in args]
            self.process = subprocess.Popen(command, env=env, stdout=out, stderr=out)

    def __enter__(self) -> Server:
        wait_for(lambda: http_ready(self.process, self.url + "/metrics", self.log), "the server")
        return self

    def __exit__(self, *_: object) -> None:
        stop_server(self.process)

    def lines(self) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if line.strip()]


def _serve(repo: Path, *options: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "featurestore.cli",
        "--repo",
        str(repo),
        "serve",
        "--port",
        "{port}",
        *options,
    ]


def _settled(server: Server, needle: str) -> list[str]:
    """The log once a line holds ``needle`` (lines are written as requests end)."""
    wait_for(lambda: needle in server.log.read_text(), f"a log line with {needle!r}", timeout=10)
    return server.lines()


def test_json_log_startup_errors_and_access(repo: Path, tmp_path: Path) -> None:
    # a registry URL with a password: the startup line must hide it
    registry = f"sqlite:///{repo / '.featurestore' / 'registry.db'}"
    online = f"redis://user:{SECRET}@127.0.0.1:{free_port()}/0"
    env = _env(FEATURESTORE_ONLINE_STORE=online, FEATURESTORE_REGISTRY=registry)
    args = _serve(repo, "--log-format", "json", "--access-log")
    with Server(args, tmp_path / "server.log", env) as server:
        missing = httpx.post(
            server.url + "/get-online-features",
            json={"features": ["nope:x"], "entities": {"driver_id": [1]}},
        )
        assert missing.status_code == 404
        lines = _settled(server, "unknown feature view")
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= r.keys() for r in records)
    startup = [r for r in records if r["message"].startswith("featurestore serving project")]
    assert len(startup) == 1, records
    text = startup[0]["message"]
    assert "'logs'" in text and f"http://127.0.0.1:{server.port}" in text
    assert "user:***@" in text and "registry sqlite:///" in text
    assert SECRET not in "\n".join(lines)
    errors = [r for r in records if r["logger"] == "featurestore.server" and r is not startup[0]]
    assert [e["level"] for e in errors] == ["warning"], errors
    assert errors[0]["message"] == "404 POST /get-online-features: unknown feature view 'nope'"
    assert "traceback" not in errors[0]
    access = [r for r in records if r["logger"] == "uvicorn.access"]
    assert {(a["method"], a["path"], a["status"]) for a in access} >= {
        ("GET", "/metrics", 200),
        ("POST", "/get-online-features", 404),
    }


def test_text_log_level_and_no_access_log_by_default(repo: Path, tmp_path: Path) -> None:
    with Server(_serve(repo), tmp_path / "info.log", _env()) as server:
        httpx.get(server.url + "/nothing")
        lines = _settled(server, "/nothing")
    assert lines[0].split(" ", 2)[2].startswith("INFO featurestore.server: featurestore serving")
    assert any("WARNING featurestore.server: 404 GET /nothing: no endpoint" in x for x in lines)
    assert not any("uvicorn.access" in line for line in lines)
    # --log-level error: neither the startup line nor the 4xx line
    args = _serve(repo, "--log-level", "error")
    with Server(args, tmp_path / "error.log", _env()) as quiet:
        httpx.get(quiet.url + "/nothing")
    assert quiet.lines() == []


BOOM_SERVER = textwrap.dedent(
    """
    import sys

    import uvicorn

    from featurestore import FeatureStore
    from featurestore.logs import log_config
    from featurestore.server.app import create_app

    app = create_app(FeatureStore(sys.argv[1]), close_store=True)


    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("kaboom")  # a bug in a handler


    config = log_config(level="info", fmt=sys.argv[3])
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_config=config)
    """
)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_500_is_logged_with_its_traceback(repo: Path, tmp_path: Path, fmt: str) -> None:
    script = tmp_path / "boom_server.py"
    script.write_text(BOOM_SERVER)
    args = [sys.executable, str(script), str(repo), "{port}", fmt]
    with Server(args, tmp_path / "boom.log", _env()) as server:
        answer = httpx.get(server.url + "/boom")
        assert answer.status_code == 500
        assert answer.json() == {"detail": "internal error"}  # no detail leaks to the client
        _settled(server, "kaboom")
    log = server.log.read_text()
    if fmt == "json":
        records = [json.loads(line) for line in log.splitlines() if line.strip()]
        (boom,) = [r for r in records if r["level"] == "error"]
        assert boom["message"] == "500 GET /boom: unexpected RuntimeError"
        assert "Traceback" in boom["traceback"] and "RuntimeError: kaboom" in boom["traceback"]
    else:
        assert "ERROR featurestore.server: 500 GET /boom: unexpected RuntimeError" in log
        assert "Traceback (most recent call last)" in log and "RuntimeError: kaboom" in log
