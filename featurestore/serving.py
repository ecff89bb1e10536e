"""Online feature retrieval: one online-store round trip, statuses, request-time features.

:func:`start_request` checks a request and works out its reads, the caller reads the online
store (blocking or awaited), :func:`finish_request` applies statuses and ttl and computes the
on-demand features into an :class:`~featurestore.response.OnlineResponse` (Feast's shape; see
:mod:`featurestore.response`). :func:`get_online_features` does all three, blocking.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import polars as pl

from featurestore.definitions import FeatureView, OnDemandFeatureView, polars_dtype
from featurestore.errors import RequestError
from featurestore.expr import to_python
from featurestore.materialize import WINDOW_SUFFIX, entity_name
from featurestore.online import OnlineStore, ReadRequest, ReadResult, encode_entity_keys
from featurestore.online.records import has_null
from featurestore.requestids import new_request_id
from featurestore.resolve import Resolved
from featurestore.response import OnlineResponse, Statuses

__all__ = [
    "OnlineResponse",
    "PendingRequest",
    "Statuses",
    "finish_request",
    "get_online_features",
    "key_types",
    "start_request",
]


def key_types(view: FeatureView) -> dict[str, str]:
    """Join key -> declared type name ("int64"/"str"), from the entity, source schema or contract."""
    out: dict[str, str] = {}
    for entity in view.entities:
        for key in entity.join_keys:
            declared = entity.value_type or (view.source.schema or {}).get(key)
            if declared is None and key in view.contract_columns:
                dtype = view.contract_columns[key]
                if dtype is not None:
                    declared = (
                        "int64" if dtype.is_integer() else "str" if dtype == pl.String else None
                    )
            if declared in ("int64", "str"):
                out[key] = declared
    return out


def _check_entities(
    entities: Mapping[str, Sequence[Any]], keys: list[str], types: dict[str, str], limit: int
) -> int:
    if not isinstance(entities, Mapping) or not entities:
        raise RequestError(
            f"entities must map each join key ({', '.join(keys)}) to a list of values"
        )
    missing = [k for k in keys if k not in entities]
    if missing:
        raise RequestError(f"entities lack join key {missing[0]!r}")
    lengths = set()
    for key in keys:
        values = entities[key]
        if isinstance(values, str | bytes) or not isinstance(values, Sequence):
            raise RequestError(f"entity key {key!r} must be a list of values")
        lengths.add(len(values))
        want = types.get(key)
        for value in values:
            ok = (
                (isinstance(value, int) and not isinstance(value, bool))
                if want == "int64"
                else isinstance(value, str)
                if want == "str"
                else isinstance(value, int | str) and not isinstance(value, bool)
            )
            if not ok:
                kind = {"int64": "an integer", "str": "a string"}.get(
                    want or "", "an integer or a string"
                )
                raise RequestError(f"entity key {key!r} must be {kind}, got {value!r}")
    if len(lengths) != 1:
        raise RequestError("every entity key must have the same number of values")
    n = lengths.pop()
    if n == 0:
        raise RequestError("entities must hold at least one entity")
    if n > limit:
        raise RequestError(f"too many entities: {n} (the limit is {limit})")
    return n


def _coerce(field_name: str, type_name: str, value: Any) -> Any:
    if value is None:
        return None
    if type_name == "float64" and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if type_name == "int64" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if type_name == "bool" and isinstance(value, bool):
        return value
    if type_name == "str" and isinstance(value, str):
        return value
    if type_name == "datetime":
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            return value.astimezone(dt.UTC)
        if isinstance(value, str):
            try:
                parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is not None:
                return parsed.astimezone(dt.UTC)
    raise RequestError(f"request data {field_name!r} must be of type {type_name}, got {value!r}")


def _request_columns(
    request_data: Mapping[str, Any] | None, fields: dict[str, str], n: int
) -> dict[str, list[Any]]:
    data = request_data or {}
    if not isinstance(data, Mapping):
        raise RequestError("request_data must map field names to lists of values")
    out: dict[str, list[Any]] = {}
    for name, type_name in fields.items():
        if name not in data:
            raise RequestError(f"request data {name!r} is missing (an on-demand feature needs it)")
        values = data[name]
        if isinstance(values, str | bytes) or not isinstance(values, Sequence):
            values = [values] * n  # one value for every entity
        if len(values) != n:
            raise RequestError(f"request data {name!r} has {len(values)} values for {n} entities")
        out[name] = [_coerce(name, type_name, v) for v in values]
    return out


Compiled = Callable[[Mapping[str, Any]], Any]


def _python(odfv: OnDemandFeatureView, feature: str, resolved: Resolved) -> Compiled:
    """The Python function of an on-demand feature, typed by its inputs' declared dtypes."""
    cached = resolved.compiled.get((odfv.name, feature))
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    expr = next(f.expr for f in odfv.features if f.name == feature)
    schema: dict[str, Any] = {}
    for src in odfv.source_views:
        entry = resolved.views.get(src.name)
        if entry is not None:
            schema |= {f: d for f, d in entry[0].feature_dtypes.items() if d is not None}
    for request in odfv.request_sources:
        schema |= {f: polars_dtype(t) for f, t in request.schema.items()}
    fn = resolved.compiled[(odfv.name, feature)] = to_python(expr, schema=schema)
    return fn


