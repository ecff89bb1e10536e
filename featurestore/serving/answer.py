"""One online request, answered: check it, read once, apply statuses, compute on-demand features.

:func:`answer` (blocking read) and :func:`answer_async` (awaited read, for an event loop) are the
one way every caller serves: ``FeatureStore.get_online_features`` and the HTTP fast path. Both
are :func:`start` (check the request and work out its reads from the state's plan), one online
read, and :func:`finish` (statuses, ttl, on-demand features, the immutable answer).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, cast

from featurestore.errors import FeatureStoreError, RequestError
from featurestore.online import (
    Column,
    OnlineStore,
    ReadRequest,
    ReadResult,
    encode_entity_keys,
)
from featurestore.online.records import has_null
from featurestore.serving.checks import check_entities, request_columns
from featurestore.serving.requestids import new_request_id
from featurestore.serving.response import OnlineResponse, Statuses
from featurestore.serving.rollouts import Routing, canary_reads
from featurestore.serving.state import Plan, ServingState

__all__ = [
    "Filled",
    "Pending",
    "Request",
    "answer",
    "answer_async",
    "fill",
    "finish",
    "split_request_data",
    "start",
]

_PRESENT, _NULL = Statuses.PRESENT, Statuses.NULL_VALUE
_NOT_FOUND, _TOO_OLD = Statuses.NOT_FOUND, Statuses.OUTSIDE_MAX_AGE


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """An online request, as ``FeatureStore.get_online_features`` and the HTTP body give it.

    Attributes:
        features: ``"view:feature"`` references (or give ``service``).
        service: a feature service name.
        entities: join key -> one value per entity.
        request_data: request-data field -> one value per entity (or one for all).
        full_feature_names: name features ``view__feature``.
        feature_view_metadata: answer each view's version in force too (Feast's
            ``include_feature_view_version_metadata``; see ``OnlineResponse.to_feast``).

    Feast's client sends the request-data fields of on-demand features inside ``entities``
    (its server tells them apart); :func:`start` does the same.
    """

    features: Sequence[str] | None = None
    service: str | None = None
    entities: Mapping[str, Sequence[Any]]
    request_data: Mapping[str, Any] | None = None
    full_feature_names: bool = False
    feature_view_metadata: bool = False


@dataclass(frozen=True, slots=True)
class Pending:
    """A checked request waiting for its online read (``reads``)."""

    state: ServingState
    plan: Plan
    entities: Mapping[str, Sequence[Any]]
    n: int
    request_data: Mapping[str, Column[Any]]
    now: dt.datetime
    request_id: str
    reads: list[ReadRequest]
    routing: Routing | None = None


_NO_ARMS: Mapping[str, Column[str]] = MappingProxyType({})
_NOTHING: Mapping[Any, Any] = MappingProxyType({})  # answers without inputs or request data


def answer(
    state: ServingState, request: Request, reader: OnlineStore, *, now: dt.datetime | None = None
) -> OnlineResponse:
    """Answer ``request`` from ``state`` with one blocking read of ``reader``, as served at
    ``now`` (default: the current time).

    Raises:
        RequestError, NotFoundError: a bad request, or one naming something unknown.
        StoreUnavailableError: the online store does not answer.
    """
    pending = start(state, request, now=now)
    return finish(pending, reader.read(pending.reads))


async def answer_async(
    state: ServingState, request: Request, reader: OnlineStore, *, now: dt.datetime | None = None
) -> OnlineResponse:
    """:func:`answer` with the read awaited (``OnlineStore.aread``): an event loop answers other
    requests during the round trip."""
    pending = start(state, request, now=now)
    return finish(pending, await reader.aread(pending.reads))


def start(state: ServingState, request: Request, *, now: dt.datetime | None = None) -> Pending:
    """Check the entities and request data and work out the online reads (one round trip).

    Raises:
        RequestError: a missing or mistyped entity key or request field, or too many entities.
        NotFoundError: an unknown view, feature or service.
    """
    plan = state.plan(request.features, request.service, request.full_feature_names)
    entities, request_data = request.entities, request.request_data
    if plan.request_fields and isinstance(entities, Mapping):
        entities, request_data = split_request_data(
            entities, request_data, plan.request_fields, keys=plan.keys
        )
    n = check_entities(entities, plan.keys, plan.key_types, state.max_entities)
    data = request_columns(request_data, plan.request_fields, n)
    encoded: dict[tuple[str, tuple[str, ...]], list[str]] = {}  # plain and window reads share
    reads = []
    for read in plan.reads:
        keys = encoded.get((read.namespace, read.join_keys))
        if keys is None:
            columns = {k: entities[k] for k in read.join_keys}
            keys = encoded[(read.namespace, read.join_keys)] = encode_entity_keys(
                state.project, read.namespace, columns
            )
        reads.append(ReadRequest(read.record, keys, read.features))
    now = now or dt.datetime.now(dt.UTC)
    # a shadow costs the requests it does not draw one random number
    if plan.canary or (plan.shadow_sample and random.random() < plan.shadow_sample):
        return _routed(state, plan, request, entities, n, data, now, reads)
    return Pending(state, plan, entities, n, data, now, new_request_id(state.project), reads)


def _routed(
    state: ServingState,
    plan: Plan,
    request: Request,
    entities: Mapping[str, Sequence[Any]],
    n: int,
    data: Mapping[str, Column[Any]],
    now: dt.datetime,
    reads: list[ReadRequest],
) -> Pending:
    """:func:`start` for a request a rollout touches: the canary's candidate reads and the
    shadow's reads join the same round trip (see :mod:`featurestore.serving.rollouts`)."""
    main = len(reads)
    canaries = [(i, r.canary) for i, r in enumerate(plan.reads) if r.canary is not None]
    routed, arms, code = canary_reads(reads, canaries)
    request_id = new_request_id(state.project, arm=code)
    shadow = None
    chosen: list[int] = []
    if plan.shadow_sample and (not canaries or _drawn(plan)):
        chosen = list(range(n))
        shadow = _shadow(state, request, entities, data, chosen, now, request_id)
        if shadow is not None:
            reads.extend(shadow.reads)
    routing = Routing(main, routed, MappingProxyType(arms), code, shadow, chosen)
    return Pending(state, plan, entities, n, data, now, request_id, reads, routing)


