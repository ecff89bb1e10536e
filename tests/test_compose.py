"""docker-compose.yml brings up a working stack. No Docker engine runs here, so the file is
checked in two ways: every ``featurestore`` command it runs parses against the CLI itself
(commands, options, arguments), and the init job's script plus the server's command are run for
real on this machine (the test's own redis-server, a throwaway PostgreSQL database), after which
the server answers with feature values."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
import yaml
from online.redis_servers import RedisServer, free_port, wait_for

from featurestore.cli import app
from featurestore.quickstart.traffic import stop_server
from tests.conftest import temporary_database

COMPOSE = Path(__file__).resolve().parents[1] / "docker-compose.yml"
SEPARATORS = {"&&", "||", ";", "|", "&"}


def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def _shell_commands(service: dict[str, Any]) -> list[list[str]]:
    """The commands a service runs: its command list, or each command of an ``sh -c`` script."""
    entrypoint = service.get("entrypoint") or []
    command = service.get("command") or []
    if entrypoint[:1] == ["sh"]:
        lexer = shlex.shlex(command[0], posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        commands: list[list[str]] = [[]]
        for token in lexer:
            if token in SEPARATORS:
                commands.append([])
            else:
                commands[-1].append(token)
        return [c for c in commands if c]
    return [command] if command else []


def _featurestore_commands() -> list[tuple[str, list[str]]]:
    found = []
    for name, service in _compose()["services"].items():
        for command in _shell_commands(service):
            if command[0] == "featurestore":
                found.append((name, command[1:]))
    return found


def _parse(args: list[str]) -> tuple[str, dict[str, Any]]:
    """Parse ``featurestore <args>`` as the CLI would (raises a usage error if it would not)."""
    group = typer.main.get_command(app)
    command: Any = group
    context = group.make_context("featurestore", list(args))
    rest = [*context._protected_args, *context.args]
    while hasattr(command, "resolve_command"):
        name, command, rest = command.resolve_command(context, rest)
        context = command.make_context(name, rest, parent=context)
        rest = [*getattr(context, "_protected_args", []), *context.args]
    assert not rest, f"featurestore {shlex.join(args)}: extra arguments {rest}"
    return context.command_path, context.params


def test_every_featurestore_command_in_compose_exists_in_the_cli() -> None:
    commands = _featurestore_commands()
    paths = {service: set() for service, _ in commands}
    for service, args in commands:
        path, _ = _parse(args)  # a missing command or option fails here
        paths[service].add(path)
    assert paths["init"] >= {
        "featurestore init",
        "featurestore apply",
        "featurestore ingest",
        "featurestore materialize",
    }
    assert paths["feature-server"] == {"featurestore serve"}


def test_the_parser_refuses_what_the_cli_refuses() -> None:
    with pytest.raises(Exception, match="No such option"):
        _parse(["serve", "--no-such-option"])
    with pytest.raises(Exception, match="No such command"):
        _parse(["no-such-command"])


def test_host_ports_do_not_clash_with_local_servers() -> None:
    services = _compose()["services"]
    published = [p for s in services.values() for p in s.get("ports", [])]
    for port in published:
        host_port = port.rsplit(":", 2)[-2]
        assert host_port.split(":-")[-1].rstrip("}") not in ("5432", "6379"), port
    assert services["feature-server"]["depends_on"]["init"] == {
        "condition": "service_completed_successfully"
    }


def test_the_stack_comes_up_working(tmp_path: Path) -> None:
    """The init script and the server command, as compose runs them, on local services."""
    services = _compose()["services"]
    redis = RedisServer(tmp_path / "redis", free_port())
    redis.start()
    try:
        with temporary_database("compose") as registry:
            _bring_up(services, tmp_path, registry, f"redis://127.0.0.1:{redis.port}/0")
    finally:
        redis.stop()


def _bring_up(services: dict[str, Any], tmp_path: Path, registry: str, online: str) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()  # the empty volume
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEATURESTORE_")}
    env |= {
        "FEATURESTORE_REGISTRY": registry,
        "FEATURESTORE_ONLINE_STORE": online,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    }
    init = services["init"]
    script = init["command"][0].replace("/repo", str(repo))
    for _ in range(2):  # a rerun (compose up again) is safe
        done = subprocess.run(
            [*init["entrypoint"], script], env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr + done.stdout
    assert "materialized" in done.stdout
    port = free_port()
    command = [
        str(port) if arg == "6566" else "127.0.0.1" if arg == "0.0.0.0" else arg
        for arg in services["feature-server"]["command"]
    ]
    command = [a.replace("/repo", str(repo)) for a in command]
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        if server.poll() is not None:
            raise RuntimeError(log.read_text()[-3000:])
        try:
            return httpx.get(url + "/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(answers, "the compose feature server", timeout=60)
        reply = httpx.post(
            url + "/get-online-features",
            json={
                "features": ["driver_trips:last_fare"],
                "entities": {"driver_id": list(range(20))},
            },
            timeout=30,
        )
        assert reply.status_code == 200, reply.text
        statuses = reply.json()["results"][1]["statuses"]
        assert statuses.count("PRESENT") >= 10, statuses
    finally:
        stop_server(server)
