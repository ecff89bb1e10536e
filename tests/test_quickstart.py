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


def test_gates_exit_3_when_a_check_fails(demo: tuple[Path, str], tmp_path: Path) -> None:
    repo = str(demo[0])
    skew = run("--repo", repo, "parity", "skew", "--fail-on", "mismatch,stale")
    assert skew.returncode == 3, skew.stderr
    assert "check failed: skew:" in skew.stderr and "stale" in skew.stderr
    fine = run("--repo", repo, "parity", "skew", "--fail-on", "mismatch", "--json")
    assert fine.returncode == 0 and json.loads(fine.stdout)["samples"] > 0
    bad = run("--repo", repo, "parity", "skew", "--fail-on", "bogus")
    assert bad.returncode == 2 and "not a skew class" in bad.stderr
    drift = run(
        "--repo", repo, "parity", "drift", "--reference", "ranking_train", "--fail-on-drift"
    )
    assert drift.returncode == 3 and "features drifted" in drift.stderr
    same = run(
        *("--repo", repo, "parity", "drift", "--reference", "ranking_train"),
        *("--current", "ranking_train", "--fail-on-drift"),
    )
    assert same.returncode == 0, same.stderr
    trips = pl.read_parquet(Path(repo) / "data" / "trips.parquet")
    trips.head(5000).write_parquet(tmp_path / "some.parquet")  # holds planted violations
    quarantined = run(
        *("--repo", repo, "ingest", "driver_trips", str(tmp_path / "some.parquet")),
        *("--fail-on-quarantine", "--json"),
    )
    assert quarantined.returncode == 3 and "rows quarantined" in quarantined.stderr
    assert json.loads(quarantined.stdout)["rows_quarantined"] > 0
    clean = trips.filter(
        pl.col("fare") >= 0,
        pl.col("city").is_in(["ams", "ber", "lis"]),
        pl.col("driver_id").is_not_null(),
    ).tail(50)
    clean.write_parquet(tmp_path / "clean.parquet")
    ok = run(
        *("--repo", repo, "ingest", "driver_trips", str(tmp_path / "clean.parquet")),
        "--fail-on-quarantine",
    )
    assert ok.returncode == 0, ok.stderr


def test_list_describe_and_quarantine(demo: tuple[Path, str]) -> None:
    repo = str(demo[0])
    views = {v["name"]: v for v in as_json(run("--repo", repo, "list", "views", "--json"))}
    assert views["driver_trips"]["watermark"] is not None
    assert views["driver_trips"]["join_keys"] == ["driver_id"]
    assert views["ride_features"]["kind"] == "on_demand_feature_view"
    datasets = run("--repo", repo, "list", "datasets")
    assert datasets.returncode == 0 and "ranking_train" in datasets.stdout
    described = as_json(run("--repo", repo, "describe", "driver_trips", "--json"))
    (view,) = described["matches"]
    assert view["kind"] == "feature_view" and view["version"] == 1
    assert view["ingestion_runs"] and "contract" in view["spec"]
    missing = run("--repo", repo, "describe", "nothing_here")
    assert missing.returncode == 1 and "nothing is named 'nothing_here'" in missing.stderr
    first_run = as_json(run("--repo", repo, "reports", "contracts", "--json"))[-1]["run_id"]
    rows = as_json(run("--repo", repo, "quarantine", "driver_trips", "--run", first_run, "--json"))
    assert len(rows) == 12 and {r["__run_id"] for r in rows} == {first_run}
    assert {r["__reasons"][0]["column"] for r in rows} == {"driver_id", "fare", "city"}
    shown = run("--repo", repo, "quarantine", "driver_trips", "--limit", "3")
    assert shown.returncode == 0 and "quarantined rows" in shown.stdout
