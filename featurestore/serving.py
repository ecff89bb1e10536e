"""Online feature retrieval: one online-store round trip, statuses, request-time features.

The answer mirrors Feast's: join keys first, then the features in the requested order, each with
values, statuses and event timestamps. Statuses: ``PRESENT``, ``NOT_FOUND`` (no row for the
entity), ``NULL_VALUE`` (a stored null), ``OUTSIDE_MAX_AGE`` (older than the view's ttl at request
time: the value is withheld as null, unlike Feast).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from featurestore.definitions import FeatureView, OnDemandFeatureView
from featurestore.errors import RequestError
from featurestore.expr import to_python
from featurestore.materialize import WINDOW_SUFFIX, entity_name
from featurestore.online import OnlineStore, ReadRequest, encode_entity_keys
from featurestore.reports import iso
from featurestore.resolve import Resolved

__all__ = ["OnlineResponse", "Statuses", "get_online_features", "key_types"]


class Statuses:
    PRESENT = "PRESENT"
    NOT_FOUND = "NOT_FOUND"
    NULL_VALUE = "NULL_VALUE"
    OUTSIDE_MAX_AGE = "OUTSIDE_MAX_AGE"


@dataclass(frozen=True)
class OnlineResponse:
    """Online features for a batch of entities, column-oriented.

    ``to_dict()`` gives join keys first, then features in the requested order; ``statuses`` and
    ``event_timestamps`` are keyed the same way; ``request_id`` identifies the call for feedback.
    """

    names: list[str]
    join_keys: list[str]
    values: dict[str, list[Any]]
    statuses: dict[str, list[str]]
    event_timestamps: dict[str, list[dt.datetime | None]]
    request_id: str
    requested_at: dt.datetime
    refs: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, list[Any]]:
        return {name: self.values[name] for name in self.names}

    def to_polars(self) -> pl.DataFrame:
        return pl.DataFrame(self.to_dict(), strict=False)

    def to_feast(self) -> dict[str, Any]:
        """The HTTP answer, in Feast's column-oriented shape."""
        return {
            "metadata": {"feature_names": self.names, "request_id": self.request_id},
            "results": [
                {
                    "values": [_json_value(v) for v in self.values[name]],
                    "statuses": self.statuses[name],
                    "event_timestamps": [iso(t) for t in self.event_timestamps[name]],
                }
                for name in self.names
            ],
        }


def _json_value(value: Any) -> Any:
    return iso(value) if isinstance(value, dt.datetime) else value


def key_types(view: FeatureView) -> dict[str, str]:
    """Join key -> declared type name ("int64"/"str"), from the entity, source schema or contract."""
    out: dict[str, str] = {}
    for entity in view.entities:
        for key in entity.join_keys:
            declared = entity.value_type or (view.source.schema or {}).get(key)
            if declared is None and key in view.contract_columns:
                dtype = view.contract_columns[key]
                if dtype is not None:
                    declared = "int64" if dtype.is_integer() else "str" if dtype == pl.String else None
            if declared in ("int64", "str"):
                out[key] = declared
    return out


def _check_entities(
    entities: Mapping[str, Sequence[Any]], keys: list[str], types: dict[str, str], limit: int
) -> int:
    if not isinstance(entities, Mapping) or not entities:
        raise RequestError(f"entities must map each join key ({', '.join(keys)}) to a list of values")
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
                kind = {"int64": "an integer", "str": "a string"}.get(want or "", "an integer or a string")
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
_compiled: dict[str, Compiled] = {}


def _python(odfv: OnDemandFeatureView, feature: str) -> Compiled:
    expr = next(f.expr for f in odfv.features if f.name == feature)
    key = expr.to_json()
    fn = _compiled.get(key)
    if fn is None:
        fn = _compiled[key] = to_python(expr)
    return fn


