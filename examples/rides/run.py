"""Rides: a materialization that falls behind a fresh batch, seen by the skew check, then fixed.

Run it with ``python examples/rides/run.py`` (or ``make example NAME=rides``). Safe to import:
``featurestore apply`` imports every top-level ``*.py`` of a repo, this file included.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE.parents[1]) not in sys.path:  # run as a script: make `examples` importable
    sys.path.insert(0, str(HERE.parents[1]))

from examples._shared import Say, main, open_store, prepare_workdir, say_to  # noqa: E402
from examples.rides import _generate as gen  # noqa: E402
from featurestore import FeatureStore  # noqa: E402
from featurestore.parity.skew import SkewReport  # noqa: E402

SERVICE = "ranking_v2"


def serve_round(store: FeatureStore, seed: int) -> int:
    """Rank every driver once (ten candidates per request); returns the entity rows served."""
    served = 0
    for request in gen.ride_requests(seed):
        store.get_online_features(
            service=SERVICE,
            entities={"driver_id": request["driver_id"]},
            request_data={"trip_km": request["trip_km"], "surge": request["surge"]},
        )
        served += len(request["driver_id"])
    return served


def _by_feature(report: SkewReport, cls: str) -> dict[str, int]:
    return {f"{f.view}:{f.feature}": getattr(f, cls) for f in report.features}


def _summary(report: SkewReport) -> dict[str, Any]:
    stale_keys = {
        ex["keys"]["driver_id"]
        for f in report.features
        for ex in f.examples
        if ex["class"] == "stale"
    }
    return {
        "samples": report.samples,
        "totals": {
            c: report.total(c)
            for c in ("match", "stale", "missing_online", "missing_offline", "mismatch")
        },
        "stale": _by_feature(report, "stale"),
        "match": _by_feature(report, "match"),
        "stale_example_drivers": sorted(stale_keys),
    }


def run(workdir: Path, quiet: bool = False) -> dict[str, Any]:
    """Materialization lag on a driver-ranking repo: stale values found, then a clean check.

    Args:
        workdir: where the repo copy, its generated data and all state go (emptied first).
        quiet: print nothing.

    Returns:
        What the store found: the ingestion, the skew report while materialization lagged
        (``lagging``) and after it caught up (``caught_up``).
    """
    say: Say = say_to(quiet)
    now = dt.datetime.now(dt.UTC)
    repo = prepare_workdir(HERE, workdir)
    gen.history(now).write_parquet(repo / "data" / "trips.parquet")
    with open_store(repo) as store:
        say(f"== rides: project {store.project!r} in {repo}")
        store.apply()
        ingested = store.ingest("driver_trips")
        say(str(ingested))

        frame = store.get_training_frame(
            gen.training_spine(now), service=SERVICE, save_as="ranking_train"
        )
        say(
            f"training frame: {frame.height} ride offers x {len(frame.columns)} columns, saved as ranking_train"
        )

        say(str(store.materialize(end=now)))
        late = store.ingest("driver_trips", gen.fresh_trips(now))
        say(
            f"a fresh batch of {late.rows_written} trips ({len(gen.FRESH_DRIVERS)} drivers, "
            "last 15 minutes) lands right after the materialization job ran"
        )

        lagging_from = dt.datetime.now(dt.UTC)
        served = serve_round(store, seed=1)
        lagging = store.check_skew(since=lagging_from)
        say(f"served {served} driver rows; the skew check on that traffic:\n{lagging}")

        say(str(store.materialize()))
        caught_up_from = dt.datetime.now(dt.UTC)
        served = serve_round(store, seed=2)
        caught_up = store.check_skew(since=caught_up_from)
        say(f"after re-materializing, served {served} driver rows again:\n{caught_up}")
        say(
            f"found: {lagging.total('stale')} stale values while materialization lagged "
            f"(every one of the {len(gen.FRESH_DRIVERS)} fresh drivers' features), "
            f"{caught_up.total('stale')} after; {lagging.total('mismatch') + caught_up.total('mismatch')} mismatches"
        )
        return {
            "project": store.project,
            "ingest": ingested.to_dict(),
            "training_rows": frame.height,
            "lagging": _summary(lagging),
            "caught_up": _summary(caught_up),
        }


if __name__ == "__main__":
    main(HERE, run)
