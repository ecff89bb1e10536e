"""The values the registry takes and gives: specs in, stored versions and plans out."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from featurestore.errors import DefinitionError

__all__ = [
    "Action",
    "ObjectSpec",
    "Plan",
    "PlanItem",
    "StoredObject",
    "canonical_json",
    "spec_hash",
]

Action = Literal["add", "change", "unchanged", "remove"]

_MARKS: dict[str, str] = {"add": "+", "change": "~", "unchanged": " ", "remove": "-"}


def canonical_json(spec: dict[str, Any], *, what: str = "spec") -> str:
    """The canonical JSON text of a spec: sorted keys, no whitespace, ASCII, strict (no NaN).

    Args:
        spec: a JSON-ready mapping.
        what: how to name the owner of ``spec`` in an error message.

    Returns:
        The text whose sha256 is the spec's content hash.

    Raises:
        DefinitionError: ``spec`` holds something JSON cannot represent exactly.
    """
    try:
        return json.dumps(spec, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise DefinitionError(f"the spec of {what} is not storable as JSON: {exc}") from None


def spec_hash(canonical: str) -> str:
    """The sha256 hex digest of a canonical JSON text."""
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ObjectSpec:
    """One definition as the registry stores it: a kind, a name and a JSON-ready spec.

    Attributes:
        kind: the kind of object (``"entity"``, ``"source"``, ``"view"``, ``"service"``...).
        name: its name, unique within its kind and project.
        spec: its JSON-ready description; its canonical JSON decides whether it changed.
    """

    kind: str
    name: str
    spec: dict[str, Any]

    @property
    def label(self) -> str:
        """``kind 'name'``, the way messages name the object."""
        return f"{self.kind} {self.name!r}"


@dataclass(frozen=True)
class StoredObject:
    """One stored version of an object.

    Attributes:
        kind: the object's kind.
        name: the object's name.
        version: 1 for the first version, one more for each change (never reused).
        spec: the spec as applied (a fresh copy: editing it changes nothing stored).
        spec_hash: sha256 hex digest of the spec's canonical JSON.
        created_at: when this version was applied (timezone-aware UTC).
    """

    kind: str
    name: str
    version: int
    spec: dict[str, Any]
    spec_hash: str
    created_at: datetime


@dataclass(frozen=True)
class PlanItem:
    """What applying a set of specs does (or did) to one object.

    Attributes:
        kind: the object's kind.
        name: the object's name.
        action: ``"add"`` (new, or back after a removal), ``"change"``, ``"unchanged"`` or
            ``"remove"``.
        old_version: the current version before, ``None`` for an add.
        new_version: the current version after, ``None`` for a removal.
    """

    kind: str
    name: str
    action: Action
    old_version: int | None
    new_version: int | None

    def to_dict(self) -> dict[str, Any]:
        """The item as a JSON-ready dict."""
        return {
            "kind": self.kind,
            "name": self.name,
            "action": self.action,
            "old_version": self.old_version,
            "new_version": self.new_version,
        }


@dataclass(frozen=True)
class Plan:
    """The difference between a set of specs and the registry, and whether it was applied.

    Attributes:
        items: one item per object concerned: the given specs in their order, then removals.
        applied: True when the plan was written (``apply`` without ``dry_run``).
    """

    items: tuple[PlanItem, ...]
    applied: bool = False
    _by_action: dict[str, tuple[PlanItem, ...]] = field(
        init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        groups = {a: tuple(i for i in self.items if i.action == a) for a in _MARKS}
        object.__setattr__(self, "_by_action", groups)

    @property
    def added(self) -> tuple[PlanItem, ...]:
        """Items of objects that are new (or come back after a removal)."""
        return self._by_action["add"]

    @property
    def changed(self) -> tuple[PlanItem, ...]:
        """Items of objects whose spec changed (they get a new version)."""
        return self._by_action["change"]

    @property
    def unchanged(self) -> tuple[PlanItem, ...]:
        """Items of objects whose spec is the current one."""
        return self._by_action["unchanged"]

    @property
    def removed(self) -> tuple[PlanItem, ...]:
        """Items of objects that are no longer defined (soft removal: history stays)."""
        return self._by_action["remove"]

    @property
    def has_changes(self) -> bool:
        """Whether applying the plan writes anything."""
        return bool(self.added or self.changed or self.removed)

    @property
    def notes(self) -> list[str]:
        """What a change means beyond the registry: a changed feature view's features are
        computed with its new version over all history at once, and its online values are
        recomputed by the next ``materialize`` (until then the skew check counts them
        ``outdated``)."""
        return [
            f"feature view {item.name!r} v{item.old_version} -> v{item.new_version}: training "
            f"frames compute every stored row with v{item.new_version}; its online values are "
            "recomputed by the next `featurestore materialize` (until then served values count "
            "as outdated)"
            for item in self.changed
            if item.kind == "feature_view"
        ]

    def summary(self) -> dict[str, int]:
        """Counts per action: ``{"add": n, "change": n, "unchanged": n, "remove": n}``."""
        return {action: len(items) for action, items in self._by_action.items()}

    def to_dict(self) -> dict[str, Any]:
        """The plan as a JSON-ready dict: ``{applied, has_changes, summary, items}``."""
        return {
            "applied": self.applied,
            "has_changes": self.has_changes,
            "summary": self.summary(),
            "items": [item.to_dict() for item in self.items],
            "notes": self.notes,
        }

    def __str__(self) -> str:
        counts = self.summary()
        state = "applied" if self.applied else "planned"
        head = (
            f"Plan ({state}): {counts['add']} to add, {counts['change']} to change, "
            f"{counts['unchanged']} unchanged, {counts['remove']} to remove"
        )
        if not self.items:
            return head + "\n  (nothing defined)"
        width = max(len(f"{i.kind} {i.name}") for i in self.items)
        lines = [head]
        for item in self.items:
            label = f"{item.kind} {item.name}".ljust(width)
            lines.append(f"  {_MARKS[item.action]} {label}  {_versions(item)}")
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


def _versions(item: PlanItem) -> str:
    if item.action == "add":
        return f"new v{item.new_version}"
    if item.action == "change":
        return f"v{item.old_version} -> v{item.new_version}"
    if item.action == "remove":
        return f"v{item.old_version} removed"
    return f"v{item.old_version}"