def _drawn(plan: Plan) -> bool:
    """Whether a shadow computes the candidate for a request a canary routed anyway (one the
    shadow drew came here drawn)."""
    return random.random() < plan.shadow_sample


def _shadow(
    state: ServingState,
    request: Request,
    entities: Mapping[str, Sequence[Any]],
    data: Mapping[str, Column[Any]],
    rows: list[int],
    now: dt.datetime,
    request_id: str,
) -> Pending | None:
    """The candidate's pending answer for the request's ``rows`` (None when the candidate cannot
    answer this request's shape, e.g. it dropped a requested feature: nothing to compare)."""
    candidate = state.candidate_state()
    try:
        pending = start(
            candidate,
            Request(
                features=request.features,
                service=request.service,
                entities={k: [v[i] for i in rows] for k, v in entities.items()},
                request_data={k: [v[i] for i in rows] for k, v in data.items()},
                full_feature_names=request.full_feature_names,
            ),
            now=now,
        )
    except FeatureStoreError:
        return None
    return dataclasses.replace(pending, request_id=request_id)


def split_request_data(
    entities: Mapping[str, Sequence[Any]],
    request_data: Mapping[str, Any] | None,
    fields: Mapping[str, str],
    *,
    keys: Sequence[str] = (),
) -> tuple[Mapping[str, Sequence[Any]], Mapping[str, Any] | None]:
    """Move the request-data ``fields`` found in ``entities`` (other than the join ``keys``) to
    the request data, as Feast's feature server does (its client sends both in ``entities``).

    Raises:
        RequestError: a field is given both in ``entities`` and in ``request_data``.
    """
    moved = [name for name in entities if name in fields and name not in keys]
    if not moved or not isinstance(request_data, Mapping | None):
        return entities, request_data  # nothing to move, or request data the checks refuse
    data = dict(request_data or {})
    for name in moved:
        if name in data:
            raise RequestError(
                f"request data {name!r} is given twice: in entities and in request_data"
            )
        data[name] = entities[name]
    return {k: v for k, v in entities.items() if k not in moved}, data


