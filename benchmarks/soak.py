"""Soak: the feature server under a steady mixed load for minutes, watching errors, the tail and
the server's memory.

Everything runs on loopback and is bounded: a redis-server of our own (free port, no
persistence, stopped by PID), the sample repo (driver trips, an on-demand view) plus a pushed
rider view, served by ``featurestore serve`` (one worker) with the skew check on a schedule
(``serving.skew_check_interval``). An asyncio client keeps ``--concurrency`` connections busy
with a mix of single-entity reads, 100-entity reads, pushes (a few rows of 1,000 riders, online)
and feedback (a prediction and a label for an answer served earlier), for ``--minutes``.

Per period (``--period``, a minute by default) it records requests, errors (a non-2xx answer or a
failed connection), 5xx answers, the p99 latency (all requests, and per kind) and the server's
resident memory (RSS) at the period's end. Memory is flat when the last period's RSS is within
``--flat`` (10%) of the first period after the warm-up (``--warmup`` periods).

Prints one JSON object. Run: ``.venv/bin/python benchmarks/soak.py [--minutes 10]
[--concurrency 32] [--period 60] [--warmup 1] [--skew-interval 30]``; the test suite runs
``--seconds 30 --period 10`` (``tests/test_soak.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import json
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1] / "tests" / "server"))
from online_serving import free_port, http_ok, process, redis_server
from server_helpers import LIVE_DEFINITIONS  # the server tests' pushed rider view

#: request kinds and their shares of the mix
MIX = {"read_1": 0.55, "read_100": 0.2, "push": 0.15, "feedback": 0.1}
DRIVERS = 200  # the sample repo's drivers
RIDERS = 1000  # the pushed view's entities (bounded, so the online store stops growing)


@dataclass
class Period:
    """What one period of the soak saw."""

    requests: int = 0
    errors: int = 0
    status_5xx: int = 0
    latencies: dict[str, list[float]] = field(default_factory=lambda: collections.defaultdict(list))
    rss: list[int] = field(default_factory=list)
    statuses: collections.Counter[str] = field(default_factory=collections.Counter)


def _p99_ms(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e3, 2)


def build_repo(folder: Path, redis_url: str, skew_interval: float) -> Path:
    """The sample repo plus the pushed view, on our Redis, applied, ingested and materialized."""
    from featurestore import FeatureStore
    from featurestore.quickstart.sample import sample_end, write_sample_repo

    repo = write_sample_repo(folder / "repo", project=f"soak{os.getpid()}")
    config = repo / "featurestore.toml"
    text = config.read_text().replace(
        'online_store = "sqlite:///.featurestore/online.db"', f'online_store = "{redis_url}"'
    )
    text = text.replace(
        "skew_sample_rate = 1.0",
        f"skew_sample_rate = 0.05\nskew_check_interval = {skew_interval}",
    )
    config.write_text(text)
    (repo / "live.py").write_text(LIVE_DEFINITIONS)
    with FeatureStore(repo) as store:
        store.apply()
        store.ingest("driver_trips")
        store.materialize(end=sample_end())
    return repo


def _body(kind: str, rng: random.Random, request_ids: collections.deque[str]) -> tuple[str, Any]:
    if kind == "feedback" and request_ids:
        rid = request_ids.popleft()  # each answer gets its feedback once
        return "/feedback", {"request_id": rid, "prediction": rng.random(), "label": rng.random()}
    if kind == "push":
        n = rng.randint(1, 5)
        now = dt.datetime.now(dt.UTC).isoformat()
        return "/push", {
            "push_source_name": "rider_events",
            "df": {
                "rider_id": [f"r{rng.randrange(RIDERS)}" for _ in range(n)],
                "rating": [round(rng.uniform(0, 5), 2) for _ in range(n)],
                "event_ts": [now] * n,
            },
            "to": "online",
        }
    size = 100 if kind == "read_100" else 1
    return "/get-online-features", {
        "feature_service": "ranking_v1",
        "entities": {"driver_id": [rng.randrange(DRIVERS) for _ in range(size)]},
        "request_data": {"distance_km": [rng.uniform(1, 20) for _ in range(size)]},
    }


async def _worker(
    mix: dict[str, float],
    client: httpx.AsyncClient,
    url: str,
    seed: int,
    start: float,
    stop: float,
    period: float,
    periods: list[Period],
    request_ids: collections.deque[str],
) -> None:
    rng = random.Random(seed)
    kinds, weights = list(mix), list(mix.values())
    while (now := time.monotonic()) < stop:
        kind = rng.choices(kinds, weights)[0]
        if kind == "feedback" and not request_ids:
            kind = "read_1"
        path, body = _body(kind, rng, request_ids)
        began = time.perf_counter()
        try:
            answer = await client.post(url + path, json=body)
            status: int | None = answer.status_code
        except httpx.HTTPError as exc:
            answer, status, failure = None, None, type(exc).__name__
        elapsed = time.perf_counter() - began
        slot = periods[min(int((now - start) / period), len(periods) - 1)]
        slot.requests += 1
        slot.latencies[kind].append(elapsed)
        slot.statuses[str(status) if status is not None else failure] += 1
        if status is None or status >= 300:
            slot.errors += 1
            if status is not None and status >= 500:
                slot.status_5xx += 1
        elif kind.startswith("read") and answer is not None and len(request_ids) < 5000:
            request_ids.append(answer.json()["metadata"]["request_id"])


async def _watch_rss(pid: int, start: float, stop: float, period: float, periods: list[Period]):  # type: ignore[no-untyped-def]
    server = psutil.Process(pid)
    while (now := time.monotonic()) < stop:
        slot = periods[min(int((now - start) / period), len(periods) - 1)]
        rss = server.memory_info().rss
        for child in server.children(recursive=True):
            rss += child.memory_info().rss
        slot.rss.append(rss)
        await asyncio.sleep(1.0)


async def load(
    url: str,
    pid: int,
    *,
    seconds: float,
    period: float,
    concurrency: int,
    mix: dict[str, float] = MIX,
) -> list[Period]:
    """Run the mixed load for ``seconds``; one :class:`Period` per ``period`` seconds."""
    count = max(1, round(seconds / period))
    periods = [Period() for _ in range(count)]
    request_ids: collections.deque[str] = collections.deque()
    # idle connections expire before the server's keep-alive (uvicorn: 5 s) closes them, or a
    # request sent on one as the server closes it fails (a client-side race, not the server)
    limits = httpx.Limits(
        max_connections=concurrency, max_keepalive_connections=concurrency, keepalive_expiry=2.0
    )
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        start = time.monotonic()
        stop = start + count * period
        tasks = [
            _worker(mix, client, url, seed, start, stop, period, periods, request_ids)
            for seed in range(concurrency)
        ]
        await asyncio.gather(_watch_rss(pid, start, stop, period, periods), *tasks)
    return periods


def summarise(periods: list[Period], *, warmup: int, flat: float) -> dict[str, Any]:
    rows = []
    for i, p in enumerate(periods):
        every = [x for values in p.latencies.values() for x in values]
        rows.append(
            {
                "period": i,
                "requests": p.requests,
                "errors": p.errors,
                "status_5xx": p.status_5xx,
                "p99_ms": _p99_ms(every),
                "p99_ms_by_kind": {k: _p99_ms(v) for k, v in sorted(p.latencies.items())},
                "rss_mb": round(p.rss[-1] / 2**20, 1) if p.rss else None,
                "statuses": dict(p.statuses),
            }
        )
    measured = [r for r in rows[warmup:] if r["rss_mb"] is not None] or rows
    first, last = measured[0]["rss_mb"], measured[-1]["rss_mb"]
    growth = (last - first) / first if first else 0.0
    return {
        "requests": sum(r["requests"] for r in rows),
        "errors": sum(r["errors"] for r in rows),
        "status_5xx": sum(r["status_5xx"] for r in rows),
        "per_period": rows,
        "rss_first_after_warmup_mb": first,
        "rss_last_mb": last,
        "rss_growth_pct": round(growth * 100, 2),
        "rss_flat": abs(growth) <= flat,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, help="the duration in seconds (over --minutes)")
    parser.add_argument("--period", type=float, default=60.0, help="seconds per reported period")
    parser.add_argument("--warmup", type=int, default=1, help="periods before the RSS baseline")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--skew-interval", type=float, default=30.0)
    parser.add_argument("--flat", type=float, default=0.10, help="allowed RSS growth (fraction)")
    parser.add_argument(
        "--mix", help="kind=share,... (read_1, read_100, push, feedback); default: the MIX above"
    )
    args = parser.parse_args()
    seconds = args.seconds if args.seconds is not None else args.minutes * 60
    mix = MIX
    if args.mix:
        mix = {k: float(v) for k, v in (part.split("=") for part in args.mix.split(","))}
    with tempfile.TemporaryDirectory(prefix="soak") as tmp:
        folder = Path(tmp)
        with redis_server(folder) as redis_url:
            repo = build_repo(folder, redis_url, args.skew_interval)
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            command = [sys.executable, "-m", "featurestore.cli", "--repo", str(repo), "serve"]
            command += ["--port", str(port), "--log-level", "warning"]
            env = {k: v for k, v in os.environ.items() if not k.startswith("FEATURESTORE_")}
            log = folder / "server.log"
            with process(command, env, lambda: http_ok(url + "/health"), "the server", log):
                pid = _server_pid(port)
                started = dt.datetime.now(dt.UTC)
                periods = asyncio.run(
                    load(
                        url,
                        pid,
                        seconds=seconds,
                        period=args.period,
                        concurrency=args.concurrency,
                        mix=mix,
                    )
                )
                skew = httpx.get(url + "/reports/skew", params={"latest": "true"}, timeout=60)
            result = summarise(periods, warmup=args.warmup, flat=args.flat)
            latest = skew.json() if skew.status_code == 200 else {}
            result |= {
                "seconds": seconds,
                "period_s": args.period,
                "concurrency": args.concurrency,
                "mix": mix,
                "skew_check_interval_s": args.skew_interval,
                "skew_report_status": skew.status_code,
                "skew_checked_during_soak": _checked_since(latest, started),
                "server_log_tail": log.read_text(errors="replace")[-2000:],
            }
    print(json.dumps(result))


def _server_pid(port: int) -> int:
    """The PID of the process listening on ``port`` (the server, not a wrapper)."""
    for conn in psutil.net_connections(kind="tcp"):
        listening = conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN
        if listening and conn.pid is not None:
            return int(conn.pid)
    raise RuntimeError(f"no process listens on port {port}")


def _checked_since(report: dict[str, Any], since: dt.datetime) -> bool:
    when = report.get("created_at") or report.get("checked_at") or report.get("until")
    if not isinstance(when, str):
        return False
    return dt.datetime.fromisoformat(when.replace("Z", "+00:00")) >= since


if __name__ == "__main__":
    main()
