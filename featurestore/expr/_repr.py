"""Readable reprs, written the way the expression would be typed: ``(col("fare") + 1).log1p()``."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from featurestore.expr._literals import literal_repr
from featurestore.expr._ops import OPS

if TYPE_CHECKING:
    from featurestore.expr._case import Case
    from featurestore.expr._nodes import Call, Expr

_DEFAULTS: dict[tuple[str, str], Any] = {("log", "base"): math.e, ("round", "decimals"): 0}


def operand(expr: Expr) -> str:
    """An argument's repr: a plain value for simple literals, else the expression's repr."""
    from featurestore.expr._nodes import Lit

    if isinstance(expr, Lit) and not isinstance(expr.value, float | type(None)):
        return literal_repr(expr.value)
    if isinstance(expr, Lit) and isinstance(expr.value, float) and math.isfinite(expr.value):
        return repr(expr.value)
    return repr(expr)


def argument(expr: Expr) -> str:
    """A whole argument's repr: like :func:`operand`, without a binary operator's parentheses."""
    text = operand(expr)
    from featurestore.expr._nodes import Call

    if isinstance(expr, Call) and OPS[expr.op].style == "binary":
        return text[1:-1]
    return text


def _params(op: str, params: tuple[tuple[str, Any], ...]) -> list[str]:
    shown = []
    for name, value in params:
        if (op, name) in _DEFAULTS and value == _DEFAULTS[(op, name)]:
            continue
        shown.append(literal_repr(value))
    return shown


def call_repr(call: Call) -> str:
    """The repr of a call node."""
    return call_text(call.op, call.args, call.params)


def call_text(op: str, args: tuple[Expr, ...], params: tuple[tuple[str, Any], ...]) -> str:
    """How ``op`` over ``args`` is written (also for a call that failed to build)."""
    spec = OPS[op]
    if op == "pow":
        return f"({operand(args[0])} ** {literal_repr(dict(params)['exponent'])})"
    if spec.style == "binary":
        return f"({operand(args[0])} {spec.text} {operand(args[1])})"
    if spec.style == "prefix":
        return f"{spec.text}{args[0]!r}"
    if spec.style == "function":
        return f"{spec.text}({', '.join(argument(a) for a in args)})"
    inner = ", ".join([argument(a) for a in args[1:]] + _params(op, params))
    return f"{args[0]!r}.{spec.text}({inner})"


def case_repr(case: Case) -> str:
    """The repr of a when/then/otherwise node."""
    parts = [f"when({argument(c)}).then({argument(v)})" for c, v in case.branches]
    text = ".".join(parts)
    if case.default is not None:
        text += f".otherwise({argument(case.default)})"
    return text
