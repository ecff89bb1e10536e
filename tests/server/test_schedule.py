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


def test_each_scheduled_check_covers_the_samples_since_the_previous_one(tmp_path: Path) -> None:
    """A scheduled check re-reads only the new samples: its cost follows one interval's traffic
    (checking the whole log each time grew the server's memory check after check)."""
    (tmp_path / "featurestore.toml").write_text(
        'project = "window"\n[serving]\nskew_sample_rate = 1.0\n'
    )
    with FeatureStore(tmp_path) as store:
        store.apply([view])
        now = dt.datetime.now(dt.UTC)
        frame = pl.DataFrame({"driver_id": [1, 2], "fare": [3.5, 4.0], "ts": [now, now]})
        store.push("events", frame.with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC"))))
        store.get_online_features(["trips:fare"], entities={"driver_id": [1]})

        async def schedule() -> None:
            task = asyncio.create_task(scheduled_skew_checks(store, 0.3))
            await asyncio.sleep(1.0)  # the first check takes the one sample, later ones none
            store.get_online_features(["trips:fare"], entities={"driver_id": [2]})
            await asyncio.sleep(1.0)
            task.cancel()

        asyncio.run(schedule())
        samples = [r["samples"] for r in reversed(store.registry.reports("skew"))]
        assert len(samples) >= 4, samples
        assert sum(samples) == 2, samples  # each sample counted by exactly one check
        assert samples[0] == 1 and samples.count(0) >= 2, samples

        # a restarted schedule starts where the recorded reports end: nothing new, no samples
        async def restart() -> None:
            task = asyncio.create_task(scheduled_skew_checks(store, 0.2))
            await asyncio.sleep(0.5)
            task.cancel()

        before = len(samples)
        asyncio.run(restart())
        again = [r["samples"] for r in store.registry.reports("skew")][: -before or None]
        assert again and set(again) == {0}, again
