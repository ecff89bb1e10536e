"""``serving.skew_check_interval``: the server's scheduled skew checks record reports."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import polars as pl

from featurestore import Entity, Feature, FeatureStore, FeatureView, PushSource, col
from featurestore.server.app import scheduled_skew_checks

events = PushSource(
    "events", schema={"driver_id": int, "fare": float, "ts": "datetime"}, timestamp_field="ts"
)
view = FeatureView(
    "trips",
    entities=[Entity("driver", join_keys=["driver_id"], value_type=int)],
    source=events,
    features=[Feature("fare", col("fare"))],
)


def test_scheduled_checks_run_and_record_reports(tmp_path: Path) -> None:
    (tmp_path / "featurestore.toml").write_text(
        'project = "sched"\n[serving]\nskew_sample_rate = 1.0\nskew_check_interval = 0.2\n'
    )
    with FeatureStore(tmp_path) as store:
        store.apply([view])
        now = dt.datetime.now(dt.UTC)
        frame = pl.DataFrame({"driver_id": [1], "fare": [3.5], "ts": [now]}).with_columns(
            pl.col("ts").cast(pl.Datetime("us", "UTC"))
        )
        store.push("events", frame, to="online_and_offline")
        store.get_online_features(["trips:fare"], entities={"driver_id": [1]})
        interval = store.config.serving.skew_check_interval
        assert interval == 0.2

        async def run_a_while() -> None:
            task = asyncio.create_task(scheduled_skew_checks(store, interval))
            await asyncio.sleep(1.0)
            task.cancel()

        asyncio.run(run_a_while())
        reports = store.registry.reports("skew")
        assert len(reports) >= 2  # it keeps running on its schedule
        assert any(r["samples"] == 1 for r in reports)
        first = reports[-1]["features"][0]
        assert (first["feature"], first["match"], first["mismatch"]) == ("fare", 1, 0)