@dataclass(frozen=True, slots=True)
class Filled:
    """The served columns of one read, aligned with its features; the features share the read's
    event times and view versions."""

    values: list[Column[Any]]
    statuses: list[Column[str]]
    event_timestamps: Column[dt.datetime | None]
    view_versions: Column[int | None]


def fill(
    result: ReadResult,
    features: Sequence[str],
    ttl: dt.timedelta | None,
    now: dt.datetime,
    empty: Mapping[str, Any] | None = None,
    version: int | None = None,
) -> Filled:
    """Apply the status rule to one read.

    A value is withheld as null with status ``NOT_FOUND`` where the entity has no row (but a
    windowed aggregate in ``empty`` is the empty window's value, ``PRESENT``, as in training
    frames) and ``OUTSIDE_MAX_AGE`` where its event time is older than ``now - ttl``; otherwise
    it is served, ``NULL_VALUE`` if null, else ``PRESENT``. Where no row was found the view
    version is ``version`` (the one in force).

    Rows are judged once for the whole read (with C-level checks when every row was found and
    is fresh, the usual case); columns without a withheld row or a null share one all-present
    status list.
    """
    found, stamps, versions = result.found, result.event_timestamps, result.view_versions
    withheld = _withheld(found, stamps, ttl, now)
    present = Column([_PRESENT] * len(found))
    values: list[Column[Any]]
    statuses: list[Column[str]]
    if withheld is None:  # every row served: each value's status is its own
        values = list(map(result.values.__getitem__, features))  # type: ignore[arg-type]
        if result.nulls:
            statuses = [_value_statuses(column, present) for column in values]
        else:
            statuses = [present] * len(values)
    else:
        values, statuses = [], []
        for feature in features:
            default = empty.get(feature, _ABSENT) if empty else _ABSENT
            column, status = _withhold(result.values[feature], withheld, default, present)
            values.append(column)
            statuses.append(status)
        if not all(found):
            versions = Column([version if v is None else v for v in versions])
    return Filled(
        values,
        statuses,
        cast(Column[dt.datetime | None], stamps),
        cast(Column[int | None], versions),
    )


def _value_statuses(column: Sequence[Any], present: Column[str]) -> Column[str]:
    """The status of served values: ``NULL_VALUE`` for a null, else ``PRESENT`` (``present``,
    shared, when the column holds no null)."""
    if not has_null(column):
        return present
    return Column([_NULL if v is None else _PRESENT for v in column])


_ABSENT = object()  # no empty-window value: a missing row is NOT_FOUND


def _withheld(
    found: Sequence[bool],
    stamps: Sequence[dt.datetime | None],
    ttl: dt.timedelta | None,
    now: dt.datetime,
) -> list[str | None] | None:
    """Per row, why its values are withheld (None: served); None when no row is."""
    if all(found) and (  # found rows all have event times
        ttl is None or not stamps or min(cast(Sequence[dt.datetime], stamps)) >= now - ttl
    ):
        return None
    oldest = None if ttl is None else now - ttl
    return [
        _NOT_FOUND
        if not hit
        else _TOO_OLD
        if oldest is not None and stamp is not None and stamp < oldest
        else None
        for hit, stamp in zip(found, stamps, strict=True)
    ]


