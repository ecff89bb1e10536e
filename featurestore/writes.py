"""Every way data comes in: batches ingested offline, events pushed, the offline store's latest
values materialized online, and feature values written online as given.

The store owns one :class:`Writes`; its facade methods (``ingest``, ``push``, ``materialize``,
``write_to_online_store``, ``quarantined``, ``contract_reports``) call it. The jobs themselves
live in :mod:`featurestore.offline.ingest`, :mod:`featurestore.materialize` and
:mod:`featurestore.direct_writes`; this module wires them to the store's registry, stores,
engine and configuration.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from featurestore._faults import fault_point
from featurestore.definitions import FeatureView, FileSource, PushSource
from featurestore.errors import NotFoundError, RequestError
from featurestore.limits import EARLIEST, check_time, quote
from featurestore.materialize import lost_data, materialize_view, write_pushed
from featurestore.offline.compute import compute_rows_python
from featurestore.offline.ingest import ingest_frame
from featurestore.offline.inputs import read_file, read_sql, to_frame
from featurestore.online.marker import write_marker
from featurestore.reports import IngestReport, MaterializeReport, iso

if TYPE_CHECKING:
    from featurestore.store import FeatureStore

__all__ = ["PushTarget", "Writes"]

PushTarget = Literal["online", "offline", "online_and_offline"]


class Writes:
    """Data coming into one store (see the module docstring)."""

    def __init__(self, store: FeatureStore) -> None:
        self._store = store

    def ingest(
        self,
        view: str | FeatureView,
        data: Any = None,
        *,
        query: str | None = None,
        url: str | None = None,
        force: bool = False,
    ) -> IngestReport:
        """Validate a batch against the view's contract and commit its rows to the offline store.

        The batch becomes visible all at once when its run commits in the registry; a crash
        before that leaves nothing visible. A batch equal to one committed before is skipped
        (status ``"duplicate"``) unless ``force``.

        Args:
            view: the view (or its name).
            data: a Parquet/CSV path or a Polars/pandas/Arrow frame; None reads the view's source.
            query: a SQL query to run instead (with ``url`` or the source's URL).
            url: the database URL for ``query``.
            force: ingest the batch even if the same rows were committed before.

        Raises:
            ContractError: the batch was rejected; ``.report`` is the recorded report.
        """
        fv = self._store.get_feature_view(view) if isinstance(view, str) else view
        frame, label = self._read_batch(fv, data, query, url)
        report, _ = self._ingest(fv, frame, source=label, force=force)
        return report

    def _ingest(
        self,
        view: FeatureView,
        frame: pl.DataFrame,
        *,
        source: str,
        force: bool = False,
        publish: bool = True,
    ) -> tuple[IngestReport, pl.DataFrame]:
        """:func:`~featurestore.offline.ingest.ingest_frame` with the store's registry, offline
        store, engine and ingestion settings."""
        store = self._store
        return ingest_frame(
            view,
            frame,
            registry=store.registry,
            storage=store.offline,
            source=source,
            publish=publish,
            force=force,
            max_future=store.config.ingestion.max_future,
            buckets=store.config.offline.buckets,
            engine=store.engine,
        )

    def _read_batch(
        self, view: FeatureView, data: Any, query: str | None, url: str | None
    ) -> tuple[pl.DataFrame, str]:
        source = view.source
        if query is not None or (data is None and source.source_type == "sql"):
            sql = query or getattr(source, "query", None)
            db = url or getattr(source, "url", None)
            if not sql or not db:
                raise RequestError(f"view {view.name!r}: a SQL ingestion needs a query and a --url")
            return read_sql(sql, db), f"sql: {sql[:80]}"
        if data is None:
            if not isinstance(source, FileSource):
                raise RequestError(f"view {view.name!r}: its source has no file; pass the data")
            # the source's own file is read in its declared format
            return read_file(self._store.repo_path / source.path, source.file_format), source.path
        if isinstance(data, str | Path):
            return read_file(self._store.repo_path / data), str(data)  # absolute: as it is
        label = type(data).__module__.split(".")[0] + " frame"
        return to_frame(data, f"data for view {view.name!r}"), label

    def quarantined(self, view: str, run_id: str | None = None) -> pl.DataFrame:
        """The rows a contract refused, with ``__row`` (position in its batch), ``__reasons``
        (column, check, value) and ``__run_id``; optionally of one ingestion run only.

        Batches that disagree on a column's type (naive and aware timestamps, say) are read
        together with that column as text (see :mod:`featurestore.offline.quarantine`)."""
        from featurestore.offline.quarantine import read_quarantine

        self._store.get_feature_view(view)
        files, _ = self._store.registry.committed_files(view, "quarantine")
        return read_quarantine(
            [(f.path, f.run_id) for f in files if run_id is None or f.run_id == run_id],
            read=self._store.offline.read,
        )

    def contract_reports(
        self, view: str | None = None, limit: int | None = None
    ) -> list[IngestReport]:
        """Every recorded ingestion run (newest first), optionally of one view."""
        return [
            IngestReport.from_dict(r) for r in self._store.registry.ingestion_reports(view, limit)
        ]

    def materialize(
        self,
        views: Sequence[str] | None = None,
        *,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        progress: Callable[[str, int, int, int], None] | None = None,
    ) -> MaterializeReport:
        """Load the latest values as of ``end`` (default: now) into the online store.

        Incremental: each view starts from its watermark unless ``start`` is given. Idempotent,
        and a newer online value is never replaced by an older one.

        Args:
            views: the view names (None: every online view).
            start: recompute from here instead of each view's watermark.
            end: the time the values are as of (timezone-aware; default: now).
            progress: called with (view, rows written, bucket jobs done, jobs in all) before a
                view's first job and after each; the rows add up to the report's count.
        """
        now = dt.datetime.now(dt.UTC)
        end = _utc(end, "end") or now
        start = check_time(_utc(start, "start"), "start")
        check_time(end, "end")  # a time before 1900 has no window start before it
        limit = now + self._store.config.ingestion.max_future
        if end > limit:
            raise RequestError(
                f"end {iso(end)} is later than now plus ingestion.max_future ({iso(limit)}): "
                "values as of a future time would pin every window and block later runs"
            )
        every = self._store.list_feature_views()
        chosen = [self._store.get_feature_view(v) for v in views] if views else every
        online_views = [v for v in every if v.online]
        reloaded = lost_data(
            self._store.online,
            project=self._store.project,
            materialized=lambda: any(self._store.registry.watermark(v.name) for v in online_views),
        )
        if reloaded:
            chosen = online_views
        # Marked before any row or watermark is written: a crash after a view's watermark is
        # recorded must not leave the store unmarked (the next run would take it for a store
        # that lost its data); a store that loses its data after this loses the marker too.
        write_marker(self._store.online, project=self._store.project)
        # nothing is stored before EARLIEST, and the window (start, end] would leave out a row
        # at EARLIEST itself: a start there reloads in full, as no start does
        reload_from = None if start == EARLIEST else start
        written: dict[str, int] = {}
        for view in chosen:
            if not view.online:
                continue
            version = self._store.state.versions[("feature_view", view.name)]
            state = self._store.registry.materialized_state(view.name)
            # after a definition change (or a lost store) every entity is rewritten
            incremental = not reloaded and start is None and state.version == version
            since = reload_from if not incremental else state.watermark
            tick = (lambda n, i, t, v=view.name: progress(v, n, i, t)) if progress else None
            written[view.name], seen_seq = materialize_view(
                self._store.layout(view),
                engine=self._store.engine,
                online=self._store.online,
                project=self._store.project,
                start=since,
                end=end,
                last_seq=state.last_seq if incremental else None,
                progress=tick,
                view_version=version,
            )
            # A transaction of its own, once the view's rows are online: a crash before it
            # leaves the watermark behind them (the next run writes them again, harmlessly),
            # never ahead of rows that were not written; and no registry transaction is held
            # open over the job.
            fault_point("materialize.rows_written")
            self._store.registry.record_materialization(
                view.name, since, end, written[view.name], last_seq=seen_seq, view_version=version
            )
            fault_point("materialize.recorded")
        self._store.rollout_steps.materialize(list(written), end=end)  # candidates keep up
        return MaterializeReport(
            views=written, rows=sum(written.values()), watermark=end, start=start, reloaded=reloaded
        )

    def push(self, push_source: str, rows: Any, *, to: PushTarget = "online") -> IngestReport:
        """Validate pushed events with the view's contract, compute its features with the Python
        compiler and write them online, offline or both.

        Args:
            push_source: the push source's name.
            rows: the events (a Polars/pandas/Arrow frame or a list of dicts).
            to: ``"online"``, ``"offline"`` or ``"online_and_offline"``.

        Returns:
            The report of the (first) view fed by ``push_source``; every view's run is recorded.
        """
        if to not in ("online", "offline", "online_and_offline"):
            raise RequestError(
                f"to must be 'online', 'offline' or 'online_and_offline', got {to!r}"
            )
        views = self.push_views(push_source)
        if not views:
            raise NotFoundError(f"no feature view reads push source {quote(push_source)}")
        frame = to_frame(rows, f"rows pushed to {quote(push_source)}")
        reports: list[IngestReport] = []
        for view in views:
            report, stored = self._ingest(
                view, frame, source=f"push:{push_source}", publish=to != "online"
            )
            if to != "offline" and stored.height:
                write_pushed(
                    view,
                    compute_rows_python(view, stored),
                    offline=self._store.rows_for(view, stored) if view.aggregates else None,
                    offline_has_rows=to != "online",
                    online=self._store.online,
                    project=self._store.project,
                    view_version=self._store.state.view_versions.get(view.name, 0),
                )
                self._store.rollout_steps.push(view.name, stored, offline_has_rows=to != "online")
            reports.append(report)
        return reports[0]

    def push_views(self, push_source: str) -> list[FeatureView]:
        """The feature views that read ``push_source`` (none: it is unknown)."""
        return [
            v
            for v in self._store.list_feature_views()
            if isinstance(v.source, PushSource) and v.source.name == push_source
        ]

    def write_to_online_store(self, view: str, data: Any) -> int:
        """Write feature values of ``view`` online as given, as Feast's ``write_to_online_store``
        does (no contract, no computation: see :mod:`featurestore.direct_writes`).

        Args:
            view: the feature view name.
            data: the join keys, every feature and ``event_timestamp`` (optionally
                ``created``): a mapping of column -> values, or a Polars/pandas/Arrow frame.

        Returns:
            How many rows were written.
        """
        from featurestore.direct_writes import write_feature_values

        return write_feature_values(
            self._store.get_feature_view(view),
            data,
            online=self._store.online,
            project=self._store.project,
            view_version=self._store.state.view_versions.get(view, 0),
            max_future=self._store.config.ingestion.max_future,
        )


def _utc(value: dt.datetime | None, what: str) -> dt.datetime | None:
    if value is None:
        return None
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise RequestError(f"{what} must be a timezone-aware datetime, got {quote(value)}")
    return value.astimezone(dt.UTC)
