"""``Rollouts``: the rollout half of ``FeatureStore`` (DESIGN.md §15): shadow -> canary -> full.

The store owns one :class:`Rollouts`; its facade methods (``start_rollout``, ``promote_rollout``,
``abort_rollout``, ``rollout_report``, ``rollouts``) call it. What each step does:

* **start** (``stage="shadow"`` or ``"canary"``): records the rollout in the registry with the
  baseline (the version served until now) in force, and writes the candidate version's values
  online under its own record (:func:`~featurestore.serving.rollouts.candidate_record`), as of
  now (pushed rows included); both versions' values are then kept apart until the rollout ends.
  Starting again with the same candidate moves the running rollout to another stage, fraction
  or sample. ``materialize`` and ``push`` keep the candidate's values up to date while it runs.
* **promote**: the candidate's values are written over the baseline's (a newer version's row
  replaces an older one's), then the candidate becomes the version in force, then its own
  record is deleted: at every instant an entity is served one version's values.
* **abort**: the baseline stays in force and the candidate's record is deleted: the registry
  and the online store are as they were before the rollout started.

How serving routes a request is :mod:`featurestore.serving.rollouts`; the report's rules are
:mod:`featurestore.parity.rollout_report`.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import polars as pl

from featurestore._faults import fault_point
from featurestore.definitions import FeatureView, from_spec
from featurestore.errors import NotFoundError, RequestError
from featurestore.materialize import materialize_view, write_pushed
from featurestore.offline.compute import compute_rows_python
from featurestore.online import entity_namespace, window_record
from featurestore.parity.drift import DriftThresholds
from featurestore.parity.rollout_report import RolloutReport, rollout_report
from featurestore.registry import ObjectSpec
from featurestore.registry.rollouts import RolloutRecord, keep_candidates, now_utc
from featurestore.serving.rollouts import ServingRollout, candidate_record, rollout_slot

if TYPE_CHECKING:
    from featurestore.store import FeatureStore

__all__ = ["STAGES", "Rollouts"]

STAGES = ("shadow", "canary")


def _share(value: Any, what: str, *, zero: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RequestError(f"{what} must be a number between 0 and 1, got {value!r}")
    share = float(value)
    if not (0.0 <= share <= 1.0) or (share == 0.0 and not zero):
        bound = "0 <= x <= 1" if zero else "0 < x <= 1"
        raise RequestError(f"{what} must be a share ({bound}), got {value!r}")
    return share


class Rollouts:
    """Starts, moves, ends and reports on the rollouts of one store."""

    def __init__(self, store: FeatureStore) -> None:
        self._store = store

    @property
    def _rows(self) -> Any:
        return self._store.registry.rollouts

    # -- what serving needs ---------------------------------------------------------------------
    def serving(self) -> builtins.list[ServingRollout]:
        """The running rollouts, each with its candidate's definition (for a serving state)."""
        out = []
        for record in self._rows.list(running=True):
            stored = self._store.registry.get("feature_view", record.view, record.candidate)
            definition = from_spec("feature_view", stored.spec)
            assert isinstance(definition, FeatureView)
            out.append(
                ServingRollout(
                    id=record.id,
                    view=record.view,
                    baseline=record.baseline_version,
                    candidate=record.candidate,
                    stage=record.stage,
                    fraction=record.fraction,
                    sample=record.sample,
                    definition=definition,
                )
            )
        return out

    def in_force_from(self, view: str) -> dict[int, dt.datetime | None]:
        """When each version of ``view`` that was a rollout's candidate came into force: its
        promotion, or None (never: aborted, or still running). Other versions came into force
        when they were applied."""
        out: dict[int, dt.datetime | None] = {}
        for record in reversed(self._rows.list(view)):  # oldest first: a later promotion wins
            promoted = record.status == "promoted"
            out[record.candidate] = record.ended_at if promoted else out.get(record.candidate)
        return out

    def list(self, view: str | None = None) -> builtins.list[RolloutRecord]:
        """Every rollout (of ``view``), newest first."""
        return list(self._rows.list(view))

    # -- steps ------------------------------------------------------------------------------------
    def start(
        self, view: str, *, version: int, stage: str, fraction: float, sample: float
    ) -> RolloutRecord:
        """Start rolling out ``version`` of ``view`` (see the module docstring).

        Raises:
            NotFoundError: no such view or version.
            RequestError: a bad stage, share or version (not newer than the baseline, other
                entities), or a view never materialized.
            ConflictError: another version of the view is rolling out.
        """
        store = self._store
        if stage not in STAGES:
            raise RequestError(f"stage must be 'shadow' or 'canary', got {stage!r}")
        fraction = _share(fraction, "fraction", zero=False)
        sample = _share(sample, "sample", zero=True)
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise RequestError(f"version must be a positive version number, got {version!r}")
        current = store.get_feature_view(view)
        in_force = store.state.versions[("feature_view", view)]
        running = self._rows.list(view, running=True)
        if running and running[0].candidate == version:
            baseline = running[0].baseline_version
        else:
            baseline = self._baseline(view, version, in_force)
        stored = store.registry.get("feature_view", view, version)
        candidate = from_spec("feature_view", stored.spec)
        assert isinstance(candidate, FeatureView)
        if not candidate.online:
            raise RequestError(
                f"version {version} of view {view!r} is not online: nothing to serve"
            )
        if entity_namespace(e.name for e in candidate.entities) != entity_namespace(
            e.name for e in current.entities
        ) or list(candidate.join_keys) != list(current.join_keys):
            raise RequestError(
                f"version {version} of view {view!r} has other entities than version "
                f"{baseline}: a rollout splits one set of entities between two versions"
            )
        fresh = not running
        record: RolloutRecord = self._rows.start(
            view,
            baseline=baseline,
            candidate=version,
            stage=stage,
            fraction=fraction,
            sample=sample,
            now=now_utc(),
        )
        if fresh:
            self._write_candidate(candidate, version, end=now_utc())
        store.refresh()
        return record

    def _baseline(self, view: str, version: int, in_force: int) -> int:
        """The version served outside a new rollout of ``version``: the one in force, or, when
        ``version`` was just applied (it is in force), the one the online store holds."""
        if version != in_force:
            if version < in_force:
                raise RequestError(
                    f"version {version} of view {view!r} is older than the version in force "
                    f"({in_force}); a rollout brings in a newer version"
                )
            return in_force
        online = self._store.registry.materialized_version(view)
        if online is None or online >= version:
            raise RequestError(
                f"version {version} of view {view!r} is already the version in force and served; "
                "apply the new definition and start its rollout before materializing it"
            )
        return online

    def promote(self, view: str) -> RolloutRecord:
        """Make the candidate the version in force and its values the served ones.

        Raises:
            NotFoundError: no rollout of ``view`` runs.
        """
        store = self._store
        running = self._rows.running(view)
        candidate = self.serving_definition(running)
        end = now_utc()
        # The registry first: from here the candidate is in force, and until its values are
        # written over the view's record the view is as after any definition change not yet
        # materialized (served rows of the older version, `outdated` to the skew check; the
        # next materialize rewrites every entity). Written first, a promote killed before the
        # registry changed left the baseline in force serving the candidate's values, which
        # an abort could not take back (a row of a newer version is never overwritten).
        record: RolloutRecord = self._rows.end(view, promote=True, now=end)
        store.refresh()
        fault_point("promote.ended")
        rows, seq = materialize_view(
            store.layout(candidate),
            engine=store.engine,
            online=store.online,
            project=store.project,
            start=None,
            end=end,
            view_version=running.candidate,
        )
        fault_point("promote.written")
        store.registry.record_materialization(
            view, None, end, rows, last_seq=seq, view_version=running.candidate
        )
        self._drop_candidate(view, running.candidate)
        return record

    def abort(self, view: str) -> RolloutRecord:
        """End the rollout of ``view``: the baseline stays, the candidate's values go.

        Raises:
            NotFoundError: no rollout of ``view`` runs.
        """
        record: RolloutRecord = self._rows.end(view, promote=False, now=now_utc())
        self._store.refresh()
        self._drop_candidate(view, record.candidate)
        return record

    def serving_definition(self, record: RolloutRecord) -> FeatureView:
        """The candidate version's definition of a rollout."""
        stored = self._store.registry.get("feature_view", record.view, record.candidate)
        definition = from_spec("feature_view", stored.spec)
        assert isinstance(definition, FeatureView)
        return definition

    # -- online values ----------------------------------------------------------------------------
    def _write_candidate(self, candidate: FeatureView, version: int, *, end: dt.datetime) -> int:
        store = self._store
        rows, _ = materialize_view(
            store.layout(candidate),
            engine=store.engine,
            online=store.online,
            project=store.project,
            start=None,
            end=end,
            view_version=version,
            record=candidate_record(candidate.name, version),
        )
        return rows

    def materialize(self, views: Sequence[str], *, end: dt.datetime) -> int:
        """Bring the candidates of the running rollouts of ``views`` up to ``end`` (what
        ``materialize`` does after writing the baselines); returns the rows written."""
        written = 0
        for record in self._rows.list(running=True):
            if record.view in views:
                candidate = self.serving_definition(record)
                written += self._write_candidate(candidate, record.candidate, end=end)
        return written

    def push(self, view: str, stored: pl.DataFrame, *, offline_has_rows: bool) -> None:
        """Write pushed rows of ``view`` to its running rollout's candidate too (computed by the
        candidate version), so both arms see a push at once."""
        rollout = self._store.state.rollouts.get(view)
        if rollout is None:
            return
        store = self._store
        candidate = rollout.definition
        write_pushed(
            candidate,
            compute_rows_python(candidate, stored),
            offline=store.rows_for(candidate, stored) if candidate.aggregates else None,
            offline_has_rows=offline_has_rows,
            online=store.online,
            project=store.project,
            view_version=rollout.candidate,
            record=rollout.record,
        )

    def _drop_candidate(self, view: str, version: int) -> None:
        record = candidate_record(view, version)
        online = self._store.online
        online.delete_view(record)
        online.delete_view(window_record(record))

    def keep_candidates(self, specs: builtins.list[ObjectSpec]) -> builtins.list[ObjectSpec]:
        """``apply``'s specs with each view whose running rollout's candidate they equal put
        back to its baseline (the candidate stays a candidate until promoted).

        Raises:
            RequestError: a spec changes a view under rollout to a third definition.
        """
        registry = self._store.registry
        return keep_candidates(
            specs,
            self._rows.list(running=True),
            lambda view, version: registry.get("feature_view", view, version),
        )

    # -- report -------------------------------------------------------------------------------------
    def report(self, view: str, *, thresholds: DriftThresholds | None = None) -> RolloutReport:
        """Compare the arms of the running (else the latest) rollout of ``view``; recorded as a
        ``"rollout"`` report.

        Raises:
            NotFoundError: ``view`` never had a rollout.
        """
        store = self._store
        found = self._rows.list(view)
        if not found:
            raise NotFoundError(f"view {view!r} has no rollout")
        record = found[0]
        since, until = record.started_at, record.ended_at
        store.flush_serving_log()
        feedback = store.feedback_frame(since, until, arms=True)
        slot = rollout_slot(record.id)
        feedback = feedback.with_columns(
            pl.when(pl.col("arm_slot") == slot).then(pl.col("arm")).otherwise(None).alias("arm")
        )
        report = rollout_report(
            record.to_dict(),
            shadow=store.serving_log(since, until, shadow=True),
            served=store.serving_log(since, until),
            feedback=feedback,
            thresholds=thresholds,
        )
        store.registry.add_report("rollout", report.to_dict())
        return report
