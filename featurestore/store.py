"""``FeatureStore``: the facade users call. It wires definitions, registry, stores and jobs."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import polars as pl

from featurestore.alerts import Alerts
from featurestore.config import Config, load_config
from featurestore.definitions import (
    Definition,
    FeatureService,
    FeatureView,
    FileSource,
    OnDemandFeatureView,
    PushSource,
    from_spec,
)
from featurestore.definitions.references import check_references
from featurestore.errors import NotFoundError, RequestError
from featurestore.monitoring import MonitoringMixin
from featurestore.offline.compute import compute_rows_python
from featurestore.offline.ingest import ingest_frame
from featurestore.offline.inputs import read_file, read_sql, to_frame
from featurestore.offline.storage import OfflineStore
from featurestore.online import OnlineStore, ReadResult
from featurestore.registry import ObjectSpec, Plan, Registry
from featurestore.reports import IngestReport, MaterializeReport
from featurestore.resolve import Lookup, Resolved, resolve
from featurestore.response import OnlineResponse
from featurestore.serving import PendingRequest, finish_request, start_request

__all__ = ["FeatureStore"]

PushTarget = Literal["online", "offline", "online_and_offline"]


class FeatureStore(MonitoringMixin):
    """A feature repo opened for use.

    Args:
        repo_path: the folder holding ``featurestore.toml`` and the definition files.
        config: a ready ``Config`` instead of reading the folder's file.

    Example:
        >>> store = FeatureStore("my_repo")                           # doctest: +SKIP
        >>> store.apply()                                             # doctest: +SKIP
        >>> store.ingest("driver_trips", "data/trips.parquet")        # doctest: +SKIP
    """

    def __init__(self, repo_path: str | Path = ".", *, config: Config | None = None) -> None:
        self.config = config or load_config(repo_path)
        self.repo_path = self.config.repo_path
        self.project = self.config.project
        self.offline = OfflineStore(self.config.offline_path(), self.project)
        self._registry: Registry | None = None
        self._online: OnlineStore | None = None
        self._defs: dict[tuple[str, str], Definition] | None = None
        self._versions: dict[tuple[str, str], int] = {}
        self._view_versions: dict[str, int] = {}
        self._resolved: dict[Any, Resolved] = {}
        self._serving_logger = None
        self._feedback_kinds = None
        self._alerts: Alerts | None = None

    # -- plumbing -----------------------------------------------------------------------------
    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = Registry(
                self.config.sqlalchemy_url(self.config.registry), self.project
            )
            if self.alerts is not None:  # every recorded report and run may raise an alert
                self._registry.add_listener(self.alerts.on_record)
        return self._registry

    @property
    def alerts(self) -> Alerts | None:
        """The ``[[alerts]]`` webhooks' deliveries (None when none are configured)."""
        if self._alerts is None and self.config.alerts:
            self._alerts = Alerts(self.config.alerts, self.project, lambda: self.registry)
        return self._alerts

    @property
    def online(self) -> OnlineStore:
        if self._online is None:
            from featurestore.online import open_online_store

            self._online = open_online_store(
                self.config.sqlalchemy_url(self.config.online_store)
                if self.config.online_store.startswith("sqlite")
                else self.config.online_store,
                self.project,
                repo_path=self.repo_path,
            )
        return self._online

    def close(self) -> None:
        """Release database and online-store connections (queued serving samples are shipped first)."""
        if self._serving_logger is not None:
            if self._online is not None:
                self._serving_logger.ship()
            self._serving_logger.close()
            self._serving_logger = None
        if self._alerts is not None:
            self._alerts.close()  # queued deliveries get a few seconds; the rest stay pending
        if self._registry is not None:
            self._registry.close()
            self._registry = None
        if self._online is not None:
            self._online.close()
            self._online = None

    def __enter__(self) -> FeatureStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def refresh(self) -> None:
        """Forget cached definitions; the next lookup reads the registry again."""
        self._defs = None
        self._resolved.clear()

    def _definitions(self) -> dict[tuple[str, str], Definition]:
        if self._defs is None:
            defs: dict[tuple[str, str], Definition] = {}
            versions: dict[tuple[str, str], int] = {}
            for stored in self.registry.list():
                defs[(stored.kind, stored.name)] = from_spec(stored.kind, stored.spec)
                versions[(stored.kind, stored.name)] = stored.version
            self._defs, self._versions = defs, versions
            self._view_versions = {n: v for (k, n), v in versions.items() if "view" in k}
            self._resolved.clear()
        return self._defs

    def _get(self, kind: str, name: str, what: str) -> Definition:
        obj = self._definitions().get((kind, name))
        if obj is None:
            raise NotFoundError(f"unknown {what} {name!r} (run `featurestore apply` first?)")
        return obj

    # -- definitions --------------------------------------------------------------------------
    def apply(self, objects: Sequence[object] | None = None, *, dry_run: bool = False) -> Plan:
        """Register definitions, printing nothing; returns the plan (added/changed/unchanged/removed).

        Args:
            objects: definitions to add or update (others stay). None loads every definition
                file of the repo and makes the registry match it exactly (removals included).
            dry_run: only plan.
        """
        from featurestore.repo import collect, load_repo

        partial = objects is not None
        defs = collect(list(objects)) if objects is not None else load_repo(self.repo_path)
        state = dict(self._definitions()) if partial else {}
        state |= {(d.kind, d.name): d for d in defs}
        check_references(state)
        specs = [ObjectSpec(d.kind, d.name, d.to_spec()) for d in defs]
        plan = self.registry.apply(specs, partial=partial, dry_run=dry_run)
        self.refresh()
        return plan

    def get_feature_view(self, name: str) -> FeatureView:
        obj = self._get("feature_view", name, "feature view")
        assert isinstance(obj, FeatureView)
        return obj

    def get_feature_service(self, name: str) -> FeatureService:
        obj = self._get("feature_service", name, "feature service")
        assert isinstance(obj, FeatureService)
        return obj

    def _view_or_odfv(self, name: str) -> FeatureView | OnDemandFeatureView:
        defs = self._definitions()
        obj = defs.get(("feature_view", name)) or defs.get(("on_demand_feature_view", name))
        if obj is None:
            raise NotFoundError(f"unknown feature view {name!r}")
        assert isinstance(obj, FeatureView | OnDemandFeatureView)
        return obj

    def list_feature_views(self) -> list[FeatureView]:
        return [d for d in self._definitions().values() if isinstance(d, FeatureView)]

    def _resolve(
        self, features: Sequence[str] | None, service: str | None, full_feature_names: bool
    ) -> Resolved:
        key: Any = (
            None
            if features is None
            else (features,)
            if isinstance(features, str)
            else tuple(features),
            service,
            full_feature_names,
        )
        try:
            cached = self._resolved.get(key)
        except TypeError:  # an unhashable feature list: resolve() will say what is wrong
            cached, key = None, None
        if cached is not None and self._defs is not None:
            return cached
        lookup = Lookup(view=self._view_or_odfv, service=self.get_feature_service)
        resolved = resolve(
            lookup, features=features, service=service, full_feature_names=full_feature_names
        )
        if key is not None:
            if len(self._resolved) > 1024:
                self._resolved.clear()
            self._resolved[key] = resolved
        return resolved

    # -- ingestion ----------------------------------------------------------------------------
    def ingest(
        self,
        view: str | FeatureView,
        data: Any = None,
        *,
        query: str | None = None,
        url: str | None = None,
    ) -> IngestReport:
        """Validate a batch against the view's contract and write it to the offline store.

        Args:
            view: the view (or its name).
            data: a Parquet/CSV path or a Polars/pandas/Arrow frame; None reads the view's source.
            query: a SQL query to run instead (with ``url`` or the source's URL).
            url: the database URL for ``query``.

        Raises:
            ContractError: the batch was rejected; ``.report`` is the recorded report.
        """
        fv = self.get_feature_view(view) if isinstance(view, str) else view
        frame, label = self._read_batch(fv, data, query, url)
        report, _ = ingest_frame(
            fv, frame, registry=self.registry, storage=self.offline, source=label
        )
        return report

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
            return read_file(self.repo_path / source.path, source.file_format), source.path
        if isinstance(data, str | Path):
            file = Path(data) if Path(data).is_absolute() else self.repo_path / data
            return read_file(file), str(data)
        label = type(data).__module__.split(".")[0] + " frame"
        return to_frame(data, f"data for view {view.name!r}"), label

    def quarantined(self, view: str, run_id: str | None = None) -> pl.DataFrame:
        """The rows a contract refused, with ``__row`` (position in its batch), ``__reasons``
        (column, check, value) and ``__run_id``; optionally of one ingestion run only.

        Batches that disagree on a column's type (naive and aware timestamps, say) are read
        together with that column as text (see :mod:`featurestore.offline.quarantine`)."""
        from featurestore.offline.quarantine import read_quarantine

        self.get_feature_view(view)
        return read_quarantine(self.offline.quarantine_dir(view), run_id)

    def contract_reports(
        self, view: str | None = None, limit: int | None = None
    ) -> list[IngestReport]:
        """Every recorded ingestion run (newest first), optionally of one view."""
        return [IngestReport.from_dict(r) for r in self.registry.ingestion_reports(view, limit)]

    # -- training frames ----------------------------------------------------------------------
    def get_training_frame(
        self,
        spine: Any,
        *,
        features: Sequence[str] | None = None,
        service: str | None = None,
        full_feature_names: bool = False,
        point_in_time: Literal["known", "event"] = "known",
        save_as: str | None = None,
    ) -> pl.DataFrame:
        """A point-in-time-correct training frame: one row per spine row, in order.

        Args:
            spine: entity keys, ``event_timestamp`` (UTC) and any extra columns (labels);
                a Polars/pandas/Arrow frame or a Parquet/CSV path.
            features: ``"view:feature"`` references, or
            service: a feature service name.
            full_feature_names: name columns ``view__feature``.
            point_in_time: "known" (default) uses only rows created by each spine time;
                "event" looks at event time only.
            save_as: save the frame and its lineage under this name (a drift reference).
        """
        from featurestore.offline.training import build_training_frame, prepare_spine

        resolved = self._resolve(features, service, full_feature_names)
        if isinstance(spine, str | Path):
            spine = read_file(spine if Path(spine).is_absolute() else self.repo_path / spine)
        frame = prepare_spine(spine, resolved.join_keys, resolved.request_fields)
        out = build_training_frame(frame, resolved, self._scan, point_in_time)
        if save_as is not None:
            self._save_dataset(save_as, frame, out, resolved)
        return out

    def _scan(self, view: FeatureView) -> pl.LazyFrame | None:
        return self.offline.scan_view(view.name)

    def _save_dataset(
        self, name: str, spine: pl.DataFrame, frame: pl.DataFrame, resolved: Resolved
    ) -> None:
        from featurestore.definitions.base import check_name

        check_name("dataset", name)
        digest = hashlib.sha256()
        digest.update(repr(spine.schema).encode())
        digest.update(spine.hash_rows(seed=0).to_numpy().tobytes())
        versions = {
            f"{v}:{f}": self._versions.get(("feature_view", v))
            or self._versions.get(("on_demand_feature_view", v), 0)
            for v, f in resolved.refs
        }
        path = self.offline.write_file(self.offline.dataset_path(name), frame)
        self.registry.save_dataset(
            name,
            path=str(path),
            spine_hash=digest.hexdigest(),
            feature_refs=versions,
            rows=frame.height,
            overwrite=True,
        )

    def get_saved_dataset(self, name: str) -> pl.DataFrame:
        """A training frame saved with ``save_as``."""
        record = self.registry.get_dataset(name)
        return pl.read_parquet(record["path"])

    # -- online -------------------------------------------------------------------------------
    def materialize(
        self,
        views: Sequence[str] | None = None,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        *,
        progress: Callable[[str, int], None] | None = None,
    ) -> MaterializeReport:
        """Load the latest values as of ``end`` (default: now) into the online store.

        Incremental: each view starts from its watermark unless ``start`` is given. Idempotent,
        and a newer online value is never replaced by an older one.
        """
        from featurestore.materialize import materialize_view

        end = _utc(end, "end") or dt.datetime.now(dt.UTC)
        start = _utc(start, "start")
        chosen = [self.get_feature_view(v) for v in views] if views else self.list_feature_views()
        written: dict[str, int] = {}
        for view in chosen:
            if not view.online:
                continue
            since = start if start is not None else self.registry.watermark(view.name)
            tick = (lambda n, v=view.name: progress(v, n)) if progress else None
            written[view.name], seen_seq = materialize_view(
                view,
                self._scan(view),
                online=self.online,
                project=self.project,
                start=since,
                end=end,
                last_seq=self.registry.materialized_seq(view.name) if start is None else None,
                progress=tick,
            )
            self.registry.record_materialization(
                view.name, since, end, written[view.name], last_seq=seen_seq
            )
        return MaterializeReport(
            views=written, rows=sum(written.values()), watermark=end, start=start
        )

    def get_online_features(
        self,
        features: Sequence[str] | None = None,
        *,
        service: str | None = None,
        entities: Mapping[str, Sequence[Any]],
        request_data: Mapping[str, Any] | None = None,
        full_feature_names: bool = False,
    ) -> OnlineResponse:
        """Online features for a batch of entities, in one online-store round trip."""
        pending = self._start_online(features, service, full_feature_names, entities, request_data)
        return self._finish_online(pending, self.online.read(pending.reads))

    async def get_online_features_async(
        self,
        features: Sequence[str] | None = None,
        *,
        service: str | None = None,
        entities: Mapping[str, Sequence[Any]],
        request_data: Mapping[str, Any] | None = None,
        full_feature_names: bool = False,
    ) -> OnlineResponse:
        """:meth:`get_online_features` for an event loop (what the server calls): when the
        online store can (``aread``, a standalone Redis) the round trip is awaited, so the loop
        serves other requests meanwhile; other stores are read as by the blocking call."""
        pending = self._start_online(features, service, full_feature_names, entities, request_data)
        aread = getattr(self.online, "aread", None)
        results = await aread(pending.reads) if aread else self.online.read(pending.reads)
        return self._finish_online(pending, results)

    def _start_online(
        self,
        features: Sequence[str] | None,
        service: str | None,
        full_feature_names: bool,
        entities: Mapping[str, Sequence[Any]],
        request_data: Mapping[str, Any] | None,
    ) -> PendingRequest:
        return start_request(
            self._resolve(features, service, full_feature_names),
            entities,
            project=self.project,
            request_data=request_data,
            max_entities=self.config.serving.max_entities,
        )

    def _finish_online(self, pending: PendingRequest, results: list[ReadResult]) -> OnlineResponse:
        response = finish_request(pending, results)
        self._log_served(response, self._view_versions)
        return response

    def push(self, push_source: str, rows: Any, to: PushTarget = "online") -> IngestReport:
        """Validate pushed events with the view's contract, compute its features with the Python
        compiler and write them online, offline or both.

        Returns:
            The report of the (first) view fed by ``push_source``; every view's run is recorded.
        """
        from featurestore.materialize import write_pushed

        if to not in ("online", "offline", "online_and_offline"):
            raise RequestError(
                f"to must be 'online', 'offline' or 'online_and_offline', got {to!r}"
            )
        views = [
            v
            for v in self.list_feature_views()
            if isinstance(v.source, PushSource) and v.source.name == push_source
        ]
        if not views:
            raise NotFoundError(f"no feature view reads push source {push_source!r}")
        frame = to_frame(rows, f"rows pushed to {push_source!r}")
        reports: list[IngestReport] = []
        for view in views:
            report, computed = ingest_frame(
                view,
                frame,
                registry=self.registry,
                storage=self.offline,
                source=f"push:{push_source}",
                compute=compute_rows_python,
                publish=to != "online",
            )
            if to != "offline" and computed.height:
                write_pushed(
                    view,
                    computed,
                    offline=self._scan(view),
                    offline_has_rows=to != "online",
                    online=self.online,
                    project=self.project,
                )
            reports.append(report)
        return reports[0]


def _utc(value: dt.datetime | None, what: str) -> dt.datetime | None:
    if value is None:
        return None
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise RequestError(f"{what} must be a timezone-aware datetime, got {value!r}")
    return value.astimezone(dt.UTC)
