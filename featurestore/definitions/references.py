"""Checks across definitions: on-demand views and services must name views and features that
exist, and retraining policies a feature service that exists."""

from __future__ import annotations

from collections.abc import Mapping

from featurestore.definitions.base import Definition
from featurestore.definitions.policies import RetrainPolicy
from featurestore.definitions.services import FeatureService, parse_ref
from featurestore.definitions.views import FeatureView, OnDemandFeatureView
from featurestore.errors import DefinitionError

__all__ = ["check_references"]


def check_references(state: Mapping[tuple[str, str], Definition]) -> None:
    """Check that on-demand views and services refer to views and features that exist, and
    policies to services that exist."""
    views: dict[str, FeatureView | OnDemandFeatureView] = {}
    for (kind, name), obj in state.items():
        if kind in ("feature_view", "on_demand_feature_view"):
            if name in views:
                raise DefinitionError(
                    f"a feature view and an on-demand view are both named {name!r}"
                )
            assert isinstance(obj, FeatureView | OnDemandFeatureView)
            views[name] = obj
    for obj in state.values():
        if isinstance(obj, OnDemandFeatureView):
            for src in obj.source_views:
                target = views.get(src.name)
                if not isinstance(target, FeatureView):
                    raise DefinitionError(
                        f"OnDemandFeatureView {obj.name!r}: source view {src.name!r} is not defined"
                    )
                lost = [f for f in src.features if f not in target.feature_names]
                if lost:
                    raise DefinitionError(
                        f"OnDemandFeatureView {obj.name!r}: view {src.name!r} has no feature {lost[0]!r}"
                    )
        if isinstance(obj, FeatureService):
            for ref in obj.refs:
                view_name, feature = parse_ref(ref, f"FeatureService {obj.name!r}")
                target = views.get(view_name)
                if target is None:
                    raise DefinitionError(
                        f"FeatureService {obj.name!r}: unknown feature view {view_name!r} in {ref!r}"
                    )
                if feature not in target.feature_names:
                    raise DefinitionError(
                        f"FeatureService {obj.name!r}: view {view_name!r} has no feature {feature!r}"
                    )
        if isinstance(obj, RetrainPolicy) and ("feature_service", obj.service_name) not in state:
            raise DefinitionError(
                f"RetrainPolicy {obj.name!r}: unknown feature service {obj.service_name!r}"
            )
