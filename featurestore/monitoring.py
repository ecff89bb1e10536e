"""``Monitor``: the parity half of ``FeatureStore``: serving log, skew check, drift, feedback,
performance.

A ``FeatureStore`` owns one monitor and hands it what it needs (its config, offline store, and
getters for the registry, the online store and the current serving state); the store's public
monitoring methods (``check_skew``, ``drift``, ``performance``, ``log_feedback``...) call it.
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

import polars as pl

from featurestore.config import Config
from featurestore.definitions import FeatureView, OnDemandFeatureView
from featurestore.durations import parse_duration
from featurestore.errors import NotFoundError, RequestError
from featurestore.limits import MAX_WINDOW, quote
from featurestore.offline.inputs import to_frame
from featurestore.offline.recompute import Recomputed
from featurestore.offline.storage import OfflineStore
from featurestore.online import LogBuffer
from featurestore.online.encoding import unpack_value
from featurestore.parity import (
    DriftReport,
    DriftThresholds,
    PerformanceReport,
    drift_report,
    performance_report,
)
from featurestore.parity.log import ServingLogger
from featurestore.parity.logstore import flush_serving_log, read_serving_log
from featurestore.parity.skew import SkewReport, check_skew
from featurestore.registry import Registry
from featurestore.serving import OnlineResponse, ServingState, is_request_id
from featurestore.serving.requestids import request_arm
from featurestore.serving.rollouts import decode_arm

log = logging.getLogger("featurestore.monitoring")

__all__ = ["Monitor", "parse_window"]

#: samplings queued by Monitor.defer before it runs them itself: a bound only, as the server
#: runs them at its next request or within milliseconds (queued, they hold answers alive)
_MAX_DEFERRED = 1000


def parse_window(window: str | dt.timedelta) -> dt.timedelta:
    """``"1d"``, ``"6h"``, ``"30m"``, ``"45s"``, ``"2w"`` or a timedelta, longer than zero and
    at most :data:`~featurestore.limits.MAX_WINDOW` (reports step through time window by
    window; a wider window would step past the calendar).

    Raises:
        RequestError: anything else.
    """
    width = parse_duration(window, "window")
    if not dt.timedelta(0) < width <= MAX_WINDOW:
        raise RequestError(
            f"window {quote(window)} must be longer than 0s and at most {MAX_WINDOW.days}d"
        )
    return width


def _kind(value: Any, what: str) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
        return "number"
    if isinstance(value, str):
        return "string"
    raise RequestError(f"{what} must be a number, a bool or a string, got {quote(value)}")


class Monitor:
    """Watches parity after training: samples what is served, checks skew, drift, performance.

    Args:
        config: the store's configuration (``serving.skew_sample_rate``, buffer size).
        offline: the offline store (the flushed serving log, saved datasets, recomputation).
        registry: returns the registry (reports, feedback, materialization runs).
        log_buffer: returns the online store's serving-log buffer.
        state: returns the current serving state (definitions and versions in force).
        recompute: the skew check's offline recomputation of a view's sampled values (the
            store's compute engine, bucket by bucket).
        saved_dataset: a saved training frame by name.
        version_lookups: for the skew check, the version of a view in force at a time and the
            definition of a view at a version (``in_force`` and ``definition``).
    """

    def __init__(
        self,
        *,
        config: Config,
        offline: OfflineStore,
        registry: Callable[[], Registry],
        log_buffer: Callable[[], LogBuffer],
        state: Callable[[], ServingState],
        recompute: Callable[..., Recomputed],
        saved_dataset: Callable[[str], pl.DataFrame],
        version_lookups: Callable[[], dict[str, Any]],
    ) -> None:
        self.config = config
        self.offline = offline
        self._registry = registry
        self._log_buffer = log_buffer
        self._state = state
        self._recompute = recompute
        self._saved_dataset = saved_dataset
        self._version_lookups = version_lookups
        self._serving_logger: ServingLogger | None = None
        self._feedback_kinds: dict[str, str] | None = None
        self._deferred: collections.deque[Callable[[], None]] = collections.deque()

    @property
    def registry(self) -> Registry:
        return self._registry()

    # -- serving log --------------------------------------------------------------------------
    @property
    def serving_logger(self) -> ServingLogger:
        """The sampler of served rows (``serving.skew_sample_rate``)."""
        if self._serving_logger is None:
            self._serving_logger = ServingLogger(
                self._log_buffer,
                rate=self.config.serving.skew_sample_rate,
                maxlen=self.config.serving.log_buffer_size,
            )
        return self._serving_logger

    def log_served(self, response: OnlineResponse, state: ServingState) -> None:
        """Sample an answer into the serving log (never raises, never blocks); a shadow
        rollout's candidate answer riding on it is logged whole.

        The server calls it after the answer is sent, so a failure here (the logger's set-up,
        its shipping thread failing to start) is logged and dropped: it must not turn an
        answered request into an error."""
        try:
            if self.config.serving.skew_sample_rate > 0:
                self.serving_logger.log(response, state.view_versions)
            if response.shadow is not None:
                self.serving_logger.log(
                    response.shadow, state.view_versions, shadow=True, served=response
                )
        except Exception:
            log.exception("could not sample an answer into the serving log")

    def defer(self, sample: Callable[[], None]) -> None:
        """Queue a sampling (a :meth:`log_served` call) for :meth:`log_deferred`.

        The feature server sends an answer first and samples it while its event loop waits on
        the next request's online read (see
        :class:`~featurestore.server.routes.serving.OnlineFastPath`); a flush or a close
        samples whatever is still queued first, so no answer sent goes unsampled.
        """
        self._deferred.append(sample)
        if len(self._deferred) > _MAX_DEFERRED:  # nobody drains: sample now, never drop
            self.log_deferred()

    @property
    def has_deferred(self) -> bool:
        """Whether samplings wait for :meth:`log_deferred`."""
        return bool(self._deferred)

    def log_deferred(self) -> None:
        """Run the queued samplings (each once, whichever thread gets it; none raises)."""
        pop = self._deferred.popleft
        while True:
            try:
                sample = pop()
            except IndexError:
                return
            sample()

    def close(self, *, ship: bool) -> None:
        """Stop the shipping thread, first shipping queued samples when ``ship``."""
        if ship:
            self.log_deferred()
        self._deferred.clear()
        if self._serving_logger is not None:
            if ship:
                self._serving_logger.ship()
            self._serving_logger.close()
            self._serving_logger = None

    def flush_serving_log(self) -> int:
        """Move sampled rows (this process's queue and the online buffer) to the offline store."""
        self.log_deferred()
        return flush_serving_log(
            self._log_buffer(), self.offline, self.registry, self._serving_logger
        )

    def serving_log(
        self,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        *,
        shadow: bool = False,
    ) -> pl.DataFrame:
        """The flushed serving log, one row per served value (with ``shadow``: the values a
        shadow rollout computed beside them instead)."""
        return read_serving_log(self.offline, since, until, shadow=shadow)

    # -- skew -----------------------------------------------------------------------------------
    def check_skew(
        self,
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        max_examples: int = 5,
        record: bool = True,
    ) -> SkewReport:
        """Recompute every sampled served value offline and classify the differences.

        Flushes pending samples first; records the report in the registry.

        Args:
            since: only samples requested at or after.
            until: only samples requested before.
            max_examples: examples kept per feature (the UI's drill-down asks for all of them).
            record: store the report in the registry (and raise its alerts).
        """
        self.flush_serving_log()
        defs = self._state().definitions
        views = {n: d for (k, n), d in defs.items() if isinstance(d, FeatureView)}
        odfvs = {n: d for (k, n), d in defs.items() if isinstance(d, OnDemandFeatureView)}
        report = check_skew(
            self.serving_log(since, until),
            views=views,
            on_demand=odfvs,
            recompute=self._recompute,
            materialized=self.registry.materialization_seqs,
            checked_at=until if not record else None,
            max_examples=max_examples,
            **self._version_lookups(),
        )
        if record:
            self.registry.add_report("skew", report.to_dict())
        return report

    # -- drift ----------------------------------------------------------------------------------
    def _frame(self, source: Any, what: str) -> tuple[pl.DataFrame, str]:
        if isinstance(source, str):
            return self._saved_dataset(source), source
        return to_frame(source, what), f"{what} frame"

    def _served_frame(
        self, names: Sequence[str], since: dt.datetime | None, until: dt.datetime | None
    ) -> pl.DataFrame:
        self.flush_serving_log()
        log = self.serving_log(since, until).filter(pl.col("requested"))
        columns: dict[str, pl.Series] = {}
        for (view, feature), part in log.group_by("view", "feature", maintain_order=True):
            name = f"{view}__{feature}" if f"{view}__{feature}" in names else str(feature)
            values = [unpack_value(v) for v in part.get_column("value")]
            columns[name] = pl.Series(name, values, strict=False)
        samples = log.unique("sample", keep="first", maintain_order=True)
        request = [unpack_value(q) for q in samples.get_column("request_data")]
        for field in sorted({f for r in request for f in r}):
            if field in names:  # request data the model also trained on (a spine column)
                columns[field] = pl.Series(field, [r.get(field) for r in request], strict=False)
        if not columns:
            return pl.DataFrame()
        height = max(len(s) for s in columns.values())
        return pl.DataFrame(
            [
                s.extend_constant(None, height - len(s)) if len(s) < height else s
                for s in columns.values()
            ]
        )

    def drift(
        self,
        *,
        reference: Any,
        current: Any = None,
        features: Sequence[str] | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        thresholds: DriftThresholds | None = None,
    ) -> DriftReport:
        """Compare feature distributions of ``current`` with ``reference``.

        Args:
            reference: a saved training-frame name (``save_as``) or a frame.
            current: the same, or None for the served values in the serving log
                (``since <= requested_at < until``).
            features: the features to compare; None: every feature both sides have.
            thresholds: where each statistic flags (defaults: DESIGN.md §9).
        """
        ref, ref_name = self._frame(reference, "reference")
        if current is None:
            cur, cur_name = self._served_frame(ref.columns, since, until), "serving log"
        else:
            cur, cur_name = self._frame(current, "current")
        if features is None:
            skip = {"event_timestamp", "created_timestamp"} | self._join_keys()
            features = [c for c in ref.columns if c in cur.columns and c not in skip]
            if not features:
                raise RequestError(
                    f"{ref_name!r} and {cur_name!r} share no feature column to compare"
                )
        report = drift_report(
            ref,
            cur,
            features=features,
            reference_name=ref_name,
            current_name=cur_name,
            thresholds=thresholds or DriftThresholds(),
        )
        self.registry.add_report("drift", report.to_dict())
        return report

    def _join_keys(self) -> set[str]:
        return {
            k
            for d in self._state().definitions.values()
            if isinstance(d, FeatureView)
            for k in d.join_keys
        }

    # -- feedback and performance -----------------------------------------------------------------
    def log_feedback(
        self,
        request_id: str,
        *,
        prediction: Any = None,
        label: Any = None,
        timestamp: dt.datetime | str | None = None,
        group: str | None = None,
    ) -> None:
        """Record a model's prediction and/or the ground truth for a served request.

        The prediction and the label may come in two calls; neither is ever stored twice.
        ``group`` tags the request's traffic: ``"control"`` for traffic served without the model
        (:meth:`feedback_loop_report` compares it with the rest); it cannot change once stored.

        Raises:
            NotFoundError: ``request_id`` was not handed out by this store (or has expired).
            RequestError: a value of the wrong type (not a number, bool or string, or not the
                type earlier feedback used), or a timestamp later than now plus
                ``ingestion.max_future``.
            ConflictError: this request already has that prediction or label, or another group.
        """
        if not isinstance(request_id, str) or not request_id:
            raise RequestError("request_id must be the request_id of an online answer")
        if prediction is None and label is None:
            raise RequestError(
                f"feedback for request {quote(request_id)} needs a prediction or a label"
            )
        kinds = self._known_kinds()
        for field, value in (("prediction", prediction), ("label", label)):
            if value is None:
                continue
            kind = _kind(value, field)
            if (
                field in kinds
                and kinds[field] != kind
                and not {kind, kinds[field]} <= {"number", "bool"}
            ):
                raise RequestError(
                    f"{field} {quote(value)} is a {kind}, but earlier feedback gave {field}s as {kinds[field]}s"
                )
        if not is_request_id(self.config.project, request_id):
            raise NotFoundError(
                f"unknown request_id {quote(request_id)}: no online answer carried it"
            )
        self.registry.add_feedback(
            [
                {
                    "request_id": request_id,
                    "prediction": prediction,
                    "label": label,
                    "timestamp": timestamp,
                    "group": group,
                }
            ],
            max_future=self.config.ingestion.max_future,
        )
        for field, value in (("prediction", prediction), ("label", label)):
            if value is not None:
                kinds.setdefault(field, _kind(value, field))

    def _known_kinds(self) -> dict[str, str]:
        if self._feedback_kinds is None:
            kinds: dict[str, str] = {}
            for row in self.registry.feedback():
                for field in ("prediction", "label"):
                    if row[field] is not None and field not in kinds:
                        kinds[field] = _kind(row[field], field)
            self._feedback_kinds = kinds
        return self._feedback_kinds

    def feedback_frame(
        self,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        *,
        arms: bool = False,
    ) -> pl.DataFrame:
        """Recorded feedback: request_id, timestamp, prediction, label, group; with ``arms``,
        also the rollout arm each request id carries: ``arm`` (``"current"``,
        ``"candidate"``, ``"mixed"``; null when no canary served it) and ``arm_slot`` (see
        :func:`featurestore.serving.rollouts.arm_code`)."""
        rows = self.registry.feedback(since=since, until=until)
        frame = pl.DataFrame(
            {
                "request_id": [r["request_id"] for r in rows],
                "timestamp": pl.Series(
                    [r["timestamp"] for r in rows], dtype=pl.Datetime("us", "UTC")
                ),
                "prediction": pl.Series([r["prediction"] for r in rows], strict=False),
                "label": pl.Series([r["label"] for r in rows], strict=False),
                "group": pl.Series([r["group"] for r in rows], dtype=pl.String),
            }
        )
        if not arms:
            return frame
        decoded = [decode_arm(request_arm(self.config.project, r["request_id"]) or 0) for r in rows]
        return frame.with_columns(
            pl.Series("arm", [d and d[1] for d in decoded], dtype=pl.String),
            pl.Series("arm_slot", [d and d[0] for d in decoded], dtype=pl.Int64),
        )

    def performance(
        self,
        window: str | dt.timedelta = "1d",
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        reference: Any = None,
        task: str | None = None,
        threshold: float = 0.5,
    ) -> PerformanceReport:
        """Model performance per time window from feedback, with label/prediction drift and the
        times ADWIN and DDM fired on the error stream.

        Args:
            window: the window width (``"1d"``, ``"6h"``... or a timedelta).
            reference: feedback-like frame (or saved dataset with ``label`` and optionally
                ``prediction`` columns) giving the reference class distributions; None: the
                first window.
        """
        width = parse_window(window)
        frame = self.feedback_frame(since, until)
        if frame.height == 0:
            raise NotFoundError("no feedback recorded yet: send predictions and labels first")
        ref = None
        if reference is not None:
            ref, _ = self._frame(reference, "reference")
            for column in ("timestamp", "prediction", "label"):
                if column not in ref.columns:
                    ref = ref.with_columns(pl.lit(None).alias(column))
        report = performance_report(
            frame,
            window=width,
            task=task,  # type: ignore[arg-type]
            threshold=threshold,
            reference=ref,
        )
        self.registry.add_report("performance", report.to_dict())
        return report