@dataclass(frozen=True, slots=True)
class _ViewInfo:
    view: FeatureView
    entity: str
    key_types: dict[str, str]
    aggregates: frozenset[str]
    empty: dict[str, Any]


# Definitions hash by their spec JSON (slow), so the cache is keyed by identity; the store
# hands out the same objects until its definitions are refreshed.
_view_infos: dict[int, _ViewInfo] = {}


def _empty_windows(view: FeatureView) -> dict[str, Any]:
    """count and sum of an empty window (0, or 0.0 for a float sum; unknown input: 0.0)."""
    out: dict[str, Any] = {}
    for agg in view.aggregates:
        if agg.fn == "count":
            out[agg.name] = 0
        elif agg.fn == "sum":
            dtype = view.feature_dtypes.get(agg.name)
            out[agg.name] = 0 if dtype is not None and dtype.is_integer() else 0.0
    return out


def _view_info(view: FeatureView) -> _ViewInfo:
    info = _view_infos.get(id(view))
    if info is None or info.view is not view:
        if len(_view_infos) > 1024:
            _view_infos.clear()
        info = _ViewInfo(
            view,
            entity_name(view),
            key_types(view),
            frozenset(a.name for a in view.aggregates),
            _empty_windows(view),
        )
        _view_infos[id(view)] = info
    return info


Column = tuple[list[Any], list[str], list[dt.datetime | None]]  # values, statuses, event times


def _fill(
    result: ReadResult,
    subset: list[str],
    ttl: dt.timedelta | None,
    now: dt.datetime,
    empty: Mapping[str, Any] | None = None,
) -> tuple[list[list[Any]], list[list[str]], list[dt.datetime | None]]:
    """The values and statuses of each feature of one read (aligned with ``subset``), and the
    read's event times, which its features share (``to_feast_json`` writes them once).

    ``empty`` gives the value of a windowed aggregate whose entity has no stored window: the
    aggregate of an empty window (count and sum 0, as in training frames), served as PRESENT.
    """
    present, null = Statuses.PRESENT, Statuses.NULL_VALUE
    stamps = result.event_timestamps
    columns = list(map(result.values.__getitem__, subset))
    found = result.found
    # The common case stays cheap: every entity found and fresh (checked by C-level calls).
    if all(found) and (  # found rows all have event times
        ttl is None or not stamps or min(cast(list[dt.datetime], stamps)) >= now - ttl
    ):
        all_present = [present] * len(found)  # shared by the features without nulls: read-only
        if not result.nulls:
            return columns, [all_present] * len(columns), stamps
        return (
            columns,
            [
                [null if v is None else present for v in column]
                if has_null(column)
                else all_present
                for column in columns
            ],
            stamps,
        )
    base: list[str | None] = [None if hit else Statuses.NOT_FOUND for hit in found]
    if ttl is not None:
        oldest = now - ttl
        base = [
            Statuses.OUTSIDE_MAX_AGE if b is None and ts is not None and ts < oldest else b
            for b, ts in zip(base, stamps, strict=True)
        ]
    values_out: list[list[Any]] = []
    statuses_out: list[list[str]] = []
    for feature, column in zip(subset, columns, strict=True):
        values = [None if b else v for b, v in zip(base, column, strict=True)]
        statuses = [
            b or (null if v is None else present) for b, v in zip(base, column, strict=True)
        ]
        if empty and feature in empty:
            nothing = Statuses.NOT_FOUND
            values = [
                empty[feature] if s == nothing else v for s, v in zip(statuses, values, strict=True)
            ]
            statuses = [present if s == nothing else s for s in statuses]
        values_out.append(values)
        statuses_out.append(statuses)
    return values_out, statuses_out, stamps


