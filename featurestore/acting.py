"""The acting half of ``FeatureStore`` (DESIGN.md §15): retraining policies and feedback loops.

The store owns one :class:`Acting` and its facade methods (``evaluate_policies``,
``feedback_loop_report``) call it; ``policy_decisions`` reads the registry. The algorithms live in
:mod:`featurestore.parity.policies` and :mod:`featurestore.parity.feedback_loops`; this module
only fetches their data from the store and records what they decide.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import polars as pl

from featurestore.definitions import RetrainPolicy, parse_ref
from featurestore.errors import RequestError
from featurestore.parity.decisions import PolicyDecision
from featurestore.parity.feedback_loops import (
    FeedbackLoopReport,
    FeedbackLoopThresholds,
    PredictionKind,
    feedback_loop_report,
)
from featurestore.parity.policies import decide, measure
from featurestore.registry.feedback import CONTROL
from featurestore.reports import as_utc

if TYPE_CHECKING:
    from featurestore.store import FeatureStore

__all__ = ["Acting", "StorePolicyData"]


class StorePolicyData:
    """A policy's data from a store: saved datasets, the serving log and feedback.

    Saved datasets are read once per instance (one instance per evaluation round).
    """

    def __init__(self, store: FeatureStore) -> None:
        self._store = store
        self._references: dict[str, tuple[pl.DataFrame, dt.datetime]] = {}

    def reference(self, name: str) -> tuple[pl.DataFrame, dt.datetime]:
        if name not in self._references:
            record = self._store.registry.get_dataset(name)
            self._references[name] = (
                self._store.offline.read_url(record["path"]),
                record["created_at"],
            )
        return self._references[name]

    def served(
        self, columns: Sequence[str], since: dt.datetime, until: dt.datetime
    ) -> pl.DataFrame:
        return self._store.monitor._served_frame(columns, since, until)

    def feedback(self, since: dt.datetime, until: dt.datetime) -> pl.DataFrame:
        return self._store.feedback_frame(since, until)

    def first_prediction_at(self, since: dt.datetime) -> dt.datetime | None:
        return self._store.registry.first_prediction_at(since)


class Acting:
    """Evaluates the store's retraining policies and reports on feedback loops."""

    def __init__(self, store: FeatureStore) -> None:
        self._store = store

    def policies(self) -> list[RetrainPolicy]:
        """The applied retraining policies, by name."""
        defs = self._store.state.definitions
        return sorted(
            (d for d in defs.values() if isinstance(d, RetrainPolicy)), key=lambda p: p.name
        )

    def evaluate_policies(self, now: dt.datetime | None = None) -> list[PolicyDecision]:
        """Evaluate every policy at ``now`` and record each decision (the registry tells its
        listeners, so a decision to retrain raises the ``retrain`` alert)."""
        store = self._store
        if now is not None and not isinstance(now, dt.datetime):
            raise RequestError(f"now must be a datetime, got {now!r}")
        at = as_utc(now) or dt.datetime.now(dt.UTC)
        data = StorePolicyData(store)
        return [self._evaluate(policy, data, at) for policy in self.policies()]

    def _evaluate(
        self, policy: RetrainPolicy, data: StorePolicyData, at: dt.datetime
    ) -> PolicyDecision:
        store = self._store
        service = store.get_feature_service(policy.service_name)
        features = [parse_ref(ref) for ref in service.refs]
        measured = measure(policy, data, now=at, features=features)
        version = store.state.versions.get(("retrain_policy", policy.name), 1)
        made: list[PolicyDecision] = []

        def make(last: dt.datetime | None) -> dict[str, Any]:
            made.append(decide(policy, measured, version=version, last_retrain_at=last))
            return made[-1].to_dict()

        # Deciding under the registry's lock: two servers on one schedule fire once.
        store.registry.record_decision(policy.name, at, make)
        return made[-1]

    def feedback_loop_report(
        self,
        window: dt.timedelta,
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        control: str = CONTROL,
        thresholds: FeedbackLoopThresholds | None = None,
        predictions: PredictionKind = "auto",
    ) -> FeedbackLoopReport:
        """The feedback-loop report over feedback and the serving log; recorded as a report."""
        store = self._store
        feedback = store.feedback_frame(since, until)
        store.flush_serving_log()
        served = store.serving_log(since, until)
        report = feedback_loop_report(
            feedback,
            served if served.height else None,
            window=window,
            control=control,
            thresholds=thresholds or FeedbackLoopThresholds(),
            predictions=predictions,
        )
        store.registry.add_report("feedback_loop", report.to_dict())
        return report
