"""Ingestion: validate a batch against its view's contract and commit its source rows.

Every run is recorded in the registry, including rejected, failed and duplicate ones. The order
of a run (each step may be interrupted by a crash, a ``kill -9`` included):

1. open the run (registry); sweep files of earlier runs that never committed;
2. skip the batch if its content equals a committed batch of the view (unless ``force``);
3. validate; quarantine rows with timestamps too far in the future; write the valid source rows
   and the quarantined rows as files that nothing reads yet;
4. commit: list the files and close the run in one registry transaction (checking for a
   duplicate again inside it, so two racing ingests of one file cannot both land).

Before step 4 nothing is visible; after it everything is. ``rows_in == rows_written +
rows_quarantined`` for every run that commits rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import socket
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import polars as pl

from featurestore._faults import fault_point
from featurestore.definitions import FeatureView
from featurestore.errors import ContractError
from featurestore.limits import EARLIEST
from featurestore.offline.buckets import split_by_bucket
from featurestore.offline.compute import stored_rows
from featurestore.offline.inputs import utc_column
from featurestore.offline.storage import OfflineStore, StoredFile, WriteJob, run_name, write_job
from featurestore.offline.sweep import sweep_view
from featurestore.reports import IngestReport

__all__ = ["IngestRegistry", "JobRunner", "content_hash", "ingest_frame", "view_contract"]

MAX_FUTURE_CHECK = "max_future"
#: the check of an event or created time before 1900 (``limits.EARLIEST``)
EARLIEST_CHECK = "before_1900"
_HASH_SLICE = 250_000  # rows per hashing thread, at least
J = TypeVar("J")
R = TypeVar("R")


class JobRunner(Protocol):
    """Runs per-bucket jobs (``featurestore.compute.Engine``)."""

    def map(self, fn: Callable[[J], R], jobs: Sequence[J]) -> Iterator[R]: ...


class IngestRegistry(Protocol):
    def begin_ingestion(
        self, view: str, source: str, *, owner: str | None = None
    ) -> tuple[str, int]: ...
    def finish_ingestion(self, run_id: str, report: dict[str, Any]) -> None: ...
    def find_duplicate(self, view: str, content_hash: str) -> str | None: ...
    def commit_ingestion(
        self,
        run_id: str,
        report: dict[str, Any],
        files: Sequence[StoredFile],
        *,
        content_hash: str | None = None,
        check_duplicate: bool = False,
    ) -> str | None: ...
    def run_states(self, run_ids: Sequence[str]) -> Any: ...
    def view_buckets(self, view: str, default: int | None = None) -> int: ...


def view_contract(view: FeatureView, max_future_at: dt.datetime | None = None) -> Any:
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


def content_hash(frame: pl.DataFrame) -> str:
    """A digest of a batch's content: its schema and every row, in order.

    A row's hash depends on that row alone, so slices of a big batch are hashed on several
    threads (Polars releases the GIL) and the digest is the same as for the whole.
    """
    digest = hashlib.sha256(repr(frame.schema).encode())
    digest.update(frame.height.to_bytes(8, "little"))
    if frame.height and frame.width:
        parts = max(1, min(os.cpu_count() or 1, frame.height // _HASH_SLICE))
        size = -(-frame.height // parts)
        slices = [frame.slice(start, size) for start in range(0, frame.height, size)]
        with ThreadPoolExecutor(len(slices), thread_name_prefix="featurestore-hash") as pool:
            for hashes in pool.map(lambda part: part.hash_rows(seed=0x66736873), slices):
                digest.update(hashes.to_numpy())  # its buffer: no copy
    return digest.hexdigest()


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def ingest_frame(
    view: FeatureView,
    frame: pl.DataFrame,
    *,
    registry: IngestRegistry,
    storage: OfflineStore,
    source: str,
    publish: bool = True,
    force: bool = False,
    max_future: dt.timedelta = dt.timedelta(days=1),
    buckets: int = 1,
    engine: JobRunner | None = None,
) -> tuple[IngestReport, pl.DataFrame]:
    """Validate ``frame`` against ``view``'s contract and commit its valid source rows.

    Args:
        publish: store the rows offline (a push to the online store only does not; its run is
            recorded and its refused rows quarantined all the same).
        force: ingest even when an identical batch was committed before.
        max_future: rows whose event or created time is later than now + this are quarantined.
        buckets: the key buckets of a view ingested for the first time (``[offline] buckets``);
            a view keeps the number its first ingestion recorded.
        engine: runs the per-bucket writes (default: one after the other, here).

    Returns:
        The recorded report and the valid rows as stored (source columns, UTC timestamps and
        ``__fs_seq``); empty for a duplicate.

    Raises:
        ContractError: the batch was rejected (schema failure, or any failure under
            ``on_violation="reject"``); ``.report`` is the recorded report.
    """
    from featurestore.contracts import health

    run_id, run_seq = registry.begin_ingestion(view.name, source, owner=_owner())
    name = run_name(run_seq, run_id)
    fields: dict[str, Any] = dict(
        run_id=run_id, view=view.name, source=source, started_at=dt.datetime.now(dt.UTC)
    )
    fault_point("ingest.begun")
    written: list[StoredFile] = []
    rows_in = frame.height
    digest = content_hash(frame) if publish else None
    try:
        if publish:
            sweep_view(storage, registry, view.name)
            earlier = (
                None if force or digest is None else registry.find_duplicate(view.name, digest)
            )
            if earlier is not None:
                return _duplicate(registry, fields, rows_in, earlier), frame.clear()
        figures = health(frame)
        checked = _check(view, frame, fields["started_at"] + max_future)
        fault_point("ingest.validated")
        quarantine = storage.write_quarantine(view.name, name, checked.quarantined)
        written += [quarantine] if quarantine else []
        fault_point("ingest.quarantine_written")
        if checked.error is not None:
            report = IngestReport(
                **fields,
                status="rejected",
                rows_in=rows_in,
                rows_written=0,
                rows_quarantined=rows_in,
                violations=checked.violations,
                health=figures,
                error=checked.error,
            )
            registry.commit_ingestion(run_id, report.to_dict(), written)
            raise ContractError(f"view {view.name!r}: batch rejected: {checked.error}", report)
        rows = stored_rows(checked.valid, run_seq)
        if publish:
            written += _write_buckets(view, storage, name, rows, buckets, registry, engine)
        fault_point("ingest.rows_written")
        status = "ok"
        if view.on_violation == "warn" and checked.violations:
            status = "warned"
        elif checked.quarantined.height:
            status = "quarantined"
        report = IngestReport(
            **fields,
            status=status,
            rows_in=rows_in,
            rows_written=rows.height,
            rows_quarantined=checked.quarantined.height,
            violations=checked.violations,
            health=figures,
        )
        earlier = registry.commit_ingestion(
            run_id,
            report.to_dict(),
            written,
            content_hash=digest,
            check_duplicate=publish and not force,
        )
        if earlier is not None:  # an identical batch committed while this one was validated
            storage.delete([f.path for f in written])
            return _duplicate(registry, fields, rows_in, earlier), frame.clear()
        fault_point("ingest.committed")
    except ContractError:
        raise
    except BaseException as exc:
        storage.delete([f.path for f in written])
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
    return report, rows


def _write_buckets(
    view: FeatureView,
    storage: OfflineStore,
    run: str,
    rows: pl.DataFrame,
    buckets: int,
    registry: IngestRegistry,
    engine: JobRunner | None,
) -> list[StoredFile]:
    """Write a batch's rows bucket by bucket (the view's bucket count is fixed by its first
    ingestion), each bucket's rows in batch order."""
    if rows.height == 0:
        return []
    count = registry.view_buckets(view.name, buckets)
    jobs = [
        WriteJob(storage.location, view.name, run, bucket, part)
        for bucket, part in split_by_bucket(rows, view.join_keys, count).items()
    ]
    runner = engine.map if engine is not None else _in_process
    return [f for files in runner(write_job, jobs) for f in files]


