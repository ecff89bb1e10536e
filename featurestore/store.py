"""``FeatureStore``: the facade users call. It wires definitions, registry, stores and jobs.

Serving state is built aside and swapped whole (:class:`~featurestore.serving.ServingState`).
The store owns one part per job and its facade methods call them: data coming in
(:class:`~featurestore.writes.Writes`), training frames (:class:`~featurestore.datasets.Datasets`),
parity monitoring (:class:`~featurestore.monitoring.Monitor`), retraining policies and feedback
loops (:class:`~featurestore.acting.Acting`) and rollouts (:class:`~featurestore.rollouts.Rollouts`).
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
)
from featurestore.definitions.columns import check_view_columns, known_columns
from featurestore.definitions.references import check_references
from featurestore.monitoring import Monitor, parse_window
from featurestore.offline.bucketed import ViewLayout
from featurestore.offline.compute import view_rows
from featurestore.offline.inputs import file_columns
from featurestore.offline.recompute import Recomputed
from featurestore.offline.storage import OfflineStore
from featurestore.online import OnlineBackend, open_online_store
from featurestore.parity.log import ServingLogger
from featurestore.registry import ObjectSpec, Plan, Registry
from featurestore.registry.dryrun import dry_plan
from featurestore.repo import collect, load_repo
from featurestore.resolve import Resolved
from featurestore.serving import OnlineResponse, Request, ServingState, answer, answer_async
from featurestore.writes import Writes

if TYPE_CHECKING:
    from featurestore.acting import Acting
    from featurestore.parity.decisions import PolicyDecision
    from featurestore.parity.drift import DriftThresholds
    from featurestore.parity.feedback_loops import FeedbackLoopReport, FeedbackLoopThresholds
    from featurestore.rollouts import RolloutRecord, RolloutReport, Rollouts

__all__ = ["FeatureStore"]

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
        self.writes = Writes(self)
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

    def list_feature_views(self) -> list[FeatureView]:
        """Every registered feature view."""
        return self.state.feature_views()

    def _resolve(
        self, features: Sequence[str] | None, service: str | None, full_feature_names: bool
    ) -> Resolved:
        return self.state.resolve(features, service, full_feature_names)

    # -- data coming in (the store's Writes answer; the docstrings are its own) -----------------
    ingest = _delegate("writes", Writes.ingest)
    quarantined = _delegate("writes", Writes.quarantined)
    contract_reports = _delegate("writes", Writes.contract_reports)
    push = _delegate("writes", Writes.push)
    materialize = _delegate("writes", Writes.materialize)
    write_to_online_store = _delegate("writes", Writes.write_to_online_store)

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

    def rows_for(self, view: FeatureView, keys: pl.DataFrame) -> pl.LazyFrame | None:
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
        version: int,
        *,
        stage: Literal["shadow", "canary"] = "shadow",
        fraction: float = 0.1,
        sample: float = 0.01,
    ) -> RolloutRecord:
        """Roll out ``version`` of ``view``: in ``"shadow"``, serving also computes the
        candidate for a ``sample`` of requests and logs it without serving it; in ``"canary"``,
        the entities whose key hash falls in ``fraction`` are served the candidate (always the
        same ones). Both versions' online values are kept apart until :meth:`promote_rollout`
        or :meth:`abort_rollout`. Called again with the same version, it changes the stage,
        fraction or sample. Rules: :mod:`featurestore.rollouts`. (``version`` may come by
        position, as DESIGN.md §15 writes the call.)
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
