"""The soak benchmark's short version: 30 seconds of the mixed load (1- and 100-entity reads,
pushes, feedback, the scheduled skew check) at 32 connections against a real server, on
loopback. No errors, no 5xx; the JSON carries what the long run reports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from online.redis_servers import need_binary

SOAK = Path(__file__).resolve().parents[1] / "benchmarks" / "soak.py"


def test_thirty_seconds_of_mixed_load_without_errors() -> None:
    need_binary("redis-server")
    done = subprocess.run(
        [sys.executable, str(SOAK), "--seconds", "30", "--period", "10", "--skew-interval", "8"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    periods = result["per_period"]
    assert len(periods) == 3
    assert result["requests"] > 0 and all(p["requests"] > 0 for p in periods), periods
    assert result["errors"] == 0 and result["status_5xx"] == 0, (
        [p["statuses"] for p in periods],
        result["server_log_tail"],
    )
    seen = set().union(*(p["p99_ms_by_kind"] for p in periods))
    assert seen == {"read_1", "read_100", "push", "feedback"}, seen
    assert all(p["p99_ms"] is not None and p["rss_mb"] for p in periods), periods
    assert isinstance(result["rss_flat"], bool) and result["rss_growth_pct"] is not None
    assert result["skew_report_status"] == 200
    assert result["skew_checked_during_soak"], "the scheduled skew check did not run"


pytestmark = pytest.mark.redis
