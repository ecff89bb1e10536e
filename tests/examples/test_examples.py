"""Every example under ``examples/`` run end to end, asserting it finds exactly what was planted.

Each scenario runs in-process on the embedded default (SQLite + Parquet) in a tmp work folder;
rides runs again on the real Redis. The assertions check the planted problem at the right place
and time, and nothing where nothing was planted.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from examples._shared import prepare_workdir  # noqa: E402
from examples.fraud import run as fraud  # noqa: E402
from examples.loans import run as loans  # noqa: E402
from examples.pipeline_decay import run as pipeline_decay  # noqa: E402
from examples.recsys_feedback_loop import run as recsys  # noqa: E402
from examples.rides import _generate as rides_data  # noqa: E402
from examples.rides import run as rides  # noqa: E402
from featurestore import FeatureStoreError  # noqa: E402
from featurestore.repo import load_repo  # noqa: E402

EXAMPLES = ["rides", "fraud", "loans", "pipeline_decay", "recsys_feedback_loop"]
OVERRIDES = ("FEATURESTORE_ONLINE_STORE", "FEATURESTORE_REGISTRY", "FEATURESTORE_PROJECT")


@pytest.fixture(autouse=True)
def embedded(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The embedded default, whatever the environment says (tests opt in to servers)."""
    for name in OVERRIDES:
        monkeypatch.delenv(name, raising=False)
    yield


# -- rides ------------------------------------------------------------------------------------
def check_rides(found: dict[str, Any]) -> None:
    fresh = len(rides_data.FRESH_DRIVERS)
    served = rides_data.N_DRIVERS + 10  # every driver, and ten who never drove
    assert found["ingest"]["status"] == "quarantined"
    assert {(v["column"], v["failures"]) for v in found["ingest"]["violations"]} == {
        ("fare", 5),
        ("city", 3),
    }
    lagging, caught_up = found["lagging"], found["caught_up"]
    assert lagging["samples"] == caught_up["samples"] == served
    # while materialization lagged: every feature of exactly the fresh drivers is stale
    assert set(lagging["stale"].values()) == {fresh}, lagging["stale"]
    assert set(lagging["match"].values()) == {served - fresh}
    assert set(lagging["stale_example_drivers"]) <= set(rides_data.FRESH_DRIVERS)
    assert lagging["stale_example_drivers"]
    for cls in ("mismatch", "missing_online", "missing_offline"):
        assert lagging["totals"][cls] == 0, cls
    # after re-materializing, new traffic is clean
    assert caught_up["totals"]["match"] == served * len(caught_up["match"])
    assert sum(v for k, v in caught_up["totals"].items() if k != "match") == 0


def test_rides_on_the_embedded_default(tmp_path: Path) -> None:
    check_rides(rides.run(tmp_path / "rides", quiet=True))


