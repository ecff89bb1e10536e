"""JSON (de)serialisation of expressions.

Shapes::

    {"col": "fare"}
    {"lit": 1.5, "dtype": "float64"}           # NaN/inf as "nan"/"inf"/"-inf", datetimes ISO 8601
    {"op": "add", "args": [<expr>, <expr>]}     # plus "params": {...} for ops that take them
    {"op": "pow", "args": [<expr>], "params": {"exponent": 2}}  # x ** 2 (a number literal)
    {"op": "pow_expr", "args": [<expr>, <expr>]}                # x ** y (an expression)
    {"when": [{"if": <expr>, "then": <expr>}, ...], "otherwise": <expr> | null}

Reading goes back through the public builders, so a stored tree is checked exactly like one
typed in Python: a tampered document cannot give the compilers an invalid tree.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from featurestore.errors import ExpressionError
from featurestore.expr._case import (
    Case,
    When,
    coalesce,
    max_horizontal,
    min_horizontal,
)
from featurestore.expr._kinds import DATETIME, FLOAT, KINDS
from featurestore.expr._literals import check_number
from featurestore.expr._nodes import Call, Col, Expr, Lit, col, lit
from featurestore.expr._ops import OPS
from featurestore.limits import clip, quote

_Build = Callable[[list[Expr], dict[str, Any]], Expr]

_BUILDERS: dict[str, _Build] = {
    "add": lambda a, p: a[0] + a[1],
    "sub": lambda a, p: a[0] - a[1],
    "mul": lambda a, p: a[0] * a[1],
    "truediv": lambda a, p: a[0] / a[1],
    "floordiv": lambda a, p: a[0] // a[1],
    "mod": lambda a, p: a[0] % a[1],
    "eq": lambda a, p: a[0] == a[1],
    "ne": lambda a, p: a[0] != a[1],
    "lt": lambda a, p: a[0] < a[1],
    "le": lambda a, p: a[0] <= a[1],
    "gt": lambda a, p: a[0] > a[1],
    "ge": lambda a, p: a[0] >= a[1],
    "and": lambda a, p: a[0] & a[1],
    "or": lambda a, p: a[0] | a[1],
    "pow": lambda a, p: a[0] ** check_number(p["exponent"], "the exponent of **"),
    "pow_expr": lambda a, p: a[0] ** a[1],
    "neg": lambda a, p: -a[0],
    "not": lambda a, p: ~a[0],
    "abs": lambda a, p: a[0].abs(),
    "sqrt": lambda a, p: a[0].sqrt(),
    "log": lambda a, p: a[0].log(p["base"]),
    "log1p": lambda a, p: a[0].log1p(),
    "exp": lambda a, p: a[0].exp(),
    "floor": lambda a, p: a[0].floor(),
    "ceil": lambda a, p: a[0].ceil(),
    "round": lambda a, p: a[0].round(p["decimals"]),
    "clip": lambda a, p: a[0].clip(p["lower"], p["upper"]),
    "is_null": lambda a, p: a[0].is_null(),
    "is_nan": lambda a, p: a[0].is_nan(),
    "fill_null": lambda a, p: a[0].fill_null(a[1]),
    "fill_nan": lambda a, p: a[0].fill_nan(a[1]),
    "cast": lambda a, p: a[0].cast(p["dtype"]),
    "str.lower": lambda a, p: a[0].str.lower(),
    "str.upper": lambda a, p: a[0].str.upper(),
    "str.len_chars": lambda a, p: a[0].str.len_chars(),
    "str.contains": lambda a, p: a[0].str.contains(p["pattern"]),
    "str.starts_with": lambda a, p: a[0].str.starts_with(p["prefix"]),
    "dt.hour": lambda a, p: a[0].dt.hour(),
    "dt.weekday": lambda a, p: a[0].dt.weekday(),
    "dt.day": lambda a, p: a[0].dt.day(),
    "dt.month": lambda a, p: a[0].dt.month(),
    "dt.year": lambda a, p: a[0].dt.year(),
    "dt.epoch": lambda a, p: a[0].dt.epoch(),
    "coalesce": lambda a, p: coalesce(*a),
    "min_horizontal": lambda a, p: min_horizontal(*a),
    "max_horizontal": lambda a, p: max_horizontal(*a),
}
assert set(_BUILDERS) == set(OPS)


def _encode_lit(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # "nan", "inf", "-inf": JSON has no such numbers
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def to_dict(expr: Expr) -> dict[str, Any]:
    """The JSON-able data of ``expr``."""
    if isinstance(expr, Col):
        return {"col": expr.name}
    if isinstance(expr, Lit):
        return {"lit": _encode_lit(expr.value), "dtype": expr.kind}
    if isinstance(expr, Call):
        out: dict[str, Any] = {"op": expr.op, "args": [to_dict(a) for a in expr.args]}
        if expr.params:
            out["params"] = dict(expr.params)
        return out
    if isinstance(expr, Case):
        return {
            "when": [{"if": to_dict(c), "then": to_dict(v)} for c, v in expr.branches],
            "otherwise": None if expr.default is None else to_dict(expr.default),
        }
    raise ExpressionError(f"cannot serialise {expr!r}")  # pragma: no cover - closed set


def to_json(expr: Expr) -> str:
    """Deterministic JSON text of ``expr`` (sorted keys, no whitespace)."""
    return json.dumps(to_dict(expr), sort_keys=True, separators=(",", ":"), allow_nan=False)


def from_json(text: str | bytes) -> Expr:
    """Read an expression written by :meth:`Expr.to_json`.

    Raises:
        ExpressionError: the text is not JSON or does not describe a valid expression.
    """
    try:
        data = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise ExpressionError(f"expression JSON cannot be parsed: {exc}") from None
    except RecursionError:
        raise ExpressionError("expression JSON is nested too deeply") from None
    return from_dict(data)


def from_dict(data: Mapping[str, Any]) -> Expr:
    """Read an expression from :meth:`Expr.to_dict` data.

    Raises:
        ExpressionError: an unknown node or operation, a missing or extra key, a bad value.
    """
    try:
        return _read(data, "expression")
    except RecursionError:
        raise ExpressionError("expression JSON is nested too deeply") from None
    except ExpressionError as exc:  # messages repeat names and reprs of what was read
        raise ExpressionError(clip(exc.message)) from None


def _keys(
    data: Any, where: str, required: set[str], optional: frozenset[str] = frozenset()
) -> None:
    if not isinstance(data, Mapping):
        raise ExpressionError(f"{where} must be a JSON object, got {type(data).__name__}")
    keys = set(data)
    if not required <= keys or not keys <= required | optional:
        expected = sorted(required | optional)
        raise ExpressionError(f"{where} has keys {sorted(keys)}; expected {expected}")


def _read(data: Any, where: str) -> Expr:
    if not isinstance(data, Mapping):
        raise ExpressionError(f"{where} must be a JSON object, got {type(data).__name__}")
    if "col" in data:
        _keys(data, where, {"col"})
        name = data["col"]
        if not isinstance(name, str):
            raise ExpressionError(f"{where}: column name must be a string, got {quote(name)}")
        return col(name)
    if "lit" in data:
        _keys(data, where, {"lit", "dtype"})
        return _read_lit(data["lit"], data["dtype"], where)
    if "op" in data:
        _keys(data, where, {"op", "args"}, frozenset({"params"}))
        return _read_call(data, where)
    if "when" in data:
        _keys(data, where, {"when", "otherwise"})
        return _read_case(data, where)
    raise ExpressionError(
        f"{where} is not an expression node (unknown node with keys {sorted(data)}; "
        "expected one of col, lit, op, when)"
    )


def _read_lit(value: Any, kind: Any, where: str) -> Expr:
    if not isinstance(kind, str) or kind not in KINDS:
        raise ExpressionError(f"{where}: unknown literal dtype {quote(kind)}")
    try:
        if kind == FLOAT and isinstance(value, int | str) and not isinstance(value, bool):
            value = float(value)
        elif kind == DATETIME and isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ExpressionError(f"{where}: {quote(value)} is not a {kind} literal") from None
    expr = lit(value)
    if expr.kind != kind:
        raise ExpressionError(f"{where}: literal {quote(value)} is not of dtype {kind}")
    return expr


def _read_call(data: Mapping[str, Any], where: str) -> Expr:
    op = data["op"]
    if not isinstance(op, str) or op not in OPS:
        raise ExpressionError(f"{where}: unknown operation {quote(op)}")
    raw_args = data["args"]
    if not isinstance(raw_args, list):
        raise ExpressionError(f"{where}: args of {quote(op)} must be a list")
    args = [_read(a, f"{where}.args[{i}]") for i, a in enumerate(raw_args)]
    params = data.get("params", {})
    spec = OPS[op]
    if not isinstance(params, Mapping) or set(params) != set(spec.params):
        raise ExpressionError(f"{where}: {quote(op)} takes parameters {list(spec.params)}")
    if spec.arity is not None and len(args) != spec.arity:
        raise ExpressionError(f"{where}: {quote(op)} takes {spec.arity} arguments, got {len(args)}")
    built = _BUILDERS[op](args, dict(params))
    if not isinstance(built, Call) or built.op != op:
        # `x ** lit(2)` is the number-literal "pow" (int64 for an int64 base), so a "pow_expr"
        # document with such an exponent would change meaning if read as written.
        raise ExpressionError(
            f"{where}: {built!r} is written as operation {getattr(built, 'op', None)!r}, not {quote(op)}"
        )
    return built


def _read_case(data: Mapping[str, Any], where: str) -> Expr:
    branches = data["when"]
    if not isinstance(branches, list) or not branches:
        raise ExpressionError(f"{where}: 'when' must be a non-empty list of branches")
    case: Case | None = None
    for i, branch in enumerate(branches):
        here = f"{where}.when[{i}]"
        _keys(branch, here, {"if", "then"})
        cond, value = _read(branch["if"], f"{here}.if"), _read(branch["then"], f"{here}.then")
        pending = When(cond) if case is None else case.when(cond)
        case = pending.then(value)
    assert case is not None
    default = data["otherwise"]
    return case if default is None else case.otherwise(_read(default, f"{where}.otherwise"))