def _withhold(
    column: Sequence[Any], withheld: list[str | None], default: Any, present: Column[str]
) -> tuple[Column[Any], Column[str]]:
    """A column with the withheld rows' values replaced (by null, or by the empty window's
    value when not found), and its statuses."""
    if default is _ABSENT:
        values = Column(
            [None if why else value for why, value in zip(withheld, column, strict=True)]
        )
    else:
        values = Column(
            [
                value if why is None else default if why is _NOT_FOUND else None
                for why, value in zip(withheld, column, strict=True)
            ]
        )
    served = _value_statuses(values, present)
    statuses = Column(
        [
            why if why is not None and (why is not _NOT_FOUND or default is _ABSENT) else ok
            for why, ok in zip(withheld, served, strict=True)
        ]
    )
    return values, statuses


def finish(pending: Pending, results: Sequence[ReadResult]) -> OnlineResponse:
    """The answer to ``pending`` from the results of its reads (statuses, ttl, on-demand
    features)."""
    plan, entities, n, now = pending.plan, pending.entities, pending.n, pending.now
    routing, arms, shadow = pending.routing, _NO_ARMS, None
    if routing is not None:
        if routing.shadow is not None:
            shadow = dataclasses.replace(
                finish(routing.shadow, routing.shadow_results(results)),
                shadow_rows=Column(routing.shadow_rows),
            )
        results, arms = routing.merged(results), routing.arms
    present: Column[str] = Column([_PRESENT] * n)
    nothing: Column[Any] = Column([None] * n)
    values: dict[str, Column[Any]] = {k: Column(entities[k]) for k in plan.keys}
    statuses: dict[str, Column[str]] = dict.fromkeys(plan.keys, present)
    stamps: dict[str, Column[dt.datetime | None]] = dict.fromkeys(plan.keys, nothing)
    versions: dict[tuple[str, str], Column[int | None]] = {}
    # (view, feature) -> its served column, kept when on-demand features or the log need it
    columns: dict[tuple[str, str], tuple[Column[Any], Column[str], Column[Any]]] = {}
    for read, result in zip(plan.reads, results, strict=True):
        filled = fill(result, read.features, read.ttl, now, read.empty, read.version)
        versions.update(dict.fromkeys(read.refs, filled.view_versions))
        if read.aligned is not None:  # the usual case: each feature answered once, in order
            values.update(zip(read.aligned, filled.values, strict=True))
            statuses.update(zip(read.aligned, filled.statuses, strict=True))
            stamps.update(dict.fromkeys(read.aligned, filled.event_timestamps))
        else:
            for i, name in read.outputs:
                values[name], statuses[name] = filled.values[i], filled.statuses[i]
                stamps[name] = filled.event_timestamps
        if plan.keep_columns:
            for ref, column, status in zip(read.refs, filled.values, filled.statuses, strict=True):
                columns[ref] = (column, status, filled.event_timestamps)
    for odfv in plan.on_demand:
        inputs: dict[str, Sequence[Any]] = dict(pending.request_data)
        for view, feature in odfv.inputs:
            if (view, feature) in columns:
                inputs[feature] = columns[(view, feature)][0]
        for feature, fn in odfv.features:
            out = Column([fn({k: v[i] for k, v in inputs.items()}) for i in range(n)])
            status = Column([_NULL if v is None else _PRESENT for v in out])
            columns[(odfv.name, feature)] = (out, status, nothing)
    for ref, name in plan.on_demand_outputs:
        values[name], statuses[name], stamps[name] = columns[ref]
    return OnlineResponse(
        names=plan.names,
        join_keys=plan.keys,
        values=MappingProxyType(values),
        statuses=MappingProxyType(statuses),
        event_timestamps=MappingProxyType(stamps),
        request_id=pending.request_id,
        requested_at=now,
        refs=plan.refs,
        inputs=MappingProxyType({ref: columns[ref] for ref in plan.hidden})
        if plan.hidden
        else _NOTHING,
        request_data=MappingProxyType(dict(pending.request_data))
        if pending.request_data
        else _NOTHING,
        view_versions=MappingProxyType(versions),
        iso_texts=pending.state.event_texts,
        on_demand=plan.on_demand_names,
        arms=arms,
        shadow=shadow,
    )