def get_online_features(
    resolved: Resolved,
    entities: Mapping[str, Sequence[Any]],
    *,
    online: OnlineStore,
    project: str,
    request_data: Mapping[str, Any] | None = None,
    max_entities: int = 1000,
    now: dt.datetime | None = None,
) -> OnlineResponse:
    """Read the resolved features for ``entities`` in one (blocking) online-store round trip,
    as served at ``now`` (default: the current time)."""
    pending = start_request(
        resolved,
        entities,
        project=project,
        request_data=request_data,
        max_entities=max_entities,
        now=now,
    )
    return finish_request(pending, online.read(pending.reads))


@dataclass(frozen=True, slots=True)
class PendingRequest:
    """A checked request waiting for its online read (``reads``): :func:`start_request` makes
    it, the caller reads the online store (blocking or awaited), :func:`finish_request` turns
    the results into the answer."""

    resolved: Resolved
    plan: _Plan
    entities: Mapping[str, Sequence[Any]]
    n: int
    request: dict[str, list[Any]]
    now: dt.datetime
    request_id: str
    reads: list[ReadRequest]


def start_request(
    resolved: Resolved,
    entities: Mapping[str, Sequence[Any]],
    *,
    project: str,
    request_data: Mapping[str, Any] | None = None,
    max_entities: int = 1000,
    now: dt.datetime | None = None,
) -> PendingRequest:
    """Check the entities and request data and work out the online reads (one round trip).

    Raises:
        RequestError: a missing or mistyped entity key or request field, or too many entities.
    """
    plan = _plan(resolved)
    n = _check_entities(entities, plan.keys, plan.key_types, max_entities)
    request = _request_columns(request_data, resolved.request_fields, n)
    reads = [
        ReadRequest(
            read.record,
            encode_entity_keys(
                project, read.info.entity, {k: entities[k] for k in read.info.view.join_keys}
            ),
            read.features,
        )
        for read in plan.reads
    ]
    now = now or dt.datetime.now(dt.UTC)
    return PendingRequest(resolved, plan, entities, n, request, now, new_request_id(project), reads)


def finish_request(pending: PendingRequest, results: list[ReadResult]) -> OnlineResponse:
    """The answer to ``pending`` from the results of its reads (statuses, ttl, on-demand
    features)."""
    resolved, plan, entities, n = pending.resolved, pending.plan, pending.entities, pending.n
    request, now, keys = pending.request, pending.now, plan.keys
    out_values: dict[str, list[Any]] = {k: list(entities[k]) for k in keys}
    present = [Statuses.PRESENT] * n
    nothing: list[dt.datetime | None] = [None] * n
    out_status: dict[str, list[str]] = dict.fromkeys(keys, present)
    out_stamps: dict[str, list[dt.datetime | None]] = dict.fromkeys(keys, nothing)
    # (view, feature) -> column, kept only when on-demand features or the serving log need it
    columns: dict[tuple[str, str], Column] = {}
    versions: dict[tuple[str, str], list[int | None]] = {}
    for read, result in zip(plan.reads, results, strict=True):
        versions.update(dict.fromkeys(read.refs, result.view_versions))
        values, status_lists, stamps = _fill(result, read.features, read.ttl, now, read.empty)
        if read.aligned:  # the usual case: each feature answered once, under one name
            out_values.update(zip(read.aligned, values, strict=True))
            out_status.update(zip(read.aligned, status_lists, strict=True))
            out_stamps.update(dict.fromkeys(read.aligned, stamps))
        else:
            for i, name in read.outputs:
                out_values[name], out_status[name] = values[i], status_lists[i]
                out_stamps[name] = stamps
        if plan.keep_columns:
            view = read.info.view.name
            for feature, column, status in zip(read.features, values, status_lists, strict=True):
                columns[(view, feature)] = (column, status, stamps)

    for odfv, names in resolved.on_demand.values():
        inputs: dict[str, list[Any]] = dict(request)
        for src in odfv.source_views:
            for feature in src.features:
                if (src.name, feature) in columns:
                    inputs[feature] = columns[(src.name, feature)][0]
        for feature in names:
            fn = _python(odfv, feature, resolved)
            out = [fn({k: v[i] for k, v in inputs.items()}) for i in range(n)]
            statuses = [Statuses.NULL_VALUE if v is None else Statuses.PRESENT for v in out]
            columns[(odfv.name, feature)] = (out, statuses, [None] * n)
    for ref, name in plan.on_demand_outputs:
        out_values[name], out_status[name], out_stamps[name] = columns[ref]
    return OnlineResponse(
        names=plan.names,
        join_keys=keys,
        values=out_values,
        statuses=out_status,
        event_timestamps=out_stamps,
        request_id=pending.request_id,
        requested_at=now,
        refs=resolved.refs,
        inputs={ref: columns[ref] for ref in plan.hidden},
        request_data=request,
        view_versions=versions,
    )


