"""Feature services: the named, ordered list of features a model consumes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, ClassVar

from featurestore.definitions.base import Definition, check_name
from featurestore.definitions.views import FeatureView, FeatureViewProjection, OnDemandFeatureView
from featurestore.errors import DefinitionError

__all__ = ["FeatureService", "parse_ref"]


def parse_ref(ref: str, owner: str = "feature reference") -> tuple[str, str]:
    """Split a ``"view:feature"`` reference, raising a DefinitionError that names it."""
    view, sep, feature = ref.partition(":") if isinstance(ref, str) else ("", "", "")
    if not sep or not view or not feature or ":" in feature:
        raise DefinitionError(f"{owner}: {ref!r} is not a 'view:feature' reference")
    check_name(f"{owner} view", view)
    check_name(f"{owner} feature", feature)
    return view, feature


@dataclass(frozen=True, eq=False)
class FeatureService(Definition):
    """An ordered list of features, named so a model and the server can ask for all of them.

    ``features`` items are views (all their features), projections (``view[["a", "b"]]``) or
    ``"view:feature"`` strings. Responses keep this order.
    """

    kind: ClassVar[str] = "feature_service"

    name: str
    _: KW_ONLY
    features: Sequence[FeatureView | OnDemandFeatureView | FeatureViewProjection | str]
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_name("FeatureService", self.name)
        owner = f"FeatureService {self.name!r}"
        if isinstance(self.features, str | bytes) or not self.features:
            raise DefinitionError(f"{owner}: features must be a non-empty list")
        refs: list[str] = []
        for item in self.features:
            if isinstance(item, FeatureView | OnDemandFeatureView):
                refs += [f"{item.name}:{name}" for name in item.feature_names]
            elif isinstance(item, FeatureViewProjection):
                refs += item.refs()
            elif isinstance(item, str):
                parse_ref(item, owner)
                refs.append(item)
            else:
                raise DefinitionError(
                    f"{owner}: features must be views, view[[...]] projections or "
                    f"'view:feature' strings, got {type(item).__name__}"
                )
        dupes = sorted({r for r in refs if refs.count(r) > 1})
        if dupes:
            raise DefinitionError(f"{owner}: feature {dupes[0]!r} is listed twice")
        object.__setattr__(self, "features", tuple(refs))
        object.__setattr__(self, "tags", dict(self.tags))

    @property
    def refs(self) -> list[str]:
        """The ``"view:feature"`` references, in order."""
        return list(self.features)  # type: ignore[arg-type]

    def to_spec(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "features": self.refs,
            "description": self.description,
            "tags": dict(sorted(self.tags.items())),
        }