@pytest.mark.redis
def test_rides_on_redis(
    tmp_path: Path, redis_url: str, project_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEATURESTORE_ONLINE_STORE", redis_url)
    monkeypatch.setenv("FEATURESTORE_PROJECT", project_name)  # the fixture deletes its keys
    found = rides.run(tmp_path / "rides", quiet=True)
    assert found["project"] == project_name
    check_rides(found)


# -- fraud ------------------------------------------------------------------------------------
#: what the test asserts of the detectors: none fires before the change, and each fires within
#: the first week after it (seeded, so this is exact; see examples/fraud/README.md for the odds)
DETECTION_BOUND = dt.timedelta(days=7)


def test_fraud_concept_drift(tmp_path: Path) -> None:
    found = fraud.run(tmp_path / "fraud", quiet=True)
    change = found["change"]
    before = [w for w in found["windows"] if w["start"] < change]
    after = [w for w in found["windows"] if w["start"] >= change]
    assert len(before) == 1 and len(after) == 3 and found["scored"] == fraud.SCORED
    for window in before:
        assert window["precision"] > 0.7 and window["recall"] > 0.5
    for window in after:
        assert window["precision"] < 0.2 and window["recall"] < 0.2
    # the fraud rate did not move (the drift is in the concept, not in the labels)
    shares = [w["positives"] / w["n"] for w in found["windows"]]
    assert max(shares) - min(shares) < 0.06
    assert found["alarms"], "no detector fired"
    assert all(a["at"] >= change for a in found["alarms"]), found["alarms"]
    for detector in ("ADWIN", "DDM"):
        first = found["first_alarm"][detector]
        assert first is not None and change <= first < change + DETECTION_BOUND, detector


# -- loans ------------------------------------------------------------------------------------
def test_loans_data_and_label_drift(tmp_path: Path) -> None:
    found = loans.run(tmp_path / "loans", quiet=True)
    calm, recession = found["feature_drift"]["calm"], found["feature_drift"]["recession"]
    assert (
        set(calm)
        == set(recession)
        == {
            "income",
            "debt_ratio",
            "credit_history_years",
            "open_accounts",
            "region",
        }
    )
    assert all(not f["flags"] for f in calm.values()), calm
    assert recession["income"]["psi"] > 0.25 and "psi" in recession["income"]["flags"]
    assert all(not f["flags"] for name, f in recession.items() if name != "income"), recession
    assert not found["label_drift"]["calm"]["flags"]
    assert "chi2" in found["label_drift"]["recession"]["flags"]

    start = found["recession"]
    for weeks in (found["weeks_before_labels"], found["weeks"]):
        assert len(weeks) == 8
        for week in weeks:  # the predictions move with the recession, labels or not
            assert week["prediction_drift"] is (week["start"] >= start), week
    assert all(w["n_labelled"] == 0 for w in found["weeks_before_labels"])
    for week in found["weeks"]:
        labelled = week["start"] < found["labels_until"]
        assert (week["n_labelled"] > 0) is labelled
        expected = (week["start"] >= start) if labelled else None  # no labels, no label drift
        assert week["label_drift"] is expected, week


# -- pipeline_decay -----------------------------------------------------------------------------
def test_pipeline_decay_contract(tmp_path: Path) -> None:
    found = pipeline_decay.run(tmp_path / "decay", quiet=True)
    days = {d["day"]: d for d in found["days"]}
    for day in (1, 2, 3, 7):
        clean = days[day]
        assert clean["status"] == "ok" and not clean["violations"] and not clean["quarantined_ids"]
        assert clean["rows_written"] == clean["rows_in"]
    nulls, seconds, renamed = days[4], days[5], days[6]
    assert nulls["status"] == "quarantined"
    assert nulls["violations"] == {"rating": ("not_nullable", nulls["planted"]["rating"])}
    assert seconds["status"] == "quarantined"
    assert seconds["violations"] == {
        "prep_time_min": ("less_than_or_equal_to(180)", seconds["planted"]["prep_time_min"])
    }
    for day in (nulls, seconds):
        assert day["quarantined_ids"] == day["planted_ids"]  # exactly the bad rows, with reasons
        assert sum(day["reasons"].values()) == len(day["planted_ids"])
        assert day["rows_written"] + day["rows_quarantined"] == day["rows_in"]
    assert renamed["status"] == "rejected" and renamed["rows_written"] == 0
    assert renamed["error"] and "prep_time_min" in renamed["error"]
    assert renamed["rows_quarantined"] == renamed["rows_in"] == len(renamed["quarantined_ids"])
    assert found["runs_recorded"] == 7
    assert found["bad_reports_in_training"] == []
    assert found["training_agrees_with_good_rows"]
    assert found["max_prep_time_in_training"] <= 180


# -- recsys_feedback_loop -------------------------------------------------------------------------
def check_recsys(found: dict[str, Any]) -> None:
    weeks = found["weeks"]
    # planted: the popularity pull narrows what the model shows, week after week
    assert weeks[0]["distinct"] == 20 and weeks[-1]["distinct"] <= 12
    assert weeks[-1]["top_share"] > weeks[0]["top_share"] + 0.2
    assert found["narrowing"] and set(found["flags"]) == {"narrowing_predictions"}
    early, late = found["policy_after_week1"], found["policy_after_week5"]
    assert early["retrain"] is False and early["fired"] == []  # week 1 is what it trained on
    assert late["retrain"] is True and late["fired"] == ["prediction_drift"]
    arms = found["arms"]
    current, candidate = arms["current"], arms["candidate"]
    # the canary (30% of users by key hash) gets version 2 and its exploration feature
    assert 0.2 < candidate["n"] / (candidate["n"] + current["n"]) < 0.4
    assert candidate["distinct_predictions"] >= 2 * current["distinct_predictions"] - 2
    assert candidate["top_share"] < current["top_share"] / 2
    assert found["candidate_version"] == 2


def test_recsys_feedback_loop(tmp_path: Path) -> None:
    check_recsys(recsys.run(tmp_path / "recsys", quiet=True))


@pytest.mark.redis
def test_recsys_feedback_loop_on_redis(
    tmp_path: Path, redis_url: str, project_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEATURESTORE_ONLINE_STORE", redis_url)
    monkeypatch.setenv("FEATURESTORE_PROJECT", project_name)  # the fixture deletes its keys
    found = recsys.run(tmp_path / "recsys", quiet=True)
    assert found["project"] == project_name
    check_recsys(found)


# -- every example ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", EXAMPLES)
def test_example_folder_is_a_feature_repo(name: str) -> None:
    folder = ROOT / "examples" / name
    assert (folder / "featurestore.toml").is_file() and (folder / "README.md").is_file()
    definitions = load_repo(folder)  # imports run.py too: it must be import-safe
    assert any(d.kind == "feature_view" for d in definitions)


def test_run_script_is_rerunnable(tmp_path: Path) -> None:
    script = ROOT / "examples" / "pipeline_decay" / "run.py"
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, str(script), "--workdir", str(tmp_path / "work"), "--json"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert '"bad_reports_in_training": []' in done.stdout


def test_workdir_of_someone_else_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FeatureStoreError, match="not made by an example run"):
        prepare_workdir(ROOT / "examples" / "rides", tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"
