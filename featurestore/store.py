"""``FeatureStore``: the facade users call. It wires definitions, registry, stores and jobs.

Serving state is built aside and swapped whole (:class:`~featurestore.serving.ServingState`);
parity monitoring is a :class:`~featurestore.monitoring.Monitor` the store owns.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, Literal, ParamSpec, TypeVar

import polars as pl

from featurestore.alerts import Alerts
from featurestore.compute import Engine
from featurestore.config import Config, load_config
from featurestore.datasets import Datasets, version_lookups
from featurestore.definitions import (
    FeatureService,
    FeatureView,
    FileSource,
    OnDemandFeatureView,
    PushSource,
)
from featurestore.definitions.columns import check_view_columns, known_columns
from featurestore.definitions.references import check_references
from featurestore.errors import NotFoundError, RequestError
from featurestore.limits import check_time, quote
from featurestore.materialize import lost_data, materialize_view, write_pushed
from featurestore.monitoring import Monitor, parse_window
from featurestore.offline.bucketed import ViewLayout
from featurestore.offline.compute import compute_rows_python, view_rows
from featurestore.offline.ingest import ingest_frame
from featurestore.offline.inputs import file_columns, read_file, read_sql, to_frame
from featurestore.offline.recompute import Recomputed
from featurestore.offline.storage import OfflineStore
from featurestore.online import OnlineBackend, open_online_store
from featurestore.online.marker import write_marker
from featurestore.parity.log import ServingLogger
from featurestore.registry import ObjectSpec, Plan, Registry
from featurestore.registry.dryrun import dry_plan
from featurestore.repo import collect, load_repo
from featurestore.reports import IngestReport, MaterializeReport, iso
from featurestore.resolve import Resolved
from featurestore.serving import OnlineResponse, Request, ServingState, answer, answer_async

if TYPE_CHECKING:
    from featurestore.acting import Acting
    from featurestore.parity.decisions import PolicyDecision
    from featurestore.parity.drift import DriftThresholds
    from featurestore.parity.feedback_loops import FeedbackLoopReport, FeedbackLoopThresholds
    from featurestore.rollouts import RolloutRecord, RolloutReport, Rollouts

__all__ = ["FeatureStore"]

PushTarget = Literal["online", "offline", "online_and_offline"]
P = ParamSpec("P")
R = TypeVar("R")


def _delegate(
    owner: str, method: Callable[Concatenate[Any, P], R]
) -> Callable[Concatenate[FeatureStore, P], R]:
    """A ``FeatureStore`` method that calls the same method of the part it owns in attribute
    ``owner`` (same signature and docstring)."""

    def call(self: FeatureStore, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return method(getattr(self, owner), *args, **kwargs)

    return functools.update_wrapper(call, method)


class FeatureStore:
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
        self.offline = OfflineStore(
            self.config.offline_root(), self.project, self.config.offline.storage_options
        )
        self._registry: Registry | None = None
        self._engine: Engine | None = None
        self._online: OnlineBackend | None = None
        self._state: ServingState | None = None
        self.monitor = Monitor(
            config=self.config,
            offline=self.offline,
            registry=lambda: self.registry,
            log_buffer=lambda: self.online,
            state=lambda: self.state,
            recompute=self._skew_values,
            saved_dataset=lambda name: self.datasets.get_saved_dataset(name),
            version_lookups=lambda: version_lookups(self),
        )
        self.datasets = Datasets(self)
        self._acting: Acting | None = None
        self._rollouts: Rollouts | None = None
        self._alerts: Alerts | None = None

    # -- plumbing -----------------------------------------------------------------------------
    @property
    def registry(self) -> Registry:
        """The registry (opened on first use)."""
        if self._registry is None:
            self._registry = Registry(
                self.config.sqlalchemy_url(self.config.registry), self.project
            )
            if self.alerts is not None:  # every recorded report and run may raise an alert
                self._registry.add_listener(self.alerts.on_record)
        return self._registry

    @property
    def engine(self) -> Engine:
        """Where per-bucket jobs run (``[compute] engine``): this process, or Ray tasks."""
        if self._engine is None:
            from featurestore.compute import open_engine

            compute = self.config.compute
            self._engine = open_engine(compute.engine, compute.ray_address, compute.workers)
        return self._engine

    @property
    def alerts(self) -> Alerts | None:
        """The ``[[alerts]]`` webhooks' deliveries (None when none are configured)."""
        if self._alerts is None and self.config.alerts:
            self._alerts = Alerts(self.config.alerts, self.project, lambda: self.registry)
        return self._alerts

    @property
    def online(self) -> OnlineBackend:
        """The online store (opened on first use; Redis is contacted at the first call)."""
        if self._online is None:
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
        self.monitor.close(ship=self._online is not None)
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

    @property
    def state(self) -> ServingState:
        """The definitions in force and what serving derives from them (read from the registry
        on first use; :meth:`refresh` replaces it whole)."""
        state = self._state
        if state is None:
            state = self._state = self._build_state()
        return state

    def refresh(self) -> None:
        """Read the definitions from the registry again.

        The new :class:`~featurestore.serving.ServingState` is built aside and swapped in whole:
        requests meanwhile (other threads, a server's event loop) are answered from the old one
        and never wait for the registry.
        """
        self._state = self._build_state()

    def _build_state(self) -> ServingState:
        return ServingState.build(
            self.registry.list(),
            project=self.project,
            max_entities=self.config.serving.max_entities,
            rollouts=self.rollout_steps.serving(),
        )

    # -- definitions --------------------------------------------------------------------------
    def apply(self, objects: Sequence[object] | None = None, *, dry_run: bool = False) -> Plan:
        """Register definitions, printing nothing; returns the plan (added/changed/unchanged/removed).

        Args:
            objects: definitions to add or update (others stay). None loads every definition
                file of the repo and makes the registry match it exactly (removals included).
            dry_run: only plan.
        """
        partial = objects is not None
        defs = collect(list(objects)) if objects is not None else load_repo(self.repo_path)
        state = dict(self.state.definitions) if partial else {}
        state |= {(d.kind, d.name): d for d in defs}
        check_references(state)
        for definition in defs:
            if isinstance(definition, FeatureView):
                self._check_columns(definition)
        specs = [ObjectSpec(d.kind, d.name, d.to_spec()) for d in defs]
        if dry_run and self._registry is None:  # opening the registry would migrate it
            url = self.config.sqlalchemy_url(self.config.registry, create_folder=False)
            return dry_plan(url, self.project, specs, partial=partial)
        specs = self.rollout_steps.keep_candidates(specs)  # a candidate waits for promote
        plan = self.registry.apply(specs, partial=partial, dry_run=dry_run)
        if not dry_run:
            self.refresh()
        return plan

    def _check_columns(self, view: FeatureView) -> None:
        """Refuse a view that names a column its source lacks (DESIGN §3), before storing it."""
        source = view.source
        header = None
        if isinstance(source, FileSource):
            path = Path(source.path)
            header = file_columns(
                path if path.is_absolute() else self.repo_path / path, source.file_format
            )
        check_view_columns(view, known_columns(view, header))

    def get_feature_view(self, name: str) -> FeatureView:
        """A registered feature view by name.

        Raises:
            NotFoundError: there is none.
        """
        obj = self.state.get("feature_view", name, "feature view")
        assert isinstance(obj, FeatureView)
        return obj

    def get_feature_service(self, name: str) -> FeatureService:
        """A registered feature service by name.

        Raises:
            NotFoundError: there is none.
        """
        return self.state.service(name)

    def _view_or_odfv(self, name: str) -> FeatureView | OnDemandFeatureView:
        return self.state.view_or_on_demand(name)

    def list_feature_views(self) -> list[FeatureView]:
        """Every registered feature view."""
        return self.state.feature_views()

    def _resolve(
        self, features: Sequence[str] | None, service: str | None, full_feature_names: bool
    ) -> Resolved:
        return self.state.resolve(features, service, full_feature_names)

    # -- ingestion ----------------------------------------------------------------------------
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
        fv = self.get_feature_view(view) if isinstance(view, str) else view
        frame, label = self._read_batch(fv, data, query, url)
        report, _ = ingest_frame(
            fv,
            frame,
            registry=self.registry,
            storage=self.offline,
            source=label,
            force=force,
            max_future=self.config.ingestion.max_future,
            buckets=self.config.offline.buckets,
            engine=self.engine,
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
        files, _ = self.registry.committed_files(view, "quarantine")
        return read_quarantine(
            [(f.path, f.run_id) for f in files if run_id is None or f.run_id == run_id],
            read=self.offline.read,
        )

    def contract_reports(
        self, view: str | None = None, limit: int | None = None
    ) -> list[IngestReport]:
        """Every recorded ingestion run (newest first), optionally of one view."""
        return [IngestReport.from_dict(r) for r in self.registry.ingestion_reports(view, limit)]

    # -- training frames (the store's Datasets answer; the docstrings are its own) -------------
    get_training_frame = _delegate("datasets", Datasets.get_training_frame)
    reproduce_dataset = _delegate("datasets", Datasets.reproduce_dataset)
    get_saved_dataset = _delegate("datasets", Datasets.get_saved_dataset)

    # -- reading the offline store ------------------------------------------------------------
    def _scan(self, view: FeatureView, *, upto: int | None = None) -> pl.LazyFrame | None:
        """``view``'s rows computed at read from its committed source rows (``upto``: only
        batches committed at or before that commit number)."""
        files, _ = self.registry.committed_files(view.name, upto=upto)
        source = self.offline.scan([f.path for f in files])
        return None if source is None else view_rows(view, source)

    def layout(self, view: FeatureView, *, upto: int | None = None) -> ViewLayout:
        """``view``'s committed files by bucket (``upto``: batches committed at or before that
        commit number), what the per-bucket jobs read."""
        files, _ = self.registry.committed_files(view.name, upto=upto)
        buckets = self.registry.view_buckets(view.name)
        pairs = [(f.path, f.bucket) for f in files]
        return ViewLayout.of(self.offline.location, view, buckets, pairs)

    def _skew_values(
        self,
        view: FeatureView,
        spine: pl.DataFrame,
        plain: list[str],
        aggs: list[str],
        seqs: Mapping[dt.datetime, int],
    ) -> Recomputed:
        """The skew check's recomputation of ``view``'s sampled values, bucket by bucket on
        the compute engine."""
        from featurestore.compute.jobs import skew_values

        return skew_values(self.engine, self.layout(view), spine, plain, aggs, seqs)

    def _rows_for(self, view: FeatureView, keys: pl.DataFrame) -> pl.LazyFrame | None:
        """The rows of ``view`` of some entities only: their buckets, filtered on their keys."""
        layout = self.layout(view)
        if layout.schema is None:
            return None
        parts = [
            layout.bucket(bucket).rows(view, keys=part)
            for bucket, part in layout.split(keys.select(view.join_keys)).items()
        ]
        frames = [p for p in parts if p is not None]
        return pl.concat(frames) if frames else None

    # -- online -------------------------------------------------------------------------------
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
        limit = now + self.config.ingestion.max_future
        if end > limit:
            raise RequestError(
                f"end {iso(end)} is later than now plus ingestion.max_future ({iso(limit)}): "
                "values as of a future time would pin every window and block later runs"
            )
        chosen = [self.get_feature_view(v) for v in views] if views else self.list_feature_views()
        online_views = [v for v in self.list_feature_views() if v.online]
        reloaded = lost_data(
            self.online,
            project=self.project,
            materialized=lambda: any(self.registry.watermark(v.name) for v in online_views),
        )
        if reloaded:
            chosen = online_views
        written: dict[str, int] = {}
        for view in chosen:
            if not view.online:
                continue
            version = self.state.versions[("feature_view", view.name)]
            # after a definition change (or a lost store) every entity is rewritten
            incremental = (
                not reloaded
                and start is None
                and self.registry.materialized_version(view.name) == version
            )
            since = start if not incremental else self.registry.watermark(view.name)
            tick = (lambda n, i, t, v=view.name: progress(v, n, i, t)) if progress else None
            written[view.name], seen_seq = materialize_view(
                self.layout(view),
                engine=self.engine,
                online=self.online,
                project=self.project,
                start=since,
                end=end,
                last_seq=self.registry.materialized_seq(view.name) if incremental else None,
                progress=tick,
                view_version=version,
            )
            self.registry.record_materialization(
                view.name, since, end, written[view.name], last_seq=seen_seq, view_version=version
            )
        self.rollout_steps.materialize(list(written), end=end)  # candidates keep up
        write_marker(self.online, project=self.project)
        return MaterializeReport(
            views=written, rows=sum(written.values()), watermark=end, start=start, reloaded=reloaded
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
        """Online features for a batch of entities, in one online-store round trip.

        Args:
            features: ``"view:feature"`` references (or give ``service``).
            service: a feature service name.
            entities: join key -> one value per entity.
            request_data: request-data fields of on-demand features (one value per entity, or
                one for all).
            full_feature_names: name features ``view__feature``.

        Returns:
            The answer, read-only (sampled into the serving log like an HTTP answer).

        Raises:
            RequestError, NotFoundError: a bad request, or one naming something unknown.
            StoreUnavailableError: the online store does not answer.
        """
        request = _request(features, service, entities, request_data, full_feature_names)
        state = self.state
        response = answer(state, request, self.online)
        self.monitor.log_served(response, state)
        return response

    async def get_online_features_async(
        self,
        features: Sequence[str] | None = None,
        *,
        service: str | None = None,
        entities: Mapping[str, Sequence[Any]],
        request_data: Mapping[str, Any] | None = None,
        full_feature_names: bool = False,
    ) -> OnlineResponse:
        """:meth:`get_online_features` for an event loop: the round trip is awaited
        (``OnlineStore.aread``), so the loop serves other requests meanwhile where the store can
        (a standalone Redis)."""
        request = _request(features, service, entities, request_data, full_feature_names)
        state = self.state
        response = await answer_async(state, request, self.online)
        self.monitor.log_served(response, state)
        return response

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
        views = [
            v
            for v in self.list_feature_views()
            if isinstance(v.source, PushSource) and v.source.name == push_source
        ]
        if not views:
            raise NotFoundError(f"no feature view reads push source {quote(push_source)}")
        frame = to_frame(rows, f"rows pushed to {quote(push_source)}")
        reports: list[IngestReport] = []
        for view in views:
            report, stored = ingest_frame(
                view,
                frame,
                registry=self.registry,
                storage=self.offline,
                source=f"push:{push_source}",
                publish=to != "online",
                max_future=self.config.ingestion.max_future,
                buckets=self.config.offline.buckets,
                engine=self.engine,
            )
            if to != "offline" and stored.height:
                write_pushed(
                    view,
                    compute_rows_python(view, stored),
                    offline=self._rows_for(view, stored),
                    offline_has_rows=to != "online",
                    online=self.online,
                    project=self.project,
                    view_version=self.state.view_versions.get(view.name, 0),
                )
            reports.append(report)
        return reports[0]

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
            self.get_feature_view(view),
            data,
            online=self.online,
            project=self.project,
            view_version=self.state.view_versions.get(view, 0),
            max_future=self.config.ingestion.max_future,
        )

    # -- parity monitoring (the monitor's work) -------------------------------------------------
    @property
    def serving_logger(self) -> ServingLogger:
        """The sampler of served rows (``serving.skew_sample_rate``)."""
        return self.monitor.serving_logger

    # One definition each, in Monitor (the store's monitor answers; the docstrings are its own).
    flush_serving_log = _delegate("monitor", Monitor.flush_serving_log)
    serving_log = _delegate("monitor", Monitor.serving_log)
    check_skew = _delegate("monitor", Monitor.check_skew)
    drift = _delegate("monitor", Monitor.drift)
    log_feedback = _delegate("monitor", Monitor.log_feedback)
    feedback_frame = _delegate("monitor", Monitor.feedback_frame)
    performance = _delegate("monitor", Monitor.performance)

    # -- acting on it: retraining policies, feedback loops (DESIGN.md §15) ----------------------
    @property
    def acting(self) -> Acting:
        """Retraining policies and feedback loops (:mod:`featurestore.acting`)."""
        if self._acting is None:
            from featurestore.acting import Acting

            self._acting = Acting(self)
        return self._acting

    def evaluate_policies(self, now: dt.datetime | None = None) -> list[PolicyDecision]:
        """Evaluate every applied ``RetrainPolicy`` at ``now`` (default: now) and record each
        decision in the decision log; a decision to retrain raises the ``retrain`` alert
        (``[[alerts]]`` webhooks subscribed to it).

        The rules (age, performance, drift, prediction drift, cooldown) are in
        :mod:`featurestore.parity.policies`.
        """
        return self.acting.evaluate_policies(now)

    def policy_decisions(
        self,
        policy: str | None = None,
        *,
        retrain: bool | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int | None = None,
    ) -> list[PolicyDecision]:
        """The decision log, newest first (optionally one policy's, only retrains, a span)."""
        from featurestore.parity.decisions import PolicyDecision

        rows = self.registry.decisions(
            policy, retrain=retrain, since=since, until=until, limit=limit
        )
        return [PolicyDecision.from_dict(row) for row in rows]

    def feedback_loop_report(
        self,
        window: str | dt.timedelta = "1d",
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        control: str = "control",
        thresholds: FeedbackLoopThresholds | None = None,
    ) -> FeedbackLoopReport:
        """Is the model shaping its own data? Per window: entities served, prediction diversity
        and its trend, outcomes per feedback group with a z-test of ``control`` against the rest,
        and flags for narrowing and diverging (rules in :mod:`featurestore.parity.feedback_loops`).
        """
        return self.acting.feedback_loop_report(
            parse_window(window), since=since, until=until, control=control, thresholds=thresholds
        )

    # -- rollouts of a view version: shadow -> canary -> full (DESIGN.md §15) -------------------
    @property
    def rollout_steps(self) -> Rollouts:
        """Rollouts of view versions (:mod:`featurestore.rollouts`)."""
        if self._rollouts is None:
            from featurestore.rollouts import Rollouts

            self._rollouts = Rollouts(self)
        return self._rollouts

    def start_rollout(
        self,
        view: str,
        *,
        version: int,
        stage: Literal["shadow", "canary"] = "shadow",
        fraction: float = 0.1,
        sample: float = 0.01,
    ) -> RolloutRecord:
        """Roll out ``version`` of ``view``: in ``"shadow"``, serving also computes the
        candidate for a ``sample`` of requests and logs it without serving it; in ``"canary"``,
        the entities whose key hash falls in ``fraction`` are served the candidate (always the
        same ones). Both versions' online values are kept apart until :meth:`promote_rollout`
        or :meth:`abort_rollout`. Called again with the same version, it changes the stage,
        fraction or sample. Rules: :mod:`featurestore.rollouts`.
        """
        return self.rollout_steps.start(
            view, version=version, stage=stage, fraction=fraction, sample=sample
        )

    def promote_rollout(self, view: str) -> RolloutRecord:
        """Make the rolled-out version the version in force and its values the served ones."""
        return self.rollout_steps.promote(view)

    def abort_rollout(self, view: str) -> RolloutRecord:
        """Stop the rollout of ``view``: the baseline stays in force, the candidate's values go."""
        return self.rollout_steps.abort(view)

    def rollout_report(
        self, view: str, *, thresholds: DriftThresholds | None = None
    ) -> RolloutReport:
        """Compare the arms of ``view``'s rollout: value differences (shadow), drift between the
        arms and performance per arm from feedback (:mod:`featurestore.parity.rollout_report`)."""
        return self.rollout_steps.report(view, thresholds=thresholds)

    def rollouts(self, view: str | None = None) -> list[RolloutRecord]:
        """Every rollout (of ``view``), newest first."""
        return self.rollout_steps.list(view)


def _request(
    features: Sequence[str] | None,
    service: str | None,
    entities: Mapping[str, Sequence[Any]],
    request_data: Mapping[str, Any] | None,
    full_feature_names: bool,
) -> Request:
    return Request(
        features=features,
        service=service,
        entities=entities,
        request_data=request_data,
        full_feature_names=full_feature_names,
    )


def _utc(value: dt.datetime | None, what: str) -> dt.datetime | None:
    if value is None:
        return None
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise RequestError(f"{what} must be a timezone-aware datetime, got {quote(value)}")
    return value.astimezone(dt.UTC)
