"""Run records: ingestion, materialization watermarks, datasets, log flushes, reports, feedback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from featurestore.errors import ConflictError, NotFoundError, RequestError
from featurestore.registry import Registry

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def report(run_id: str, view: str, rows: int) -> dict[str, object]:
    return {
        "run_id": run_id,
        "view": view,
        "status": "ok",
        "rows_in": rows,
        "violations": [{"column": "x", "check": "ge(0)", "failures": 0, "examples": []}],
        "health": {"x": {"null_rate": 0.0, "min": 1.5, "max": None, "mean": float("nan")}},
    }


def test_ingestion_seq_strictly_increases_and_reports_come_newest_first(
    registry: Registry,
) -> None:
    runs = [registry.begin_ingestion(view, "data/x.parquet") for view in ("a", "b", "a")]
    seqs = [seq for _, seq in runs]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    assert all(len(run_id) == 32 for run_id, _ in runs)
    assert registry.ingestion_reports() == []  # nothing finished yet
    for (run_id, _), view in zip(runs, ("a", "b", "a"), strict=True):
        registry.finish_ingestion(run_id, report(run_id, view, 10))
    got = registry.ingestion_reports()
    assert [r["run_id"] for r in got] == [run_id for run_id, _ in reversed(runs)]
    assert got[0]["health"]["x"]["max"] is None and got[0]["violations"][0]["check"] == "ge(0)"
    assert [r["run_id"] for r in registry.ingestion_reports(view="a")] == [runs[2][0], runs[0][0]]
    assert len(registry.ingestion_reports(limit=1)) == 1
    assert registry.begin_ingestion("a", Path("data/y.csv"))[1] > seqs[-1]


def test_finishing_a_run_twice_or_an_unknown_run_is_refused(registry: Registry) -> None:
    run_id, _ = registry.begin_ingestion("a", "src")
    registry.finish_ingestion(run_id, {"run_id": run_id})
    with pytest.raises(ConflictError, match=f"ingestion run '{run_id}' is already finished"):
        registry.finish_ingestion(run_id, {"run_id": run_id})
    with pytest.raises(NotFoundError, match="ingestion run 'nope' is not in project"):
        registry.finish_ingestion("nope", {})
    with pytest.raises(RequestError, match="cannot be stored as JSON"):
        registry.finish_ingestion(registry.begin_ingestion("a", "s")[0], {"x": object()})


def test_seq_is_per_project(registry: Registry, registry_url: str) -> None:
    registry.begin_ingestion("a", "s")
    registry.begin_ingestion("a", "s")
    with Registry(registry_url, registry.project + "_b") as other:
        assert other.begin_ingestion("a", "s")[1] == 1


def test_watermark_only_moves_forward(registry: Registry) -> None:
    assert registry.watermark("v") is None
    registry.record_materialization("v", None, T0 + timedelta(days=2), 100)
    registry.record_materialization("v", T0, T0 + timedelta(days=1), 5)  # an older backfill
    assert registry.watermark("v") == T0 + timedelta(days=2)
    assert registry.watermark("v").tzinfo is UTC  # type: ignore[union-attr]
    paris = timezone(timedelta(hours=1))
    registry.record_materialization("v", None, datetime(2026, 1, 3, 1, 30, tzinfo=paris), 1)
    assert registry.watermark("v") == datetime(2026, 1, 3, 0, 30, tzinfo=UTC)
    registry.record_materialization("w", None, datetime(2026, 2, 1, 12, 0, 0, 123456), 0)
    assert registry.watermark("w") == datetime(2026, 2, 1, 12, 0, 0, 123456, tzinfo=UTC)
    with pytest.raises(RequestError, match=r"start .* is after end"):
        registry.record_materialization("v", T0 + timedelta(days=9), T0, 1)
    with pytest.raises(RequestError, match="rows must be a non-negative integer"):
        registry.record_materialization("v", None, T0, -1)


def test_materialized_state_reads_version_watermark_and_seq_together(registry: Registry) -> None:
    assert tuple(registry.materialized_state("v")) == (None, None, None)
    registry.record_materialization(
        "v", None, T0 + timedelta(days=2), 3, last_seq=7, view_version=2
    )
    registry.record_materialization("v", T0, T0 + timedelta(days=1), 1, last_seq=4, view_version=3)
    state = registry.materialized_state("v")
    assert state == (3, T0 + timedelta(days=2), 7)  # the latest run's version; the greatest end
    assert state.version == registry.materialized_version("v")
    assert state.watermark == registry.watermark("v")
    assert state.last_seq == registry.materialized_seq("v")


def test_datasets_keep_lineage_and_refuse_silent_overwrite(registry: Registry) -> None:
    refs = {"driver_stats:trips_7d": 3, "driver_stats:rating": 3}
    registry.save_dataset(
        "train_v1", path="/d/train_v1", spine_hash="abc", feature_refs=refs, rows=9
    )
    got = registry.get_dataset("train_v1")
    assert got["feature_refs"] == refs and got["rows"] == 9 and got["spine_hash"] == "abc"
    assert got["path"] == "/d/train_v1" and got["created_at"].tzinfo is UTC
    with pytest.raises(ConflictError, match=r"dataset 'train_v1' already exists.*overwrite=True"):
        registry.save_dataset("train_v1", path="/x", spine_hash="d", feature_refs={}, rows=1)
    registry.save_dataset(
        "train_v1", path="/d/v1b", spine_hash="def", feature_refs={}, rows=2, overwrite=True
    )
    assert registry.get_dataset("train_v1")["spine_hash"] == "def"
    registry.save_dataset("a_first", path="/d/a", spine_hash="h", feature_refs=refs, rows=0)
    assert [d["name"] for d in registry.list_datasets()] == ["a_first", "train_v1"]
    with pytest.raises(NotFoundError, match="dataset 'nope' is not saved in project"):
        registry.get_dataset("nope")
    with pytest.raises(RequestError, match="feature_refs of dataset 'bad'"):
        registry.save_dataset("bad", path="/", spine_hash="h", feature_refs={"f": "3"}, rows=0)  # type: ignore[dict-item]


def test_log_flushes_are_listed_in_order(registry: Registry) -> None:
    assert registry.log_flushes() == []
    registry.record_log_flush("/log/1.parquet", 10, T0, T0 + timedelta(minutes=5))
    registry.record_log_flush("/log/2.parquet", 0, None, None)
    flushes = registry.log_flushes()
    assert [(f["path"], f["rows"]) for f in flushes] == [
        ("/log/1.parquet", 10),
        ("/log/2.parquet", 0),
    ]
    assert flushes[0]["first_ts"] == T0 and flushes[0]["last_ts"].tzinfo is UTC
    assert flushes[1]["first_ts"] is None and flushes[1]["flushed_at"].tzinfo is UTC


def test_reports_round_trip_newest_first_per_kind(registry: Registry) -> None:
    ids = [registry.add_report("drift", {"n": n, "at": T0}) for n in range(3)]
    assert ids == sorted(ids)
    registry.add_report("skew", {"samples": 1, "features": []})
    assert [r["n"] for r in registry.reports("drift")] == [2, 1, 0]
    assert registry.reports("drift", limit=2)[0] == {"n": 2, "at": "2026-01-01T00:00:00+00:00"}
    assert registry.reports("skew") == [{"samples": 1, "features": []}]
    assert registry.reports("performance") == []
    with pytest.raises(RequestError, match="report kind 'bogus' is unknown"):
        registry.add_report("bogus", {})  # type: ignore[arg-type]
    with pytest.raises(RequestError, match="limit must be a non-negative integer"):
        registry.reports("drift", limit=-1)


def test_feedback_keeps_types_and_filters_by_time(registry: Registry) -> None:
    rows = [
        {"request_id": "r1", "prediction": 0.83, "label": 1, "timestamp": T0},
        {"request_id": "r2", "label": "cat", "timestamp": "2026-01-01T01:00:00Z"},
        {"request_id": "r3", "prediction": True, "timestamp": T0 + timedelta(hours=2)},
    ]
    assert registry.add_feedback(rows) == 3
    got = registry.feedback()
    assert [(r["request_id"], r["prediction"], r["label"]) for r in got] == [
        ("r1", 0.83, 1),
        ("r2", None, "cat"),
        ("r3", True, None),
    ]
    assert got[1]["timestamp"] == T0 + timedelta(hours=1)
    hour = [r["request_id"] for r in registry.feedback(since=T0 + timedelta(hours=1))]
    assert hour == ["r2", "r3"]
    assert [r["request_id"] for r in registry.feedback(until=T0 + timedelta(hours=1))] == ["r1"]
    registry.add_feedback([{"request_id": "now", "label": 0}])
    assert registry.feedback()[-1]["timestamp"] > T0
    assert registry.add_feedback([]) == 0


def test_duplicate_feedback_stores_nothing_of_the_call(registry: Registry) -> None:
    registry.add_feedback([{"request_id": "r1", "label": 1}])
    with pytest.raises(ConflictError, match="repeats request id 'r2'; nothing was stored"):
        registry.add_feedback([{"request_id": "r2", "label": 1}, {"request_id": "r2", "label": 0}])
    with pytest.raises(ConflictError, match="request id 'r1' is already stored"):
        registry.add_feedback([{"request_id": "r3", "label": 1}, {"request_id": "r1", "label": 0}])
    assert [r["request_id"] for r in registry.feedback()] == ["r1"]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"label": 1}, "needs a non-empty string request_id"),
        ({"request_id": "r", "lable": 1}, "unknown field"),
        ({"request_id": "r"}, "has neither prediction nor label"),
        ({"request_id": "r", "label": 1, "timestamp": "yesterday"}, "is not ISO 8601"),
        ({"request_id": "r", "prediction": float("nan")}, "prediction of request 'r'"),
    ],
)
def test_malformed_feedback_is_refused(
    registry: Registry, row: dict[str, object], message: str
) -> None:
    with pytest.raises(RequestError, match=message):
        registry.add_feedback([{"request_id": "ok", "label": 1}, row])
    assert registry.feedback() == []


def test_prediction_then_label_completes_one_row(registry: Registry) -> None:
    registry.add_feedback([{"request_id": "r1", "prediction": 0.8, "timestamp": T0}])
    registry.add_feedback([{"request_id": "r1", "label": 1, "timestamp": T0 + timedelta(days=3)}])
    [row] = registry.feedback()
    assert (row["prediction"], row["label"], row["timestamp"]) == (0.8, 1, T0)
    with pytest.raises(ConflictError, match="'r1' is already stored"):
        registry.add_feedback([{"request_id": "r1", "label": 0}])
    with pytest.raises(ConflictError, match="'r1' is already stored"):
        registry.add_feedback(
            [{"request_id": "r2", "label": 0}, {"request_id": "r1", "prediction": 0.1}]
        )
    assert [r["request_id"] for r in registry.feedback()] == ["r1"]
