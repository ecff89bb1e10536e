"""Turn feature references (or a service name) into the views and features to compute.

Shared by training frames and online serving, so both answer the same request the same way:
same order, same names, same on-demand inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from featurestore.definitions import (
    FeatureService,
    FeatureView,
    OnDemandFeatureView,
    parse_ref,
)
from featurestore.errors import NotFoundError, RequestError
from featurestore.limits import quote

__all__ = ["Lookup", "Resolved", "resolve"]


@dataclass
class Lookup:
    """How to find current definitions by name (the registry, or a set of objects)."""

    view: Callable[[str], FeatureView | OnDemandFeatureView]
    service: Callable[[str], FeatureService]


@dataclass
class Resolved:
    """What a request asks for.

    Attributes:
        refs: the requested ``(view, feature)`` pairs, in the answer's order.
        names: the output column name of each ref (``feature`` or ``view__feature``).
        views: stored views to read, with every feature needed (requested or an on-demand input).
        on_demand: on-demand views to compute, with their requested features.
    """

    refs: list[tuple[str, str]]
    names: list[str]
    views: dict[str, tuple[FeatureView, list[str]]] = field(default_factory=dict)
    on_demand: dict[str, tuple[OnDemandFeatureView, list[str]]] = field(default_factory=dict)

    @property
    def join_keys(self) -> list[str]:
        """Every join key of the stored views involved, in first-seen order."""
        keys: list[str] = []
        for view, _ in self.views.values():
            keys += [k for k in view.join_keys if k not in keys]
        return keys

    @property
    def request_fields(self) -> dict[str, str]:
        """Request-data field -> type name, over all on-demand views involved."""
        fields: dict[str, str] = {}
        for odfv, _ in self.on_demand.values():
            for source in odfv.request_sources:
                fields.update(source.schema)
        return fields

    def name_of(self, view: str, feature: str) -> str:
        return self.names[self.refs.index((view, feature))]


def _need(resolved: Resolved, view: FeatureView, feature: str) -> None:
    entry = resolved.views.setdefault(view.name, (view, []))
    if feature not in entry[1]:
        entry[1].append(feature)


def resolve(
    lookup: Lookup,
    *,
    features: Sequence[str] | None = None,
    service: str | None = None,
    full_feature_names: bool = False,
) -> Resolved:
    """Resolve ``features`` (``"view:feature"`` refs) or ``service`` into what to compute.

    Raises:
        RequestError: neither or both were given, a reference is malformed or repeated, or two
            features share an output name without ``full_feature_names``.
        NotFoundError: an unknown service, view or feature.
    """
    if (features is None) == (service is None):
        raise RequestError("give either features or a feature service, not both or neither")
    if service is not None:
        refs = [parse_ref(r) for r in lookup.service(service).refs]
    else:
        assert features is not None
        if isinstance(features, str):
            features = [features]
        if not features:
            raise RequestError("features must name at least one 'view:feature'")
        refs = [_parse_request_ref(r) for r in features]
    if len(set(refs)) != len(refs):
        dupe = next(r for r in refs if refs.count(r) > 1)
        raise RequestError(f"feature {quote(f'{dupe[0]}:{dupe[1]}')} is requested twice")
    names = [f"{v}__{f}" if full_feature_names else f for v, f in refs]
    seen: dict[str, str] = {}
    for (v, _), name in zip(refs, names, strict=True):
        if name in seen:
            raise RequestError(
                f"feature name {quote(name)} comes from both {quote(seen[name])} and {quote(v)}; "
                "use full_feature_names=True"
            )
        seen[name] = v
    resolved = Resolved(refs=refs, names=names)
    for view_name, feature in refs:
        obj = lookup.view(view_name)
        if feature not in obj.feature_names:
            raise NotFoundError(f"view {quote(view_name)} has no feature {quote(feature)}")
        if isinstance(obj, FeatureView):
            _need(resolved, obj, feature)
            continue
        entry = resolved.on_demand.setdefault(obj.name, (obj, []))
        entry[1].append(feature)
        # only the inputs this feature's expression uses are read (online) or joined (offline)
        used = next(f.expr for f in obj.features if f.name == feature).columns()
        for src in obj.source_views:
            source_view = lookup.view(src.name)
            if not isinstance(source_view, FeatureView):
                raise NotFoundError(
                    f"on-demand view {obj.name!r}: source {src.name!r} is not a view"
                )
            for needed in (f for f in src.features if f in used):
                if needed not in source_view.feature_names:
                    raise NotFoundError(
                        f"on-demand view {obj.name!r} needs {src.name}:{needed}, which no longer exists"
                    )
                _need(resolved, source_view, needed)
    return resolved


def _parse_request_ref(ref: object) -> tuple[str, str]:
    if not isinstance(ref, str) or ref.count(":") != 1:
        raise RequestError(f"feature reference {quote(ref)} must look like 'view:feature'")
    view, feature = ref.split(":")
    if not view or not feature:
        raise RequestError(f"feature reference {quote(ref)} must look like 'view:feature'")
    return view, feature
