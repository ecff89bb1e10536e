"""Feast itself in a cached virtualenv of its own (Feast is never a dependency of featurestore),
and a way to run its client there (``feast_client.py``).

The virtualenv (``~/.cache/featurestore/feast-0.67.0``, or ``FEATURESTORE_TEST_FEAST_VENV``)
is made once with ``python -m venv`` and ``pip install feast==0.67.0`` (minutes) and reused.
A user without network gets a skip with the reason; with ``CI=true`` the tests fail instead.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

FEAST_VERSION = "0.67.0"
CLIENT = Path(__file__).with_name("feast_client.py")


def feast_cache() -> Path:
    """Where the Feast virtualenv lives."""
    chosen = os.environ.get("FEATURESTORE_TEST_FEAST_VENV")
    return (
        Path(chosen)
        if chosen
        else Path.home() / ".cache" / "featurestore" / f"feast-{FEAST_VERSION}"
    )


def _works(python: Path) -> bool:
    if not python.exists():
        return False
    check = f"import feast; assert feast.__version__ == {FEAST_VERSION!r}"
    return subprocess.run([str(python), "-c", check], capture_output=True).returncode == 0


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}, and CI=true: the Feast compatibility test must run", pytrace=False)
    pytest.skip(reason)


def ensure_feast(venv: Path) -> Path:
    """The Python of a virtualenv holding Feast, made in ``venv`` if missing or broken.

    It is built beside and renamed into place, under a lock, so a half-made one is never used.
    """
    python = venv / "bin" / "python"
    if _works(python):
        return python
    venv.parent.mkdir(parents=True, exist_ok=True)
    with (venv.parent / f"{venv.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _works(python):  # another process made it meanwhile
            return python
        building = venv.with_name(f"{venv.name}.building")
        shutil.rmtree(building, ignore_errors=True)
        shutil.rmtree(venv, ignore_errors=True)
        started = time.monotonic()
        steps = [
            [sys.executable, "-m", "venv", str(building)],
            [
                str(building / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "-q",
                f"feast=={FEAST_VERSION}",
            ],
        ]
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, timeout=1800)
            if done.returncode != 0:
                shutil.rmtree(building, ignore_errors=True)
                tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
                _unavailable(f"could not install Feast {FEAST_VERSION}: {' / '.join(tail)}")
        building.rename(venv)
        print(f"made the Feast virtualenv {venv} in {time.monotonic() - started:.0f} s")
    if not _works(python):
        _unavailable(f"the Feast virtualenv {venv} does not import feast {FEAST_VERSION}")
    return python


def run_feast(python: Path, plan: dict[str, Any]) -> list[Any]:
    """Run Feast's client (``feast_client.py``) with ``plan``; its JSON results."""
    env = {**os.environ, "FEAST_USAGE": "False"}
    done = subprocess.run(
        [str(python), str(CLIENT)],
        input=json.dumps(plan),
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    if done.returncode != 0:
        raise AssertionError(f"Feast's client failed:\n{done.stderr[-4000:]}")
    results: list[Any] = json.loads(done.stdout)
    return results
