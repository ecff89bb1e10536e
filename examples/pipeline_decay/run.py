"""Pipeline decay: a partner feed degrades day by day; the contract keeps every bad row out.

Run it with ``python examples/pipeline_decay/run.py`` (or ``make example NAME=pipeline_decay``).
Safe to import: ``featurestore apply`` imports every top-level ``*.py`` of a repo, this one too.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE.parents[1]) not in sys.path:  # run as a script: make `examples` importable
    sys.path.insert(0, str(HERE.parents[1]))

import polars as pl  # noqa: E402

from examples._shared import UTC_US, main, open_store, prepare_workdir, say_to  # noqa: E402
from examples.pipeline_decay import _generate as gen  # noqa: E402
from featurestore import ContractError, FeatureStore, IngestReport  # noqa: E402

VIEW = "restaurant_stats"


def quarantined_rows(store: FeatureStore, report: IngestReport) -> pl.DataFrame:
    """The rows one run quarantined, with their reasons (the store keeps them next to the data)."""
    rows = store.quarantined(VIEW, run_id=report.run_id)
    return rows.drop("__run_id") if rows.height else rows


def _spine() -> pl.DataFrame:
    """Every restaurant at the end of every day: what a model trained on this feed would ask."""
    ends = [gen.FIRST_DAY + dt.timedelta(days=d, microseconds=-1) for d in range(1, gen.DAYS + 1)]
    return pl.DataFrame(
        {
            "restaurant_id": [r for _ in ends for r in range(gen.N_RESTAURANTS)],
            "event_timestamp": pl.Series(
                [t for t in ends for _ in range(gen.N_RESTAURANTS)], dtype=UTC_US
            ),
        }
    )


def expected_reports(batches: list[gen.Batch], spine: pl.DataFrame) -> pl.Series:
    """An independent answer: per spine row, the latest report of that restaurant that had
    nothing planted in it, within the view's 3-day ttl (a plain as-of join)."""
    good = pl.concat(
        [
            b.frame.select("restaurant_id", "report_id", "reported_at").filter(
                ~pl.col("report_id").is_in([i for ids in b.planted.values() for i in ids])
            )
            for b in batches
        ]
    ).sort("reported_at")
    joined = (
        spine.with_row_index("__i")
        .sort("event_timestamp")
        .join_asof(
            good,
            left_on="event_timestamp",
            right_on="reported_at",
            by="restaurant_id",
            strategy="backward",
            tolerance=dt.timedelta(days=3),
            check_sortedness=False,  # both sides are sorted by time; Polars cannot check it per group
        )
    )
    return joined.sort("__i").get_column("report_id")


def _reasons(rows: pl.DataFrame) -> dict[str, int]:
    """How many quarantined rows give each reason, as ``column: check``."""
    if rows.is_empty():
        return {}
    reasons = rows.select(pl.col("__reasons").explode().struct.unnest())
    counts = reasons.group_by("column", "check").len().sort("column", "check")
    return {f"{c or '<frame>'}: {k}": n for c, k, n in counts.iter_rows()}


def _day(
    batch: gen.Batch, report: IngestReport, rows: pl.DataFrame, raised: str | None
) -> dict[str, Any]:
    """One day's findings next to what was planted in it."""
    return {
        "day": batch.day,
        "status": report.status,
        "rows_in": report.rows_in,
        "rows_written": report.rows_written,
        "rows_quarantined": report.rows_quarantined,
        "violations": {
            (v.get("column") or "<frame>"): (v["check"], v["failures"]) for v in report.violations
        },
        "quarantined_ids": sorted(rows.get_column("report_id").to_list())
        if "report_id" in rows.columns
        else [],
        "reasons": _reasons(rows),
        "planted": {k: len(v) for k, v in batch.planted.items()},
        "planted_ids": sorted(i for ids in batch.planted.values() for i in ids),
        "error": raised,
        "null_rate": {c: h.get("null_rate") for c, h in report.health.items()},
    }


def run(workdir: Path, quiet: bool = False) -> dict[str, Any]:
    """Seven daily batches through the contract; then a training frame over all of them.

    Args:
        workdir: where the repo copy, its generated data and all state go (emptied first).
        quiet: print nothing.

    Returns:
        What the store found: per day the run's status, counts, violations and the planted
        report ids it quarantined; and whether the training frame saw any bad row.
    """
    say = say_to(quiet)
    repo = prepare_workdir(HERE, workdir)
    batches = gen.batches()
    with open_store(repo) as store:
        say(f"== pipeline_decay: project {store.project!r} in {repo}")
        store.apply()
        runs: list[tuple[str, str | None]] = []
        for batch in batches:
            path = repo / "data" / f"reports-day{batch.day}.parquet"
            batch.frame.write_parquet(path)
            try:
                report = store.ingest(VIEW, path.relative_to(repo).as_posix())
                raised = None
            except ContractError as exc:
                report, raised = exc.report, str(exc)
            say(f"day {batch.day}: {report}")
            runs.append((report.run_id, raised))

        # the findings come from the recorded contract report, not from what ingest returned
        recorded = {r.run_id: r for r in store.contract_reports(view=VIEW)}
        days = [
            _day(batch, recorded[run_id], quarantined_rows(store, recorded[run_id]), raised)
            for batch, (run_id, raised) in zip(batches, runs, strict=True)
        ]
        say("the contract report, day by day:")
        for d in days:
            checks = "; ".join(f"{c}: {k} x{n}" for c, (k, n) in d["violations"].items())
            say(
                f"  day {d['day']}  {d['status']:<11} {d['rows_in']} in, {d['rows_written']} "
                f"written, {d['rows_quarantined']} quarantined  {checks}".rstrip()
            )

        spine = _spine()
        frame = store.get_training_frame(
            spine, features=[f"{VIEW}:report_id", f"{VIEW}:rating", f"{VIEW}:prep_time_min"]
        )
        bad = {i for d in days for i in d["planted_ids"]}
        used = frame.get_column("report_id")
        leaked = sorted(set(used.drop_nulls().to_list()) & bad)
        expected = expected_reports(batches, spine)
        agrees = bool((used.eq_missing(expected)).all())
        say(
            f"training frame: {frame.height} rows; bad reports used: {len(leaked)}; "
            f"agrees with an as-of join over the good rows only: {agrees}; "
            f"ratings within 1-5: {frame.get_column('rating').drop_nulls().is_between(1, 5).all()}"
        )
        return {
            "project": store.project,
            "days": days,
            "runs_recorded": len(recorded),
            "training_rows": frame.height,
            "bad_reports_in_training": leaked,
            "training_agrees_with_good_rows": agrees,
            "max_prep_time_in_training": frame.get_column("prep_time_min").max(),
            # no good report within the 3-day ttl (bad days in a row): null, as it should be
            "rows_without_a_good_report": used.null_count(),
        }


if __name__ == "__main__":
    main(HERE, run)
