"""Batches for the ``trip_events`` push source the parity tests (direct and over HTTP) share."""

from __future__ import annotations

import datetime as dt

import polars as pl

UTC_US = pl.Datetime("us", "UTC")


def batch(rows: list[tuple[int, float, dt.datetime]]) -> pl.DataFrame:
    """``(driver_id, fare, event time)`` rows, each created a minute after its event."""
    return pl.DataFrame(
        {
            "driver_id": [r[0] for r in rows],
            "fare": [r[1] for r in rows],
            "event_ts": [r[2] for r in rows],
            "created_ts": [r[2] + dt.timedelta(minutes=1) for r in rows],
        },
        schema_overrides={"event_ts": UTC_US, "created_ts": UTC_US},
    )
