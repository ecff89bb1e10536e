"""Ingestion: validate a batch against its view's contract, compute features, publish atomically.

Every run is recorded in the registry, including rejected and failed ones. A batch is either
published whole (its valid rows) or not at all; ``rows_in == rows_written + rows_quarantined``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Protocol

import polars as pl

from featurestore.definitions import FeatureView
from featurestore.errors import ContractError
from featurestore.offline.compute import SEQ_SHIFT, compute_rows
from featurestore.offline.inputs import utc_column
from featurestore.offline.storage import OfflineStore
from featurestore.reports import IngestReport

__all__ = ["ComputeRows", "IngestRegistry", "ingest_frame", "view_contract"]

ComputeRows = Callable[
    [FeatureView, pl.DataFrame, pl.Series, "pl.Series | None", int], pl.DataFrame
]


class IngestRegistry(Protocol):
    def begin_ingestion(self, view: str, source: str) -> tuple[str, int]: ...
    def finish_ingestion(self, run_id: str, report: dict[str, Any]) -> None: ...


def view_contract(view: FeatureView) -> Any:
    """The view's Pandera contract plus the rules every view has: keys and event time not null."""
    import pandera.polars as pa

    schema = view.contract_schema or pa.DataFrameSchema({})
    required = [*view.join_keys, view.source.timestamp_field]
    present = {c: {"nullable": False} for c in required if c in schema.columns}
    added = {c: pa.Column(nullable=False) for c in required if c not in schema.columns}
    if present:
        schema = schema.update_columns(present)
    if added:
        schema = schema.add_columns(added)
    return schema


def ingest_frame(
    view: FeatureView,
    frame: pl.DataFrame,
    *,
    registry: IngestRegistry,
    storage: OfflineStore,
    source: str,
    compute: ComputeRows = compute_rows,
    publish: bool = True,
) -> tuple[IngestReport, pl.DataFrame]:
    """Validate ``frame`` against ``view``'s contract and publish its valid rows.

    Args:
        compute: the compiler of the view's features (Polars for batches, Python for pushes).
        publish: write the computed rows to the offline store (a push to the online store only
            does not; its run is recorded and its refused rows quarantined all the same).

    Returns:
        The recorded report and the computed rows (what was, or would have been, published).

    Raises:
        ContractError: the batch was rejected (schema failure, or any failure under
            ``on_violation="reject"``); ``.report`` is the recorded report.
    """
    from featurestore.contracts import health, validate

    run_id, run_seq = registry.begin_ingestion(view.name, source)
    fields: dict[str, Any] = dict(
        run_id=run_id, view=view.name, source=source, started_at=dt.datetime.now(dt.UTC)
    )
    rows_in = frame.height
    try:
        figures = health(frame)
        prepared, error = _utc_timestamps(view, frame)
        if error is None:
            result = validate(prepared, view_contract(view), policy=view.on_violation)  # type: ignore[arg-type]
            quarantined = result.quarantined
            violations = [v.to_dict() for v in result.violations]
            error = result.schema_error
            if error is None and view.on_violation == "reject" and violations:
                error = "; ".join(
                    f"{v['column']}: {v['check']} failed {v['failures']}x" for v in violations
                )
        else:
            quarantined, violations = _whole_batch(frame, error), []
        if error is not None:
            _write_quarantine(storage, view.name, run_seq, run_id, quarantined)
            report = IngestReport(
                **fields,
                status="rejected",
                rows_in=rows_in,
                rows_written=0,
                rows_quarantined=rows_in,
                violations=violations,
                health=figures,
                error=error,
            )
            registry.finish_ingestion(run_id, report.to_dict())
            raise ContractError(f"view {view.name!r}: batch rejected: {error}", report)
        valid = result.valid
        created = view.source.created_timestamp_field
        rows = compute(
            view,
            valid,
            valid.get_column(view.source.timestamp_field),
            valid.get_column(created) if created else None,
            run_seq,
        )
        _write_quarantine(storage, view.name, run_seq, run_id, quarantined)
        if publish:
            storage.write_rows(view.name, _run_name(run_seq, run_id), rows)
    except ContractError:
        raise
    except BaseException as exc:
        failed = IngestReport(
            **fields,
            status="failed",
            rows_in=rows_in,
            rows_written=0,
            rows_quarantined=0,
            error=f"{type(exc).__name__}: {exc}",
        )
        registry.finish_ingestion(run_id, failed.to_dict())
        raise
    status = "ok"
    if view.on_violation == "warn" and violations:
        status = "warned"
    elif quarantined.height:
        status = "quarantined"
    report = IngestReport(
        **fields,
        status=status,
        rows_in=rows_in,
        rows_written=rows.height,
        rows_quarantined=quarantined.height,
        violations=violations,
        health=figures,
    )
    registry.finish_ingestion(run_id, report.to_dict())
    return report, rows


def _utc_timestamps(view: FeatureView, frame: pl.DataFrame) -> tuple[pl.DataFrame, str | None]:
    """The batch with its event (and created) timestamp columns as UTC, or why it cannot be."""
    what = f"view {view.name!r}"
    for column in (view.source.timestamp_field, view.source.created_timestamp_field):
        if column is None:
            continue
        series, error = utc_column(frame, column, what)
        if error is not None:
            return frame, error
        assert series is not None
        frame = frame.with_columns(series)
    return frame, None


def _run_name(run_seq: int, run_id: str) -> str:
    assert run_seq < 1 << (63 - SEQ_SHIFT)
    return f"run-{run_seq:012d}-{run_id}"


def _whole_batch(frame: pl.DataFrame, reason: str) -> pl.DataFrame:
    reasons = pl.Series(
        "__reasons",
        [[{"column": None, "check": "schema", "value": reason}]] * frame.height,
        dtype=pl.List(pl.Struct({"column": pl.String, "check": pl.String, "value": pl.String})),
    )
    return frame.with_columns(pl.int_range(0, pl.len(), dtype=pl.Int64).alias("__row"), reasons)


def _write_quarantine(
    storage: OfflineStore, view: str, run_seq: int, run_id: str, rows: pl.DataFrame
) -> None:
    if rows.height:
        path = storage.quarantine_dir(view) / f"{_run_name(run_seq, run_id)}.parquet"
        storage.write_file(path, rows)