def _in_process(fn: Callable[[J], R], jobs: Sequence[J]) -> Iterator[R]:
    for job in jobs:
        yield fn(job)


def _duplicate(
    registry: IngestRegistry, fields: dict[str, Any], rows_in: int, earlier: str
) -> IngestReport:
    report = IngestReport(
        **fields,
        status="duplicate",
        rows_in=rows_in,
        rows_written=0,
        rows_quarantined=0,
        error=f"the same rows were committed by run {earlier}; pass force=True (--force) "
        "to ingest them again",
        duplicate_of=earlier,
    )
    registry.finish_ingestion(report.run_id, report.to_dict())
    return report


@dataclass(frozen=True)
class _Checked:
    """A validated batch: valid rows, quarantined rows (original columns, ``__row``,
    ``__reasons``), violations as dicts, and a batch-level error."""

    valid: pl.DataFrame
    quarantined: pl.DataFrame
    violations: list[dict[str, Any]]
    error: str | None


def _check(view: FeatureView, frame: pl.DataFrame, limit: dt.datetime) -> _Checked:
    """Timestamps to UTC, refuse reserved or missing columns, quarantine timestamps later than
    ``limit`` or before 1900 (whatever the policy: see :func:`_times_out_of_range`), then the
    contract under the view's policy."""
    from featurestore.contracts import REASONS, ROW, validate

    prepared, error = _utc_timestamps(view, frame)
    if error is None:
        error = _missing_columns(view, prepared)
    if error is not None:
        return _Checked(frame.clear(), _whole_batch(frame, error), [], error)
    future, reasons, out_of_range = _times_out_of_range(view, prepared, limit)
    kept = prepared.filter(~future) if reasons is not None else prepared
    result = validate(kept, view_contract(view), policy=view.on_violation)  # type: ignore[arg-type]
    violations = [v.to_dict() for v in result.violations]
    quarantined, valid = result.quarantined, result.valid
    if reasons is not None:
        # positions in ``kept`` back to positions in the batch, then the late rows join them
        positions = pl.Series(ROW, (~future).arg_true(), dtype=pl.Int64)
        remapped = quarantined.with_columns(positions.gather(quarantined.get_column(ROW)))
        late = frame.filter(future).with_columns(
            pl.Series(ROW, future.arg_true(), dtype=pl.Int64), reasons.alias(REASONS)
        )
        quarantined = pl.concat([remapped, late], how="diagonal_relaxed").sort(ROW)
        violations.extend(out_of_range)
    error = result.schema_error
    if error is None and view.on_violation == "reject" and violations:
        error = "; ".join(
            f"{v['column']}: {v['check']} failed {v['failures']}x" for v in violations
        )
    if error is not None:
        valid = valid.clear()
        if quarantined.height < frame.height:  # the whole batch is kept, clean rows included
            clean = pl.int_range(0, pl.len(), dtype=pl.Int64).alias(ROW)
            rest = frame.with_columns(clean).filter(~pl.col(ROW).is_in(quarantined[ROW].implode()))
            quarantined = pl.concat(
                [
                    quarantined,
                    rest.with_columns(pl.lit([]).cast(quarantined[REASONS].dtype).alias(REASONS)),
                ],
                how="diagonal_relaxed",
            ).sort(ROW)
    return _Checked(valid, quarantined, violations, error)


