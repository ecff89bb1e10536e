"""``when(...).then(...).otherwise(...)`` and the functions over several expressions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from featurestore.errors import ExpressionError
from featurestore.expr import _kinds
from featurestore.expr._nodes import Call, Expr, lit


class Case(Expr):
    """``when(c1).then(v1).when(c2).then(v2).otherwise(v)``: the first true condition wins.

    A null condition counts as false; without ``otherwise`` the fallback is null.
    """

    __slots__ = ("branches", "default")
    branches: tuple[tuple[Expr, Expr], ...]
    default: Expr | None

    def __init__(self, branches: tuple[tuple[Expr, Expr], ...], default: Expr | None) -> None:
        if not branches:
            raise ExpressionError("when/then needs at least one when(...).then(...) branch")
        values = [v.kind for _, v in branches] + [_kinds.NULL if default is None else default.kind]
        kind = _kinds.infer_case([c.kind for c, _ in branches], values)
        object.__setattr__(self, "branches", branches)
        object.__setattr__(self, "default", default)
        key = (
            "case",
            tuple((c._key, v._key) for c, v in branches),
            None if default is None else default._key,
        )
        columns = frozenset().union(*(e._columns for e in self.children()))
        self._init(key, columns, kind)

    def children(self) -> Iterator[Expr]:
        for cond, value in self.branches:
            yield cond
            yield value
        if self.default is not None:
            yield self.default

    def when(self, condition: Any) -> When:
        """Add another condition, tried when the earlier ones are not true."""
        if self.default is not None:
            raise ExpressionError(f"{self!r} already has otherwise(); add when() before it")
        return When(lit(condition), self.branches)

    def otherwise(self, value: Any) -> Case:
        """The value when no condition is true."""
        if self.default is not None:
            raise ExpressionError(f"{self!r} already has otherwise()")
        return Case(self.branches, lit(value))

    def __repr__(self) -> str:
        from featurestore.expr._repr import case_repr

        return case_repr(self)


class When:
    """A condition waiting for its ``.then(value)``; not an expression yet."""

    __slots__ = ("_branches", "_condition")

    def __init__(self, condition: Expr, branches: tuple[tuple[Expr, Expr], ...] = ()) -> None:
        self._condition = condition
        self._branches = branches

    def then(self, value: Any) -> Case:
        """The value where the condition is true."""
        return Case((*self._branches, (self._condition, lit(value))), None)

    def __repr__(self) -> str:
        return f"when({self._condition!r})"


def when(condition: Any) -> When:
    """Start ``when(condition).then(value)[.when(...).then(...)].otherwise(value)``."""
    return When(lit(condition))


def coalesce(*exprs: Any) -> Expr:
    """The first non-null value among ``exprs``."""
    return Call.make("coalesce", tuple(lit(e) for e in exprs))


def min_horizontal(*exprs: Any) -> Expr:
    """The smallest non-null value among ``exprs`` (NaN only when all are NaN)."""
    return Call.make("min_horizontal", tuple(lit(e) for e in exprs))


def max_horizontal(*exprs: Any) -> Expr:
    """The largest non-null value among ``exprs`` (NaN only when all are NaN)."""
    return Call.make("max_horizontal", tuple(lit(e) for e in exprs))
