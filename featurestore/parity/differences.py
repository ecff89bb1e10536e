"""How one value of a feature compares with another, and the tally of those comparisons.

The skew check (a served value against its offline recomputation) and the rollout report (a
candidate's value against the one served beside it) judge and add up differences alike, here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["REL_TOL", "Tally", "same_value"]

REL_TOL = 1e-9


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def same_value(a: Any, b: Any) -> bool:
    """Exact equality, except floats: within 1e-9 relative, and NaN equals NaN."""
    if a is None or b is None:
        return a is None and b is None
    if _number(a) and _number(b) and (isinstance(a, float) or isinstance(b, float)):
        x, y = float(a), float(b)
        if math.isnan(x) or math.isnan(y):
            return math.isnan(x) and math.isnan(y)
        if math.isinf(x) or math.isinf(y):
            return x == y
        return abs(x - y) <= REL_TOL * max(abs(x), abs(y))
    return bool(type(a) is type(b) and a == b)


@dataclass
class Tally:
    """The comparisons of one feature's values (``ours``) with their counterparts (``theirs``):
    a count per class, nulls on either side, numeric differences of mismatches (absolute and
    SMAPE) and a few examples of what did not match."""

    view: str
    feature: str
    classes: Iterable[str] = ("match", "mismatch")
    counts: dict[str, int] = field(init=False)
    both_null: int = 0
    ours_null: int = 0
    theirs_null: int = 0
    diffs: list[float] = field(default_factory=list)
    smapes: list[float] = field(default_factory=list)
    examples: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.counts = dict.fromkeys(self.classes, 0)

    def add(
        self, cls: str, ours: Any, theirs: Any, example: Callable[[], dict[str, Any]], limit: int
    ) -> None:
        """Count one comparison of class ``cls``; ``example`` is called only if it is kept."""
        self.counts[cls] += 1
        if ours is None and theirs is None:
            self.both_null += 1
        elif ours is None:
            self.ours_null += 1
        elif theirs is None:
            self.theirs_null += 1
        if cls == "mismatch" and _number(ours) and _number(theirs):
            x, y = float(ours), float(theirs)
            if math.isfinite(x) and math.isfinite(y):
                self.diffs.append(abs(x - y))
                if abs(x) + abs(y) > 0:
                    self.smapes.append(2 * abs(x - y) / (abs(x) + abs(y)))
        if cls != "match" and len(self.examples) < limit:
            self.examples.append(example())

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def mean_abs_diff(self) -> float | None:
        return sum(self.diffs) / len(self.diffs) if self.diffs else None

    @property
    def max_abs_diff(self) -> float | None:
        return max(self.diffs) if self.diffs else None

    @property
    def smape(self) -> float | None:
        return sum(self.smapes) / len(self.smapes) if self.smapes else None