def get_online_features(
    resolved: Resolved,
    entities: Mapping[str, Sequence[Any]],
    *,
    online: OnlineStore,
    project: str,
    request_data: Mapping[str, Any] | None = None,
    max_entities: int = 1000,
    remember_ttl: int = 7 * 24 * 3600,
    now: dt.datetime | None = None,
) -> OnlineResponse:
    """Read the resolved features for ``entities`` in one online-store round trip."""
    keys = resolved.join_keys
    types: dict[str, str] = {}
    for view, _ in resolved.views.values():
        types |= key_types(view)
    n = _check_entities(entities, keys, types, max_entities)
    request = _request_columns(request_data, resolved.request_fields, n)
    now = now or dt.datetime.now(dt.UTC)
    request_id = uuid.uuid4().hex

    reads: list[ReadRequest] = []
    plan: list[tuple[FeatureView, str, list[str]]] = []
    for view, names in resolved.views.values():
        encoded = encode_entity_keys(project, entity_name(view), {k: entities[k] for k in view.join_keys})
        aggregate = {a.name for a in view.aggregates}
        for record, subset in (
            (view.name, [f for f in names if f not in aggregate]),
            (view.name + WINDOW_SUFFIX, [f for f in names if f in aggregate]),
        ):
            if subset:
                reads.append(ReadRequest(record, encoded, subset))
                plan.append((view, record, subset))
    results = online.read(reads, remember=[request_id], remember_ttl_seconds=remember_ttl)

    values: dict[tuple[str, str], list[Any]] = {}
    statuses: dict[tuple[str, str], list[str]] = {}
    stamps: dict[tuple[str, str], list[dt.datetime | None]] = {}
    for (view, record, subset), result in zip(plan, results, strict=True):
        ttl = view.ttl if not record.endswith(WINDOW_SUFFIX) else None
        expired = [
            ts is not None and ttl is not None and now - ts > ttl for ts in result.event_timestamps
        ]
        for feature in subset:
            column = result.values[feature]
            status: list[str] = []
            out: list[Any] = []
            for found, old, value in zip(result.found, expired, column, strict=True):
                if not found:
                    status.append(Statuses.NOT_FOUND)
                    out.append(None)
                elif old:
                    status.append(Statuses.OUTSIDE_MAX_AGE)
                    out.append(None)
                elif value is None:
                    status.append(Statuses.NULL_VALUE)
                    out.append(None)
                else:
                    status.append(Statuses.PRESENT)
                    out.append(value)
            values[(view.name, feature)] = out
            statuses[(view.name, feature)] = status
            stamps[(view.name, feature)] = list(result.event_timestamps)

    for odfv, names in resolved.on_demand.values():
        inputs: dict[str, list[Any]] = dict(request)
        for src in odfv.source_views:
            for feature in src.features:
                if (src.name, feature) in values:
                    inputs[feature] = values[(src.name, feature)]
        for feature in names:
            fn = _python(odfv, feature)
            out = [fn({k: v[i] for k, v in inputs.items()}) for i in range(n)]
            values[(odfv.name, feature)] = out
            statuses[(odfv.name, feature)] = [
                Statuses.NULL_VALUE if v is None else Statuses.PRESENT for v in out
            ]
            stamps[(odfv.name, feature)] = [None] * n

    out_values: dict[str, list[Any]] = {k: list(entities[k]) for k in keys}
    out_status: dict[str, list[str]] = {k: [Statuses.PRESENT] * n for k in keys}
    out_stamps: dict[str, list[dt.datetime | None]] = {k: [None] * n for k in keys}
    for ref, name in zip(resolved.refs, resolved.names, strict=True):
        out_values[name] = values[ref]
        out_status[name] = statuses[ref]
        out_stamps[name] = stamps[ref]
    return OnlineResponse(
        names=[*keys, *resolved.names],
        join_keys=keys,
        values=out_values,
        statuses=out_status,
        event_timestamps=out_stamps,
        request_id=request_id,
        requested_at=now,
        refs=list(resolved.refs),
    )