@dataclass(frozen=True, slots=True)
class _Read:
    """One online read of a request: a view's plain features, or its windowed aggregates."""

    info: _ViewInfo
    record: str  # the online record: the view's name, or ``<view>@windows``
    features: list[str]
    ttl: dt.timedelta | None
    empty: Mapping[str, Any] | None  # empty-window values of windowed aggregates
    outputs: list[tuple[int, str]]  # (position in features, output name) of requested features
    aligned: list[str] | None  # the output names, when each feature is answered once in order
    refs: list[tuple[str, str]]  # (view, feature) of each feature


@dataclass(frozen=True, slots=True)
class _Plan:
    """What serving works out once per request shape (cached on the resolved request)."""

    keys: list[str]
    key_types: dict[str, str]
    reads: list[_Read]
    on_demand_outputs: list[tuple[tuple[str, str], str]]
    names: list[str]
    hidden: list[tuple[str, str]]
    keep_columns: bool


def _plan(resolved: Resolved) -> _Plan:
    cached = resolved.compiled.get("plan")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    key_types: dict[str, str] = {}
    reads: list[_Read] = []
    stored: list[tuple[str, str]] = []
    output_names: dict[tuple[str, str], list[str]] = {}
    for ref, name in zip(resolved.refs, resolved.names, strict=True):
        output_names.setdefault(ref, []).append(name)
    for view, names in resolved.views.values():
        info = _view_info(view)
        key_types |= info.key_types
        plain = [f for f in names if f not in info.aggregates]
        windows = [f for f in names if f in info.aggregates]
        for record, features, ttl, empty in (
            (view.name, plain, view.ttl, None),
            (view.name + WINDOW_SUFFIX, windows, None, info.empty),
        ):
            if features:
                outputs = [
                    (i, name)
                    for i, feature in enumerate(features)
                    for name in output_names.get((view.name, feature), [])
                ]
                aligned: list[str] | None = [name for _, name in outputs]
                if [i for i, _ in outputs] != list(range(len(features))):
                    aligned = None
                refs = [(view.name, f) for f in features]
                reads.append(_Read(info, record, features, ttl, empty, outputs, aligned, refs))
        stored += [(view.name, f) for f in names]
    requested = set(resolved.refs)
    hidden = [ref for ref in stored if ref not in requested]
    plan = _Plan(
        keys=resolved.join_keys,
        key_types=key_types,
        reads=reads,
        on_demand_outputs=[
            (ref, name)
            for ref, name in zip(resolved.refs, resolved.names, strict=True)
            if ref[0] in resolved.on_demand
        ],
        names=[*resolved.join_keys, *resolved.names],
        hidden=hidden,
        keep_columns=bool(resolved.on_demand or hidden),
    )
    resolved.compiled["plan"] = plan
    return plan
