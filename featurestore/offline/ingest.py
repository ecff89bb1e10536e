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

ComputeRows = Callable[[FeatureView, pl.DataFrame, pl.Series, "pl.Series | None", int], pl.DataFrame]


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


def _reject(report: IngestReport, reason: str) -> ContractError:
    return ContractError(f"view {report.view!r}: batch rejected: {reason}", report)


def ingest_frame(
    view: FeatureView,
    frame: pl.DataFrame,
    *,
    registry: IngestRegistry,
    storage: OfflineStore,
    source: str,
    compute: ComputeRows = compute_rows,
) -> IngestReport:
    """Validate ``frame`` against ``view``'s contract and publish its valid rows.

    Raises:
        ContractError: the batch was rejected (schema failure, or any failure under
            ``on_violation="reject"``); ``.report`` is the recorded report.
    """
    from featurestore.contracts import health, validate

    run_id, run_seq = registry.begin_ingestion(view.name, source)
    started = dt.datetime.now(dt.UTC)
    fields = dict(run_id=run_id, view=view.name, source=source, started_at=started)
    rows_in = frame.height
    try:
        figures = health(frame)
        event_ts, error = utc_column(frame, view.source.timestamp_field, f"view {view.name!r}")
        created_ts = None
        if error is None and view.source.created_timestamp_field:
            created_ts, error = utc_column(
                frame, view.source.created_timestamp_field, f"view {view.name!r}"
            )
        if error is None:
            assert event_ts is not None
            frame = frame.with_columns(event_ts)
            if created_ts is not None:
                frame = frame.with_columns(created_ts)
            result = validate(frame, view_contract(view), policy=view.on_violation)  # type: ignore[arg-type]
            error = result.schema_error
        violations = [v.to_dict() for v in result.violations] if error is None else []
        if error is not None or (view.on_violation == "reject" and result.violations):
            reason = error or "; ".join(
                f"{v['column']}: {v['check']} failed {v['failures']}x" for v in violations
            )
            whole = result.quarantined if error is None else _whole_batch(frame, reason)
            _write_quarantine(storage, view.name, run_seq, run_id, whole)
            report = IngestReport(
                **fields,  # type: ignore[arg-type]
                status="rejected",
                rows_in=rows_in,
                rows_written=0,
                rows_quarantined=rows_in,
                violations=violations,
                health=figures,
                error=reason,
            )
            registry.finish_ingestion(run_id, report.to_dict())
            raise _reject(report, reason)
        valid = result.valid
        rows = compute(
            view,
            valid,
            valid.get_column(view.source.timestamp_field),
            valid.get_column(view.source.created_timestamp_field)
            if view.source.created_timestamp_field
            else None,
            run_seq,
        )
        _write_quarantine(storage, view.name, run_seq, run_id, result.quarantined)
        storage.write_rows(view.name, _run_name(run_seq, run_id), rows)
    except ContractError:
        raise
    except BaseException as exc:
        failed = IngestReport(
            **fields,  # type: ignore[arg-type]
            status="failed",
            rows_in=rows_in,
            rows_written=0,
            rows_quarantined=0,
            error=f"{type(exc).__name__}: {exc}",
        )
        registry.finish_ingestion(run_id, failed.to_dict())
        raise
    quarantined = result.quarantined.height
    status = "ok"
    if view.on_violation == "warn" and result.violations:
        status = "warned"
    elif quarantined:
        status = "quarantined"
    report = IngestReport(
        **fields,  # type: ignore[arg-type]
        status=status,
        rows_in=rows_in,
        rows_written=rows.height,
        rows_quarantined=quarantined,
        violations=violations,
        health=figures,
    )
    registry.finish_ingestion(run_id, report.to_dict())
    return report


def _run_name(run_seq: int, run_id: str) -> str:
    assert run_seq < 1 << (63 - SEQ_SHIFT)
    return f"run-{run_seq:012d}-{run_id}"


def _whole_batch(frame: pl.DataFrame, reason: str) -> pl.DataFrame:
    reasons = pl.Series(
        "__reasons",
        [[{"column": None, "check": "schema", "value": reason}]] * frame.height,
        dtype=pl.List(pl.Struct({"column": pl.String, "check": pl.String, "value": pl.String})),
    )
    return frame.with_columns(
        pl.int_range(0, pl.len(), dtype=pl.Int64).alias("__row"), reasons
    )


def _write_quarantine(
    storage: OfflineStore, view: str, run_seq: int, run_id: str, rows: pl.DataFrame
) -> None:
    if rows.height:
        path = storage.quarantine_dir(view) / f"{_run_name(run_seq, run_id)}.parquet"
        storage.write_file(path, rows)
