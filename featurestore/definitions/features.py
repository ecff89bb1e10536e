"""Features: a named expression over a source row, or a windowed aggregate of one."""

from __future__ import annotations

import datetime as dt
from dataclasses import KW_ONLY, dataclass
from typing import Any, ClassVar

from featurestore.definitions.base import check_name, duration, from_micros, micros
from featurestore.errors import DefinitionError
from featurestore.expr import Expr, from_dict

__all__ = ["AGGREGATE_FUNCTIONS", "Aggregate", "Feature", "FeatureLike", "feature_from_spec"]

AGGREGATE_FUNCTIONS = ("count", "sum", "mean", "min", "max", "std", "last")


def _check_expr(owner: str, expr: object) -> Expr:
    if not isinstance(expr, Expr):
        raise DefinitionError(
            f"{owner}: expected an expression built with col()/lit(), got {type(expr).__name__}"
        )
    return expr


@dataclass(frozen=True, eq=False)
class Feature:
    """A row-level feature: ``Feature("fare_log", col("fare").log1p())``.

    The same expression is compiled to Polars for ingestion and training frames and to a
    Python row function for pushes and request-time features.
    """

    aggregate: ClassVar[bool] = False

    name: str
    expr: Expr
    _: KW_ONLY
    description: str = ""

    def __post_init__(self) -> None:
        check_name("Feature", self.name)
        _check_expr(f"Feature {self.name!r}", self.expr)

    def to_spec(self) -> dict[str, Any]:
        return {
            "type": "feature",
            "name": self.name,
            "expr": self.expr.to_dict(),
            "description": self.description,
        }


@dataclass(frozen=True, eq=False, init=False)
class Aggregate:
    """A windowed aggregate: ``Aggregate("fare_sum_7d", col("fare"), "sum", window=timedelta(days=7))``.

    The value at time ``t`` aggregates the entity's rows with ``t - window < event_ts <= t`` that
    were known at ``t``. ``fn`` is one of count, sum, mean, min, max, std (sample, ddof=1), last.
    """

    aggregate: ClassVar[bool] = True

    name: str
    expr: Expr
    fn: str
    window: dt.timedelta
    description: str

    def __init__(
        self, name: str, expr: Expr, fn: str, /, *, window: dt.timedelta, description: str = ""
    ) -> None:
        check_name("Aggregate", name)
        owner = f"Aggregate {name!r}"
        _check_expr(owner, expr)
        if fn not in AGGREGATE_FUNCTIONS:
            raise DefinitionError(
                f"{owner}: unknown aggregate function {fn!r}; use one of {', '.join(AGGREGATE_FUNCTIONS)}"
            )
        checked = duration(owner, "window", window)
        if checked is None:
            raise DefinitionError(f"{owner}: window is required")
        for attr, value in (
            ("name", name),
            ("expr", expr),
            ("fn", fn),
            ("window", checked),
            ("description", description),
        ):
            object.__setattr__(self, attr, value)

    def to_spec(self) -> dict[str, Any]:
        return {
            "type": "aggregate",
            "name": self.name,
            "expr": self.expr.to_dict(),
            "fn": self.fn,
            "window_us": micros(self.window),
            "description": self.description,
        }


FeatureLike = Feature | Aggregate


def feature_from_spec(spec: dict[str, Any]) -> FeatureLike:
    """Rebuild a Feature or Aggregate from its spec."""
    expr = from_dict(spec["expr"])
    if spec["type"] == "aggregate":
        window = from_micros(spec["window_us"])
        assert window is not None
        return Aggregate(
            spec["name"], expr, spec["fn"], window=window, description=spec.get("description", "")
        )
    return Feature(spec["name"], expr, description=spec.get("description", ""))
