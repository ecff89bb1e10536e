"""``ServingState``: everything serving knows, built aside and swapped whole on refresh.

A state holds the definitions of one registry listing, their versions, and what serving works
out from them: a :class:`Plan` per request shape (the reads, the compiled on-demand features,
the output names), made on first use and kept. A state never changes what it answers: a
refresh builds a new state from a new listing while requests go on with the old one, then the
owner swaps the reference (one assignment). So a slow registry never delays a request, and no
cache outlives the definitions it was made from.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

import polars as pl

from featurestore.definitions import (
    Definition,
    FeatureService,
    FeatureView,
    OnDemandFeatureView,
    from_spec,
    polars_dtype,
)
from featurestore.errors import NotFoundError
from featurestore.expr import to_python
from featurestore.limits import quote
from featurestore.online import Column, Selection, entity_namespace, window_record
from featurestore.resolve import Lookup, Resolved, resolve
from featurestore.serving.rollouts import Canary, ServingRollout, canary_read

__all__ = [
    "OnDemand",
    "Plan",
    "Read",
    "ServingState",
    "StoredDefinition",
    "key_types",
    "rollout_fingerprint",
]

#: (kind, name) of a definition
Key = tuple[str, str]
#: what asks for features: (feature refs or None, service or None, full_feature_names)
Shape = tuple[tuple[str, ...] | None, str | None, bool]


class StoredDefinition(Protocol):
    """One definition as the registry lists it."""

    @property
    def kind(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def spec(self) -> dict[str, Any]: ...


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


@dataclass(frozen=True, slots=True)
class Read:
    """One online read of a request: a view's plain features, or its windowed aggregates.

    Attributes:
        view: the view's name.
        record: the online record: the view's name, or ``<view>@windows``.
        namespace: the entity key namespace (see :mod:`featurestore.online.keys`).
        join_keys: the view's join keys, in key order.
        features: the features to read (a selection that remembers how to decode them).
        ttl: the view's ttl (plain features only).
        empty: the value of each windowed aggregate whose entity has no stored window.
        outputs: (position in features, output name) of each requested feature.
        aligned: the output names when each feature is answered once, in order (else None).
        refs: ``(view, feature)`` of each feature.
        version: the view version in force.
        canary: where a canary's candidate values are, when the view's rollout is a canary.
    """

    view: str
    record: str
    namespace: str
    join_keys: tuple[str, ...]
    features: Selection
    ttl: dt.timedelta | None
    empty: Mapping[str, Any] | None
    outputs: tuple[tuple[int, str], ...]
    aligned: tuple[str, ...] | None
    refs: tuple[tuple[str, str], ...]
    version: int
    canary: Canary | None = None


@dataclass(frozen=True, slots=True)
class OnDemand:
    """An on-demand view's requested features, compiled for Python rows.

    Attributes:
        name: the on-demand view's name.
        inputs: the stored ``(view, feature)`` inputs it may use.
        features: (feature, its compiled function) in request order.
    """

    name: str
    inputs: tuple[tuple[str, str], ...]
    features: tuple[tuple[str, Callable[[Mapping[str, Any]], Any]], ...]


@dataclass(frozen=True, slots=True)
class Plan:
    """What serving works out once per request shape.

    Its columns are read-only, so every answer of the shape may share them.

    Attributes:
        keys: the join keys the request must give.
        key_types: join key -> declared type name, where declared.
        request_fields: request-data field -> type name.
        reads: the online reads (one round trip).
        on_demand: the on-demand views to compute.
        on_demand_outputs: ``((view, feature), output name)`` of each requested on-demand feature.
        on_demand_names: their output names (what an answer reports as computed on demand).
        names: the answer's names: join keys, then the requested features' output names.
        refs: ``(view, feature)`` of each requested feature.
        hidden: stored features read only as on-demand inputs.
        keep_columns: whether to keep per-feature columns (on-demand inputs or hidden ones).
        shadows: the shadow rollouts of the views it reads.
        shadow_sample: the share of its requests a shadow computes the candidate for.
        canary: whether a canary touches it: every request is then routed (see
            :mod:`featurestore.serving.rollouts`); else only those a shadow draws.
    """

    keys: Column[str]
    key_types: Mapping[str, str]
    request_fields: Mapping[str, str]
    reads: tuple[Read, ...]
    on_demand: tuple[OnDemand, ...]
    on_demand_outputs: tuple[tuple[tuple[str, str], str], ...]
    on_demand_names: Column[str]
    names: Column[str]
    refs: Column[tuple[str, str]]
    hidden: tuple[tuple[str, str], ...]
    keep_columns: bool
    shadows: tuple[ServingRollout, ...] = ()
    shadow_sample: float = 0.0
    canary: bool = False


_NO_ROLLOUTS: Mapping[str, ServingRollout] = MappingProxyType({})
_NO_RECORDS: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, eq=False)
class ServingState:
    """The definitions of one registry listing and what serving derives from them.

    Build one with :meth:`build`; never change one (a refresh builds another).

    Attributes:
        project: the project the definitions belong to.
        max_entities: the most entities one request may ask for.
        definitions: (kind, name) -> definition.
        versions: (kind, name) -> registered version.
        view_versions: view or on-demand view name -> its version in force.
        fingerprint: the ``(kind, name, version)`` of every definition (what a watcher compares)
            and of every running rollout (see :func:`rollout_fingerprint`).
        rollouts: view -> its running rollout.
        records: view -> the online record its values are read from, where not the view's name
            (the candidate state of a shadow reads the candidates' records).
    """

    project: str
    max_entities: int
    definitions: Mapping[Key, Definition]
    versions: Mapping[Key, int]
    view_versions: Mapping[str, int]
    fingerprint: frozenset[tuple[str, str, int]]
    rollouts: Mapping[str, ServingRollout] = field(default_factory=lambda: _NO_ROLLOUTS)
    records: Mapping[str, str] = field(default_factory=lambda: _NO_RECORDS)
    # request shape -> plan: made on first use from this state's definitions only, so it is
    # as immutable as they are (two threads making one plan at once store equal plans)
    _plans: dict[Shape, Plan] = field(default_factory=dict, repr=False)
    #: event time -> its ISO text, for answers written as JSON (bounded by the answer)
    event_texts: dict[dt.datetime, str | None] = field(default_factory=dict, repr=False)
    # the state a shadow computes candidates with, made on first use
    _candidate: list[ServingState] = field(default_factory=list, repr=False)

    @classmethod
    def build(
        cls,
        stored: Iterable[StoredDefinition],
        *,
        project: str,
        max_entities: int,
        rollouts: Iterable[ServingRollout] = (),
    ) -> ServingState:
        """A state from a registry listing (``Registry.list()``) and the running rollouts."""
        definitions: dict[Key, Definition] = {}
        versions: dict[Key, int] = {}
        for item in stored:
            definitions[(item.kind, item.name)] = from_spec(item.kind, item.spec)
            versions[(item.kind, item.name)] = item.version
        running = {r.view: r for r in rollouts if ("feature_view", r.view) in definitions}
        return cls(
            project=project,
            max_entities=max_entities,
            definitions=MappingProxyType(definitions),
            versions=MappingProxyType(versions),
            view_versions=MappingProxyType(
                {name: v for (kind, name), v in versions.items() if "view" in kind}
            ),
            fingerprint=frozenset((kind, name, v) for (kind, name), v in versions.items())
            | rollout_fingerprint(running.values()),
            rollouts=MappingProxyType(running) if running else _NO_ROLLOUTS,
        )

    def candidate_state(self) -> ServingState:
        """This state with every rolled-out view at its candidate version, read from the
        candidate's records (what a shadow computes with)."""
        if self._candidate:
            return self._candidate[0]
        definitions = dict(self.definitions)
        view_versions = dict(self.view_versions)
        for rollout in self.rollouts.values():
            definitions[("feature_view", rollout.view)] = rollout.definition
            view_versions[rollout.view] = rollout.candidate
        made = ServingState(
            project=self.project,
            max_entities=self.max_entities,
            definitions=MappingProxyType(definitions),
            versions=self.versions,
            view_versions=MappingProxyType(view_versions),
            fingerprint=self.fingerprint,
            records=MappingProxyType({r.view: r.record for r in self.rollouts.values()}),
        )
        self._candidate[:] = [made]
        return self._candidate[0]

    # -- lookups ----------------------------------------------------------------------------
    def get(self, kind: str, name: str, what: str) -> Definition:
        """The definition ``(kind, name)``.

        Raises:
            NotFoundError: there is none (``what`` names the kind in the message).
        """
        found = self.definitions.get((kind, name))
        if found is None:
            raise NotFoundError(f"unknown {what} {quote(name)} (run `featurestore apply` first?)")
        return found

    def view_or_on_demand(self, name: str) -> FeatureView | OnDemandFeatureView:
        """A feature view or on-demand feature view by name."""
        found = self.definitions.get(("feature_view", name)) or self.definitions.get(
            ("on_demand_feature_view", name)
        )
        if not isinstance(found, FeatureView | OnDemandFeatureView):
            raise NotFoundError(f"unknown feature view {quote(name)}")
        return found

    def service(self, name: str) -> FeatureService:
        """A feature service by name."""
        found = self.get("feature_service", name, "feature service")
        assert isinstance(found, FeatureService)
        return found

    def feature_views(self) -> list[FeatureView]:
        """Every feature view."""
        return [d for d in self.definitions.values() if isinstance(d, FeatureView)]

    def resolve(
        self, features: Sequence[str] | None, service: str | None, full_feature_names: bool
    ) -> Resolved:
        """What ``features`` or ``service`` ask for (see :func:`featurestore.resolve.resolve`)."""
        lookup = Lookup(view=self.view_or_on_demand, service=self.service)
        return resolve(
            lookup, features=features, service=service, full_feature_names=full_feature_names
        )

    def _serving_resolve(
        self, features: Sequence[str] | None, service: str | None, full_feature_names: bool
    ) -> Resolved:
        """:meth:`resolve`, with each canary view at its candidate version: a canary answers
        the candidate's features (the baseline's rows lack a new feature: null)."""
        canaries = {v: r.definition for v, r in self.rollouts.items() if r.stage == "canary"}
        if not canaries:
            return self.resolve(features, service, full_feature_names)

        def view(name: str) -> FeatureView | OnDemandFeatureView:
            return canaries.get(name) or self.view_or_on_demand(name)

        lookup = Lookup(view=view, service=self.service)
        return resolve(
            lookup, features=features, service=service, full_feature_names=full_feature_names
        )

    # -- plans --------------------------------------------------------------------------------
    def plan(
        self, features: Sequence[str] | None, service: str | None, full_feature_names: bool
    ) -> Plan:
        """The plan of a request shape (made once per state).

        Raises:
            RequestError, NotFoundError: as :meth:`resolve`.
        """
        try:
            shape: Shape | None = (
                None
                if features is None
                else (features,)
                if isinstance(features, str)
                else tuple(features),
                service,
                full_feature_names,
            )
            cached = self._plans.get(shape)  # type: ignore[arg-type]
        except TypeError:  # an unhashable feature list: resolve() says what is wrong
            shape, cached = None, None
        if cached is not None:
            return cached
        plan = _make_plan(self, self._serving_resolve(features, service, full_feature_names))
        if shape is not None:
            if len(self._plans) > 1024:  # ad-hoc feature lists: keep memory bounded
                self._plans.clear()
            self._plans[shape] = plan
        return plan


def _make_plan(state: ServingState, resolved: Resolved) -> Plan:
    output_names: dict[tuple[str, str], list[str]] = {}
    for ref, name in zip(resolved.refs, resolved.names, strict=True):
        output_names.setdefault(ref, []).append(name)
    key_types_: dict[str, str] = {}
    reads: list[Read] = []
    stored: list[tuple[str, str]] = []
    for view, names in resolved.views.values():
        key_types_ |= key_types(view)
        aggregates = {a.name for a in view.aggregates}
        plain = [f for f in names if f not in aggregates]
        windows = [f for f in names if f in aggregates]
        base = state.records.get(view.name, view.name)
        for record, features, ttl, empty in (
            (base, plain, view.ttl, None),
            (window_record(base), windows, None, _empty_windows(view)),
        ):
            if features:
                reads.append(_read(state, view, record, features, ttl, empty, output_names))
        stored += [(view.name, f) for f in names]
    requested = set(resolved.refs)
    hidden = tuple(ref for ref in stored if ref not in requested)
    touched = [state.rollouts[v] for v in resolved.views if v in state.rollouts]
    shadows = tuple(r for r in touched if r.stage == "shadow")
    on_demand_outputs = tuple(
        (ref, name)
        for ref, name in zip(resolved.refs, resolved.names, strict=True)
        if ref[0] in resolved.on_demand
    )
    return Plan(
        keys=Column(resolved.join_keys),
        key_types=MappingProxyType(key_types_),
        request_fields=MappingProxyType(resolved.request_fields),
        reads=tuple(reads),
        on_demand=tuple(
            _on_demand(resolved, odfv, names) for odfv, names in resolved.on_demand.values()
        ),
        on_demand_outputs=on_demand_outputs,
        on_demand_names=Column([name for _, name in on_demand_outputs]),
        names=Column([*resolved.join_keys, *resolved.names]),
        refs=Column(resolved.refs),
        hidden=hidden,
        keep_columns=bool(resolved.on_demand or hidden),
        shadows=shadows,
        shadow_sample=max((r.sample for r in shadows), default=0.0),
        canary=any(r.stage == "canary" for r in touched),
    )


def _read(
    state: ServingState,
    view: FeatureView,
    record: str,
    features: list[str],
    ttl: dt.timedelta | None,
    empty: Mapping[str, Any] | None,
    output_names: Mapping[tuple[str, str], list[str]],
) -> Read:
    outputs = tuple(
        (i, name)
        for i, feature in enumerate(features)
        for name in output_names.get((view.name, feature), [])
    )
    in_order = [i for i, _ in outputs] == list(range(len(features)))
    rollout = state.rollouts.get(view.name)
    return Read(
        view=view.name,
        record=record,
        namespace=entity_namespace(e.name for e in view.entities),
        join_keys=tuple(view.join_keys),
        features=Selection(features),
        ttl=ttl,
        empty=MappingProxyType(dict(empty)) if empty else None,
        outputs=outputs,
        aligned=tuple(name for _, name in outputs) if in_order else None,
        refs=tuple((view.name, f) for f in features),
        version=state.view_versions.get(view.name, 0),
        canary=canary_read(rollout, record)
        if rollout is not None and rollout.stage == "canary"
        else None,
    )


def rollout_fingerprint(rollouts: Iterable[Any]) -> frozenset[tuple[str, str, int]]:
    """What tells one set of running rollouts from another: ``("rollout", "<view> <stage>
    <fraction> <sample> <candidate>", id)`` per rollout (a refresh watcher compares it)."""
    return frozenset(
        ("rollout", f"{r.view} {r.stage} {r.fraction!r} {r.sample!r} {r.candidate}", r.id)
        for r in rollouts
    )


def _on_demand(resolved: Resolved, odfv: OnDemandFeatureView, names: list[str]) -> OnDemand:
    """Compile an on-demand view's requested features, typed by their inputs' dtypes."""
    schema: dict[str, Any] = {}
    for src in odfv.source_views:
        entry = resolved.views.get(src.name)
        if entry is not None:
            schema |= {f: d for f, d in entry[0].feature_dtypes.items() if d is not None}
    for request in odfv.request_sources:
        schema |= {f: polars_dtype(t) for f, t in request.schema.items()}
    exprs = {f.name: f.expr for f in odfv.features}
    return OnDemand(
        name=odfv.name,
        inputs=tuple((src.name, f) for src in odfv.source_views for f in src.features),
        features=tuple((name, to_python(exprs[name], schema=schema)) for name in names),
    )
