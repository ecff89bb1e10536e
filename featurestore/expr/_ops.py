"""The closed set of operations: arity, literal parameters and how each one is written."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Style = Literal["binary", "prefix", "method", "function"]


@dataclass(frozen=True, slots=True)
class OpSpec:
    """How one operation looks: ``text`` is its operator or method/function name.

    ``arity`` is the number of expression arguments (``None``: one or more); ``params`` are the
    names of its literal parameters, in the order the method takes them.
    """

    style: Style
    text: str
    arity: int | None = 1
    params: tuple[str, ...] = ()

    def label(self) -> str:
        """How the operation is named in error messages."""
        if self.style in ("binary", "prefix"):
            return f"'{self.text}'"
        if self.style == "method":
            return f".{self.text}()"
        return f"{self.text}()"


def _binary(text: str) -> OpSpec:
    return OpSpec("binary", text, 2)


def _method(text: str, *params: str, arity: int = 1) -> OpSpec:
    return OpSpec("method", text, arity, params)


OPS: Final[dict[str, OpSpec]] = {
    "add": _binary("+"),
    "sub": _binary("-"),
    "mul": _binary("*"),
    "truediv": _binary("/"),
    "floordiv": _binary("//"),
    "mod": _binary("%"),
    "eq": _binary("=="),
    "ne": _binary("!="),
    "lt": _binary("<"),
    "le": _binary("<="),
    "gt": _binary(">"),
    "ge": _binary(">="),
    "and": _binary("&"),
    "or": _binary("|"),
    "pow": OpSpec("binary", "**", 1, ("exponent",)),  # a number-literal exponent
    "pow_expr": _binary("**"),  # an expression exponent
    "neg": OpSpec("prefix", "-"),
    "not": OpSpec("prefix", "~"),
    "abs": _method("abs"),
    "sqrt": _method("sqrt"),
    "log": _method("log", "base"),
    "log1p": _method("log1p"),
    "exp": _method("exp"),
    "floor": _method("floor"),
    "ceil": _method("ceil"),
    "round": _method("round", "decimals"),
    "clip": _method("clip", "lower", "upper"),
    "is_null": _method("is_null"),
    "is_nan": _method("is_nan"),
    "fill_null": _method("fill_null", arity=2),
    "fill_nan": _method("fill_nan", arity=2),
    "cast": _method("cast", "dtype"),
    "str.lower": _method("str.lower"),
    "str.upper": _method("str.upper"),
    "str.len_chars": _method("str.len_chars"),
    "str.contains": _method("str.contains", "pattern"),
    "str.starts_with": _method("str.starts_with", "prefix"),
    "dt.hour": _method("dt.hour"),
    "dt.weekday": _method("dt.weekday"),
    "dt.day": _method("dt.day"),
    "dt.month": _method("dt.month"),
    "dt.year": _method("dt.year"),
    "dt.epoch": _method("dt.epoch"),
    "coalesce": OpSpec("function", "coalesce", None),
    "min_horizontal": OpSpec("function", "min_horizontal", None),
    "max_horizontal": OpSpec("function", "max_horizontal", None),
}
