"""The skew check: recompute every logged served value offline and classify the difference.

For each sampled entity row the logged request time is a spine row; the training-frame rule gives
what offline knew at that time. Each served value is then:

- ``match``: the same event and the same value (floats within 1e-9 relative; NaN equals NaN), or
  nothing on both sides;
- ``stale``: online served an older event than offline knew at that time (materialization lag);
  for a windowed aggregate, the value of its window as of the last materialization, which has
  moved on since; for an on-demand feature, the value its (stale) served inputs give;
- ``missing_online``: offline has a value, serving had none;
- ``missing_offline``: serving had a value offline cannot reproduce (a newer event offline never
  saw, or no offline row at all);
- ``mismatch``: the same event (or the same inputs) gave a different value: real skew;
- ``outdated``: served from an online row that an older view version computed than the one in
  force when it was served (``apply`` changed the view and ``materialize`` has not run since).
  It is not recomputed: the other classes are judged with the version in force at serving time.

An on-demand feature is recomputed twice with the Polars compiler: from the inputs offline knew
and from the inputs that were served. Agreeing with the first is a match; agreeing only with the
second means the transformation is sound and the difference comes from an input, whose class it
takes; agreeing with neither is a mismatch of the transformation itself.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from featurestore.definitions import FeatureView, OnDemandFeatureView, polars_dtype
from featurestore.expr import to_polars
from featurestore.offline.compute import normalise_keys
from featurestore.offline.recompute import END, EVENT, Recomputed
from featurestore.online.encoding import unpack_value
from featurestore.parity.differences import Tally, same_value
from featurestore.reports import html_repr, iso

__all__ = ["CLASSES", "FeatureSkew", "SkewReport", "check_skew"]

CLASSES = ("match", "stale", "missing_online", "missing_offline", "mismatch", "outdated")
#: (view, samples: join keys, event_timestamp and END; plain names; aggregate names;
#: materialization end -> last seq) -> what offline knew (``offline.recompute``)
Recompute = Callable[
    [FeatureView, pl.DataFrame, list[str], list[str], Mapping[dt.datetime, int]], Recomputed
]
#: (view, time) -> the version of the view in force at that time
InForce = Callable[[str, dt.datetime], int]
#: (view, version) -> that version's definition
Definition = Callable[[str, int], FeatureView | OnDemandFeatureView]
Key = tuple[int, str, str]  # (sample, view, feature)


@dataclass(frozen=True)
class FeatureSkew:
    """How the served values of one feature compare with their offline recomputation."""

    view: str
    feature: str
    total: int
    match: int
    stale: int
    missing_online: int
    missing_offline: int
    mismatch: int
    outdated: int
    both_null: int
    online_null: int
    offline_null: int
    mean_abs_diff: float | None
    max_abs_diff: float | None
    smape: float | None
    examples: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "view": self.view,
            "feature": self.feature,
            "total": self.total,
            "match": self.match,
            "stale": self.stale,
            "missing_online": self.missing_online,
            "missing_offline": self.missing_offline,
            "mismatch": self.mismatch,
            "outdated": self.outdated,
            "both_null": self.both_null,
            "online_null": self.online_null,
            "offline_null": self.offline_null,
            "mean_abs_diff": self.mean_abs_diff,
            "max_abs_diff": self.max_abs_diff,
            "smape": self.smape,
            "examples": self.examples,
        }


@dataclass(frozen=True)
class SkewReport:
    """The skew check's answer: per view and feature, counts per class and examples."""

    checked_at: dt.datetime
    samples: int
    features: list[FeatureSkew]

    _repr_html_ = html_repr("skew")

    def to_dict(self) -> dict[str, Any]:
        return {
            "checked_at": iso(self.checked_at),
            "samples": self.samples,
            "features": [f.to_dict() for f in self.features],
        }

    def total(self, cls: str) -> int:
        """The count of one class over every feature."""
        return sum(getattr(f, cls) for f in self.features)

    def __str__(self) -> str:
        lines = [f"skew check at {iso(self.checked_at)}: {self.samples} sampled entity rows"]
        header = f"  {'view:feature':<40} {'total':>7} " + " ".join(f"{c:>15}" for c in CLASSES)
        lines.append(header)
        for f in self.features:
            counts = " ".join(f"{getattr(f, c):>15}" for c in CLASSES)
            lines.append(f"  {f.view + ':' + f.feature:<40} {f.total:>7} {counts}")
        return "\n".join(lines)


