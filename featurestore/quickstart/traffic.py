"""The demo's second half: a real feature server, traffic, and the problems planted in it."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import polars as pl

__all__ = ["late_batch", "send_traffic", "start_server", "stop_server", "surge_batch"]

UTC_US = pl.Datetime("us", "UTC")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(repo: Path, timeout: float = 60.0) -> tuple[subprocess.Popen[bytes], str]:
    """``featurestore serve`` as a subprocess on a free loopback port; returns it and its URL."""
    port = _free_port()
    env = {**os.environ, "FEATURESTORE_SERVING_SKEW_SAMPLE_RATE": "1.0"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "featurestore.cli",
            "--repo",
            str(repo),
            "serve",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            error = proc.stderr.read().decode() if proc.stderr else ""
            raise RuntimeError(f"the feature server exited: {error.strip()[-500:]}")
        try:
            if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    stop_server(proc)
    raise RuntimeError(f"the feature server did not answer on {url} within {timeout:.0f}s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """Stop the server by PID (SIGTERM lets it ship its queued serving-log samples)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _trips(drivers: np.ndarray, fares: np.ndarray, times: list[dt.datetime]) -> pl.DataFrame:
    rng = np.random.default_rng(3)
    return pl.DataFrame(
        {
            "driver_id": drivers,
            "fare": np.round(fares, 2),
            "city": rng.choice(["ams", "ber", "lis"], size=len(drivers)),
            "event_ts": pl.Series(times, dtype=UTC_US),
            "created_ts": pl.Series([t + dt.timedelta(seconds=30) for t in times], dtype=UTC_US),
        }
    )


def surge_batch(now: dt.datetime, n_drivers: int = 200, seed: int = 5) -> pl.DataFrame:
    """Surge pricing: every driver's latest trip costs about three times the usual fare."""
    rng = np.random.default_rng(seed)
    drivers = np.arange(n_drivers)
    times = [
        now - dt.timedelta(minutes=40, seconds=int(s)) for s in rng.integers(0, 600, n_drivers)
    ]
    return _trips(drivers, rng.gamma(2.0, 27.0, n_drivers), times)


def late_batch(now: dt.datetime, n_drivers: int = 50, seed: int = 6) -> pl.DataFrame:
    """Trips of the last minutes for some drivers, arriving after the last materialization."""
    rng = np.random.default_rng(seed)
    drivers = np.arange(n_drivers)
    times = [
        now - dt.timedelta(minutes=10, seconds=int(s)) for s in rng.integers(0, 300, n_drivers)
    ]
    return _trips(drivers, rng.gamma(2.0, 27.0, n_drivers), times)


def send_traffic(
    url: str, n_drivers: int = 200, batch: int = 1, seed: int = 9
) -> list[dict[str, Any]]:
    """Ask for the ranking features of every driver, with longer trips than in training."""
    rng = np.random.default_rng(seed)
    answers = []
    with httpx.Client(base_url=url, timeout=10.0) as client:
        for start in range(0, n_drivers, batch):
            drivers = list(range(start, min(start + batch, n_drivers)))
            body = {
                "feature_service": "ranking_v1",
                "entities": {"driver_id": drivers},
                "request_data": {
                    "distance_km": [
                        float(x) for x in np.round(rng.uniform(20, 60, len(drivers)), 1)
                    ]
                },
            }
            response = client.post("/get-online-features", json=body)
            response.raise_for_status()
            answers.append(response.json())
    return answers
