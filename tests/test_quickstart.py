"""`make demo`'s command, end to end, and the CLI reading what it left behind.

The quickstart starts a real feature server, plants stale and drifted traffic and prints the
reports; this test checks that they find what was planted, through the CLI's --json output.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from cli_helpers import run


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("demo") / "quickstart"
    result = run("quickstart", "--dir", str(folder), timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return folder, result.stdout


def test_quickstart_runs_every_step(demo: tuple[Path, str]) -> None:
    _, out = demo
    for step in range(1, 12):
        assert f"{step}. " in out, step
    assert "quarantined (24000 in, 23988 written, 12 quarantined)" in out
    assert "1000 spine rows in, 1000 out" in out


def test_reports_find_the_planted_problems(demo: tuple[Path, str]) -> None:
    repo, _ = demo
    contracts = as_json(run("--repo", str(repo), "reports", "contracts", "--json"))
    first = contracts[-1]
    assert (first["rows_in"], first["rows_quarantined"]) == (24000, 12)
    assert {v["column"] for v in first["violations"]} == {"driver_id", "fare", "city"}
    skew = as_json(run("--repo", str(repo), "reports", "skew", "--json"))
    by_feature = {f["feature"]: f for f in skew["features"]}
    # the lagging pipeline: 50 drivers got newer trips after the last materialization (+2 rows
    # served before the surge was materialized); nothing is a real mismatch
    assert by_feature["fare_log"]["stale"] >= 50
    assert sum(f["mismatch"] for f in skew["features"]) == 0
    drift = as_json(
        run("--repo", str(repo), "parity", "drift", "--reference", "ranking_train", "--json")
    )
    flagged = {f["feature"] for f in drift["features"] if f["drifted"]}
    assert {"last_fare", "distance_km"} <= flagged
    performance = as_json(
        run("--repo", str(repo), "reports", "performance", "--window", "1d", "--json")
    )
    assert performance["n_labelled"] == 200


def test_training_frame_command(demo: tuple[Path, str], tmp_path: Path) -> None:
    repo, _ = demo
    spine = pl.read_parquet(next((repo / ".featurestore").rglob("ranking_train.parquet")))
    spine.select("driver_id", "event_timestamp", "distance_km").head(20).write_parquet(
        tmp_path / "spine.parquet"
    )
    out = tmp_path / "train.parquet"
    result = run(
        "--repo",
        str(repo),
        "training-frame",
        "--spine",
        str(tmp_path / "spine.parquet"),
        "--service",
        "ranking_v1",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    frame = pl.read_parquet(out)
    assert frame.height == 20 and "fare_per_km_est" in frame.columns


def test_cli_errors_are_one_line(demo: tuple[Path, str], tmp_path: Path) -> None:
    repo, _ = demo
    for args, fragment in [
        (["ingest", "driver_trips", str(tmp_path / "nope.parquet")], "does not exist"),
        (["ingest", "no_view"], "unknown feature view 'no_view'"),
        (["parity", "drift", "--reference", "no_such_frame"], "no_such_frame"),
        (
            [
                "training-frame",
                "--spine",
                str(tmp_path / "x.parquet"),
                "--service",
                "ranking_v1",
                "--out",
                "o.parquet",
            ],
            "does not exist",
        ),
    ]:
        result = run("--repo", str(repo), *args)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and fragment in lines[0], (args, result.stderr)
        assert "Traceback" not in result.stderr