def _json(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return iso(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def check_skew(
    log: pl.DataFrame,
    *,
    views: Mapping[str, FeatureView],
    on_demand: Mapping[str, OnDemandFeatureView],
    recompute: Recompute,
    checked_at: dt.datetime | None = None,
    max_examples: int = 5,
    materialized: Callable[[str], Mapping[dt.datetime, int]] | None = None,
    in_force: InForce | None = None,
    definition: Definition | None = None,
) -> SkewReport:
    """Classify every logged served value (see the module docstring).

    Args:
        materialized: view -> {materialization end: last ingestion seq it saw}, so windowed
            aggregates are recomputed exactly as the run that served them computed them.
        in_force: the version of a view in force at a time (default: every logged value was
            served under the version it was computed by).
        definition: a view's definition at a version (default: ``views``/``on_demand``).
    """
    checked_at = checked_at or dt.datetime.now(dt.UTC)
    samples = log.unique("sample", keep="first", maintain_order=True)
    keys = {s: unpack_value(k) for s, k in zip(samples["sample"], samples["keys"], strict=True)}
    request = {
        s: unpack_value(q) for s, q in zip(samples["sample"], samples["request_data"], strict=True)
    }
    times = dict(zip(samples["sample"], samples["requested_at"], strict=True))
    served: dict[Key, tuple[Any, str, dt.datetime | None]] = {}
    computed_by: dict[Key, int] = {}
    for row in log.select(
        "sample", "view", "feature", "value", "status", "event_timestamp", "view_version"
    ).iter_rows():
        served[(row[0], row[1], row[2])] = (unpack_value(row[3]), row[4], row[5])
        computed_by[(row[0], row[1], row[2])] = row[6] or 0
    offline: dict[Key, tuple[Any, str]] = {}
    tallies: dict[tuple[str, str], Tally] = {}

    def example(key: Key, cls: str, value: Any, off: Any) -> Callable[[], dict[str, Any]]:
        return lambda: {
            "class": cls,
            "keys": {k: _json(v) for k, v in keys[key[0]].items()},
            "requested_at": iso(times[key[0]]),
            "served": _json(value),
            "offline": _json(off),
            "served_event_timestamp": iso(served[key][2]),
        }

    ctx = _Context(served, offline, tallies, example, max_examples, computed_by)
    for name in log.get_column("view").unique(maintain_order=True):
        if name not in views:
            continue
        logged = log.filter(pl.col("view") == name)
        features = logged.get_column("feature").unique(maintain_order=True).to_list()
        for version, sample_ids in _by_version(name, logged, times, in_force).items():
            view = (
                views[name] if definition is None or version is None else definition(name, version)
            )
            assert isinstance(view, FeatureView)
            ctx.in_force = version
            _recompute(view, features, sample_ids, keys, times, recompute, ctx, materialized)

    for name, odfv in on_demand.items():
        logged = log.filter(pl.col("view") == name)
        for version, sample_ids in _by_version(name, logged, times, in_force).items():
            odv = odfv if definition is None or version is None else definition(name, version)
            assert isinstance(odv, OnDemandFeatureView)
            ctx.in_force = version
            _on_demand(odv, logged.filter(pl.col("sample").is_in(sample_ids)), request, ctx)

    features_out = [
        FeatureSkew(
            view=t.view,
            feature=t.feature,
            total=t.total,
            **t.counts,
            both_null=t.both_null,
            online_null=t.ours_null,
            offline_null=t.theirs_null,
            mean_abs_diff=t.mean_abs_diff,
            max_abs_diff=t.max_abs_diff,
            smape=t.smape,
            examples=t.examples,
        )
        for t in tallies.values()
    ]
    return SkewReport(checked_at=checked_at, samples=samples.height, features=features_out)


def _by_version(
    name: str, logged: pl.DataFrame, times: Mapping[int, dt.datetime], in_force: InForce | None
) -> dict[int | None, list[int]]:
    """The logged samples of one view grouped by the view version in force when served; a
    sample a rollout's canary served is judged by the candidate version that served it."""
    out: dict[int | None, list[int]] = {}
    candidate: dict[int, int] = {}
    if "arm" in logged.columns:
        canary = logged.filter(pl.col("arm") == "candidate")
        candidate = dict(zip(canary["sample"], canary["view_version"], strict=True))
    for sample in logged.get_column("sample").unique(maintain_order=True).to_list():
        version = None if in_force is None else in_force(name, times[sample])
        out.setdefault(candidate.get(sample, version), []).append(sample)
    return out


def _recompute(
    view: FeatureView,
    features: list[str],
    sample_ids: list[int],
    keys: Mapping[int, Mapping[str, Any]],
    times: Mapping[int, dt.datetime],
    recompute: Recompute,
    ctx: _Context,
    materialized: Callable[[str], Mapping[dt.datetime, int]] | None,
) -> None:
    """Recompute one view's served values for some samples with one definition version."""
    known = [f for f in features if f in view.feature_names]
    plain = [f.name for f in view.row_features if f.name in known]
    aggs = [a.name for a in view.aggregates if a.name in known]
    if not plain and not aggs:
        return
    # the served window's end: the event time of the online record (the materialization time)
    first = (None, "", None)
    ends = [ctx.served.get((s, view.name, aggs[0]), first)[2] if aggs else None for s in sample_ids]
    spine = pl.DataFrame(
        {
            **{k: [keys[s].get(k) for s in sample_ids] for k in view.join_keys},
            "event_timestamp": pl.Series(
                [times[s] for s in sample_ids], dtype=pl.Datetime("us", "UTC")
            ),
            END: pl.Series(ends, dtype=pl.Datetime("us", "UTC")),
        },
        strict=False,
    )
    spine = spine.with_columns(*normalise_keys(spine, view.join_keys))
    seqs = materialized(view.name) if materialized else {}
    found = recompute(view, spine, plain, aggs, seqs)
    if found.plain is not None:
        _plain(view, plain, sample_ids, found.plain, ctx)
    if found.now is not None and found.then is not None:
        _windows(view, aggs, sample_ids, found.now, found.then, ctx)


Example = Callable[[Key, str, Any, Any], Callable[[], dict[str, Any]]]


@dataclass
class _Context:
    """What every classifier reads and fills: served values, offline values, tallies."""

    served: dict[Key, tuple[Any, str, dt.datetime | None]]
    offline: dict[Key, tuple[Any, str]]
    tallies: dict[tuple[str, str], Tally]
    example: Example
    limit: int
    computed_by: dict[Key, int]  # the view version of the online row each value came from
    in_force: int | None = None  # the version in force when the samples at hand were served

    def outdated(self, key: Key) -> bool:
        """Whether a served value came from an older version than the one in force."""
        return self.in_force is not None and self.computed_by.get(key, 0) < self.in_force


def _plain(
    view: FeatureView,
    plain: list[str],
    sample_ids: list[int],
    joined: pl.DataFrame,
    ctx: _Context,
) -> None:
    served, offline, tallies = ctx.served, ctx.offline, ctx.tallies
    example, limit = ctx.example, ctx.limit
    events = joined.get_column(EVENT).to_list()
    for feature in plain:
        tally = tallies.setdefault((view.name, feature), Tally(view.name, feature, CLASSES))
        for sample, off, off_event in zip(
            sample_ids, joined.get_column(feature).to_list(), events, strict=True
        ):
            key = (sample, view.name, feature)
            if key not in served:
                continue
            value, status, on_event = served[key]
            if ctx.outdated(key):
                cls = "outdated"
            elif status == "NOT_FOUND":
                cls = "missing_online" if off_event is not None else "match"
            elif off_event is None:
                cls = "match" if status == "OUTSIDE_MAX_AGE" else "missing_offline"
            elif on_event is None or on_event < off_event:
                cls = "stale"
            elif on_event > off_event:
                cls = "missing_offline"
            elif status == "OUTSIDE_MAX_AGE":
                cls = "mismatch"  # same event, yet withheld online and kept offline
            else:
                cls = "match" if same_value(value, off) else "mismatch"
            offline[key] = (off, cls)
            tally.add(cls, value, off, example(key, cls, value, off), limit)


def _windows(
    view: FeatureView,
    aggs: list[str],
    sample_ids: list[int],
    now: pl.DataFrame,
    then: pl.DataFrame,
    ctx: _Context,
) -> None:
    served, offline, tallies = ctx.served, ctx.offline, ctx.tallies
    example, limit = ctx.example, ctx.limit
    for agg in aggs:
        tally = tallies.setdefault((view.name, agg), Tally(view.name, agg, CLASSES))
        columns = zip(
            sample_ids,
            now.get_column(agg).to_list(),
            now.get_column(f"__n_{agg}").to_list(),
            then.get_column(agg).to_list(),
            then.get_column(f"__n_{agg}").to_list(),
            strict=True,
        )
        for sample, v_now, n_now, v_then, n_then in columns:
            key = (sample, view.name, agg)
            if key not in served:
                continue
            value, status, window_end = served[key]
            if ctx.outdated(key):
                cls = "outdated"
            elif status == "NOT_FOUND" or window_end is None:  # no stored window was served
                cls = "missing_online" if n_now else "match"
            elif same_value(value, v_now):
                cls = "match"
            elif same_value(value, v_then):
                cls = "stale"
            elif not n_then:
                cls = "missing_offline"
            else:
                cls = "mismatch"
            offline[key] = (v_now, cls)
            tally.add(cls, value, v_now, example(key, cls, value, v_now), limit)


def _on_demand(
    odfv: OnDemandFeatureView,
    logged: pl.DataFrame,
    request: dict[int, Any],
    ctx: _Context,
) -> None:
    served, offline, tallies = ctx.served, ctx.offline, ctx.tallies
    example, limit = ctx.example, ctx.limit
    sample_ids = logged.get_column("sample").unique(maintain_order=True).to_list()
    inputs_off: dict[str, list[Any]] = {}
    inputs_on: dict[str, list[Any]] = {}
    input_refs: list[list[Key]] = []
    for src in odfv.source_views:
        for feature in src.features:
            refs = [(s, src.name, feature) for s in sample_ids]
            if not all(ref in served for ref in refs):
                continue
            inputs_off[feature] = [offline.get(ref, (None, ""))[0] for ref in refs]
            input_refs.append(refs)
            inputs_on[feature] = [served[ref][0] for ref in refs]
    for req in odfv.request_sources:
        for name, type_name in req.schema.items():
            values = [request[s].get(name) for s in sample_ids]
            series = pl.Series(name, values, dtype=polars_dtype(type_name), strict=False)
            inputs_off[name] = inputs_on[name] = series.to_list()

    def evaluate(columns: dict[str, list[Any]], feature: str) -> list[Any]:
        frame = pl.DataFrame(
            {k: pl.Series(k, v, strict=False) for k, v in columns.items()}, strict=False
        )
        expr = next(f.expr for f in odfv.features if f.name == feature)
        missing = expr.columns() - set(frame.columns)
        if missing:  # an input was not logged: compare against the served inputs only
            return [None] * len(sample_ids)
        compiled = to_polars(expr, schema=frame.schema)
        # with_columns, not select: an all-null input may compile to a literal, broadcast here
        return frame.with_columns(compiled.alias(feature)).get_column(feature).to_list()

    for feature in logged.get_column("feature").unique(maintain_order=True).to_list():
        tally = tallies.setdefault((odfv.name, feature), Tally(odfv.name, feature, CLASSES))
        off_values = evaluate(inputs_off, feature)
        from_served = evaluate(inputs_on, feature)
        for i, (sample, off, replay) in enumerate(
            zip(sample_ids, off_values, from_served, strict=True)
        ):
            key = (sample, odfv.name, feature)
            if key not in served:
                continue
            value = served[key][0]
            if ctx.outdated(key):
                cls = "outdated"
            elif same_value(value, off):
                cls = "match"
            elif same_value(value, replay):
                # the transformation agrees with what was served: the difference is its inputs'
                causes = [offline.get(refs[i], (None, "match"))[1] for refs in input_refs]
                cls = next((c for c in causes if c != "match"), "mismatch")
            else:
                cls = "mismatch"
            tally.add(cls, value, off, example(key, cls, value, off), limit)