def _times_out_of_range(
    view: FeatureView, frame: pl.DataFrame, limit: dt.datetime
) -> tuple[pl.Series, pl.Series | None, list[dict[str, Any]]]:
    """Which rows have an event or created time after ``limit`` (it would pin a value for
    ever) or before 1900 (``EARLIEST``: nothing is materialized before it, so the row would be
    trained on and never served); their reasons (None if no row has); one violation per check
    some row failed, as the contract reports its checks."""
    from featurestore.contracts import REASONS, REASONS_DTYPE

    columns = [c for c in (view.source.timestamp_field, view.source.created_timestamp_field) if c]
    checks: list[tuple[str, dt.datetime, Callable[[pl.Expr], pl.Expr]]] = [
        (MAX_FUTURE_CHECK, limit, lambda column: column > limit),
        (EARLIEST_CHECK, EARLIEST, lambda column: column < EARLIEST),
    ]
    failed = {
        check: frame.select(
            pl.any_horizontal(outside(pl.col(c)).fill_null(False) for c in columns)
        ).to_series()
        for check, _, outside in checks
    }
    bad = failed[MAX_FUTURE_CHECK] | failed[EARLIEST_CHECK]
    if not bad.any():
        return bad, None, []
    reasons = frame.filter(bad).select(
        pl.concat_list(
            pl.when(outside(pl.col(c))).then(
                pl.struct(
                    pl.lit(c).alias("column"),
                    pl.lit(check).alias("check"),
                    pl.col(c).dt.to_string("%Y-%m-%dT%H:%M:%S%.6fZ").alias("value"),
                )
            )
            for c in columns
            for check, _, outside in checks
        )
        .list.drop_nulls()
        .alias(REASONS)
    )
    events = frame.get_column(view.source.timestamp_field)
    violations = [
        {
            "column": view.source.timestamp_field,
            "check": check,
            "failures": int(failed[check].sum()),
            "examples": [
                v.isoformat()
                for v in events.filter(failed[check]).unique(maintain_order=True).head(5).to_list()
                if v
            ],
            "limit": bound.isoformat(),
        }
        for check, bound, _ in checks
        if failed[check].any()
    ]
    return bad, reasons.to_series().cast(REASONS_DTYPE), violations


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


def _missing_columns(view: FeatureView, frame: pl.DataFrame) -> str | None:
    """Why the batch cannot be stored for this view: a reserved column name, or a column that a
    join key or a feature of the version in force needs."""
    reserved = [c for c in frame.columns if c.startswith("__fs_")]
    if reserved:
        return f"view {view.name!r}: column {reserved[0]!r} uses the reserved prefix '__fs_'"
    have = set(frame.columns)
    for key in view.join_keys:
        if key not in have:
            return f"view {view.name!r}: the batch lacks join key column {key!r}"
    for feature in view.features:
        missing = sorted(feature.expr.columns() - have)
        if missing:
            return (
                f"view {view.name!r}, feature {feature.name!r}: the batch lacks column "
                f"{missing[0]!r} (it has {', '.join(frame.columns)})"
            )
    return None


def _whole_batch(frame: pl.DataFrame, reason: str) -> pl.DataFrame:
    from featurestore.contracts import REASONS, REASONS_DTYPE, ROW

    reasons = pl.Series(
        REASONS, [[{"column": None, "check": "schema", "value": reason}]] * frame.height
    ).cast(REASONS_DTYPE)
    return frame.with_columns(pl.int_range(0, pl.len(), dtype=pl.Int64).alias(ROW), reasons)
