"""The README's five-minute tour, run command by command as written on a fresh `featurestore init`.

The commands are read from the README itself, so the tour and this test cannot drift apart.
`featurestore serve` is started in the background on a free port (the curl goes there).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
from cli_helpers import EXE, run

README = Path(__file__).resolve().parents[1] / "README.md"


def tour_commands() -> list[list[str]]:
    text = README.read_text()
    block = text.split("## A five-minute tour", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    commands: list[str] = []
    for line in block.splitlines():
        if re.match(r"(featurestore|curl)\b", line):
            commands.append(line)
        elif line.strip():
            commands[-1] += "\n" + line  # a continued argument (the curl's JSON)
    out = []
    for command in commands:
        for part in command.split(" && "):
            out.append(shlex.split(part, comments=True))
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_tour_runs_as_written(tmp_path: Path) -> None:
    commands = tour_commands()
    assert [c[1] for c in commands if c[0] == "featurestore"][:4] == [
        "init",
        "apply",
        "apply",
        "ingest",
    ]
    cwd, port, server = tmp_path, free_port(), None
    seen: dict[str, subprocess.CompletedProcess[str]] = {}
    try:
        for args in commands:
            if args[0] == "cd":
                cwd = cwd / args[1]
            elif args[:2] == ["featurestore", "serve"]:
                args = [a if a != "6566" else str(port) for a in args]
                env = {k: v for k, v in os.environ.items() if not k.startswith("FEATURESTORE_")}
                server = subprocess.Popen([*EXE, *args[1:]], cwd=cwd, env=env)
                deadline = time.monotonic() + 60
                while True:
                    try:
                        httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                        break
                    except httpx.HTTPError:
                        assert time.monotonic() < deadline and server.poll() is None
                        time.sleep(0.1)
            elif args[0] == "curl":
                url = next(a for a in args if "get-online-features" in a)
                body = json.loads(args[args.index("-d") + 1])
                answer = httpx.post(
                    "http://" + url.replace("localhost:6566", f"127.0.0.1:{port}"), json=body
                )
                assert answer.status_code == 200, answer.text
                statuses = answer.json()["results"][1]["statuses"]
                assert statuses == ["PRESENT", "PRESENT"]
                time.sleep(1.5)  # sampled rows reach the serving-log buffer in the background
            else:
                result = run(*args[1:], cwd=cwd)
                assert result.returncode == 0, (args, result.stdout[-2000:], result.stderr)
                seen[" ".join(args[1:3])] = result
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=20)
    assert (cwd / "spine.parquet").is_file() and (cwd / "train.parquet").is_file()
    assert "12 quarantined" in seen["ingest driver_trips"].stdout
    assert "paris" in seen["quarantine driver_trips"].stdout
    assert "train_v1" in seen["list datasets"].stdout
    assert "2 sampled rows" in seen["parity skew"].stdout
    # two served rows are far too few to call drift: figures, but no flag
    assert "insufficient data" in seen["parity drift"].stdout
    assert "0 of" in seen["parity drift"].stdout
    assert (cwd / "report.html").stat().st_size > 1_000_000
