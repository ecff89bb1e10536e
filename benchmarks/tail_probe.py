"""Benchmark: where the serving tail comes from (garbage collection, the event loop).

Runs the feature server (``app_from_env``, one uvicorn worker) under wrk at one concurrency, with
a probe inside the server process: every garbage collection's pause (by generation) and the
event loop's lag (how late a 1 ms sleep wakes up). It runs twice, with the collector's
permanent generation frozen after start-up (what ``featurestore serve`` does) and without, so
the two tails can be compared; the probe's figures cover the measured load only.

Prints one JSON line. Run: ``.venv/bin/python benchmarks/tail_probe.py [--entities 1]
[--concurrency 32] [--seconds 8]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import online_serving  # the shared repo, Redis and load set-up

_PAUSES: list[tuple[int, float]] = []
_LAGS: list[float] = []
_STARTED = [0.0]


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _STARTED[0] = time.perf_counter()
    else:
        _PAUSES.append((info["generation"], time.perf_counter() - _STARTED[0]))


async def _watch_loop() -> None:
    loop = asyncio.get_running_loop()
    while True:
        start = loop.time()
        await asyncio.sleep(0.001)
        _LAGS.append(loop.time() - start - 0.001)


def _quantiles(values: list[float]) -> dict[str, Any]:
    ordered = sorted(values)
    if not ordered:
        return {"n": 0}
    return {
        "n": len(ordered),
        "p50_ms": round(ordered[len(ordered) // 2] * 1e3, 2),
        "p99_ms": round(ordered[int(len(ordered) * 0.99)] * 1e3, 2),
        "max_ms": round(ordered[-1] * 1e3, 2),
        "sum_ms": round(sum(ordered) * 1e3, 1),
    }


def probed_app() -> Any:
    """The uvicorn factory of the probed server: SIGUSR1 starts measuring, SIGTERM writes the
    figures to ``PROBE_OUT`` and exits."""
    from featurestore.server.app import app_from_env

    app = app_from_env()
    gc.callbacks.append(_on_gc)

    def start(*_: Any) -> None:
        _PAUSES.clear()
        _LAGS.clear()
        loop = asyncio.get_event_loop()
        loop.call_soon_threadsafe(lambda: loop.create_task(_watch_loop()))

    def stop(*_: Any) -> None:
        figures: dict[str, Any] = {
            f"gc_gen{g}": _quantiles([d for gen, d in _PAUSES if gen == g]) for g in (0, 1, 2)
        }
        figures["loop_lag"] = _quantiles(_LAGS)
        figures["tracked_objects"] = len(gc.get_objects())
        Path(os.environ["PROBE_OUT"]).write_text(json.dumps(figures))
        os._exit(0)

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGTERM, stop)
    return app


def probe(folder: Path, freeze: bool, entities: int, concurrency: int, seconds: float) -> Any:
    out = folder / f"probe-{int(freeze)}.json"
    env = {
        **os.environ,
        "FEATURESTORE_REPO": str(folder),
        "FEATURESTORE_SERVER_FREEZE_GC": "1" if freeze else "0",
        "PROBE_OUT": str(out),
    }
    port = online_serving.free_port()
    args = [sys.executable, "-m", "uvicorn", "tail_probe:probed_app", "--factory"]
    args += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    args += ["--log-level", "warning", "--no-access-log", "--app-dir", str(Path(__file__).parent)]
    url = f"http://127.0.0.1:{port}"
    with (folder / "server.log").open("ab") as log:
        child = subprocess.Popen(args, env=env, stdout=log, stderr=log)
    try:
        online_serving.wait_until(lambda: online_serving.http_ok(url + "/health"), "server")
        bodies = folder / f"bodies-{entities}.txt"
        online_serving.write_bodies(bodies, entities, 50, 10_000)
        online_serving.run_load(url, bodies, concurrency, 2, "wrk")  # warm up
        child.send_signal(signal.SIGUSR1)
        time.sleep(0.2)
        load = online_serving.run_load(url, bodies, concurrency, seconds, "wrk")
    finally:
        child.send_signal(signal.SIGTERM)
        child.wait(timeout=30)
    return {"load": load, **json.loads(out.read_text())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entities", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fs-tail-") as tmp:
        folder = Path(tmp)
        with online_serving.redis_server(folder) as redis_url:
            store, end = online_serving.build_repo(folder, redis_url, 10_000)
            store.materialize(end=end)
            store.close()
            figures = {
                "scenario": f"{args.entities}x50_c{args.concurrency}",
                "frozen": probe(folder, True, args.entities, args.concurrency, args.seconds),
                "not_frozen": probe(folder, False, args.entities, args.concurrency, args.seconds),
                "load_average": round(os.getloadavg()[0], 2),
            }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
