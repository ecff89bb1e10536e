"""Quarantined rows stay readable whatever mix of batches put them there."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl
import pytest
from test_ingest import batch

from featurestore import ContractError, FeatureStore

MakeStore = Callable[..., FeatureStore]


def test_naive_and_aware_batches_read_together(make_store: MakeStore) -> None:
    store = make_store()
    naive = batch(3).with_columns(pl.col("event_ts", "created_ts").dt.replace_time_zone(None))
    with pytest.raises(ContractError) as rejected:
        store.ingest("driver_trips", naive)
    aware = store.ingest("driver_trips", batch(fare=[10.0, -1.0, 12.0, 13.0, 14.0, 15.0]))
    rows = store.quarantined("driver_trips")
    assert rows.height == 4
    assert rows["__run_id"].to_list() == [rejected.value.report.run_id] * 3 + [aware.run_id]
    # the naive timestamps read back as written (no zone), the aware one with its zone
    stamps = rows["event_ts"].to_list()
    assert stamps[0] == "2026-01-01 00:00:00.000000"
    assert stamps[3] == "2026-01-01 01:00:00.000000+00:00"
    assert rows["__reasons"].to_list()[0][0]["check"] == "schema"
    one = store.quarantined("driver_trips", run_id=aware.run_id)
    assert one["event_ts"].dtype == pl.Datetime("us", "UTC") and one["fare"].to_list() == [-1.0]


def test_a_column_of_another_type_reads_as_text(make_store: MakeStore) -> None:
    store = make_store()
    store.ingest("driver_trips", batch(fare=[10.0, -1.0, 12.0, 13.0, 14.0, 15.0]))
    renamed = batch(3).with_columns(pl.col("driver_id").cast(pl.String) + "x")
    with pytest.raises(ContractError):
        store.ingest("driver_trips", renamed)
    rows = store.quarantined("driver_trips")
    assert rows.height == 4 and rows["driver_id"].dtype == pl.String
    assert rows["driver_id"].to_list() == ["1", "0x", "1x", "2x"]


def test_no_quarantine_is_an_empty_frame(make_store: MakeStore) -> None:
    assert make_store().quarantined("driver_trips").height == 0
