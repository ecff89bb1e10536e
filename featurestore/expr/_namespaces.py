"""``expr.str`` and ``expr.dt``: the string and datetime operations."""

from __future__ import annotations

from featurestore.expr._literals import check_text
from featurestore.expr._nodes import Call, Expr


class StrNamespace:
    """``expr.str``: string operations on unicode text."""

    __slots__ = ("_expr",)

    def __init__(self, expr: Expr) -> None:
        self._expr = expr

    def lower(self) -> Expr:
        """Lower-case."""
        return Call.make("str.lower", (self._expr,))

    def upper(self) -> Expr:
        """Upper-case."""
        return Call.make("str.upper", (self._expr,))

    def len_chars(self) -> Expr:
        """Number of unicode code points, as int64."""
        return Call.make("str.len_chars", (self._expr,))

    def contains(self, literal_pattern: str) -> Expr:
        """Whether the text contains ``literal_pattern`` (plain text, not a regex)."""
        pattern = check_text(literal_pattern, "str.contains() pattern")
        return Call.make("str.contains", (self._expr,), pattern=pattern)

    def starts_with(self, prefix: str) -> Expr:
        """Whether the text starts with ``prefix``."""
        text = check_text(prefix, "str.starts_with() prefix")
        return Call.make("str.starts_with", (self._expr,), prefix=text)


class DtNamespace:
    """``expr.dt``: parts of a UTC datetime, each as int64."""

    __slots__ = ("_expr",)

    def __init__(self, expr: Expr) -> None:
        self._expr = expr

    def hour(self) -> Expr:
        """Hour of the day, 0-23."""
        return Call.make("dt.hour", (self._expr,))

    def weekday(self) -> Expr:
        """ISO weekday: Monday 1 ... Sunday 7."""
        return Call.make("dt.weekday", (self._expr,))

    def day(self) -> Expr:
        """Day of the month, 1-31."""
        return Call.make("dt.day", (self._expr,))

    def month(self) -> Expr:
        """Month, 1-12."""
        return Call.make("dt.month", (self._expr,))

    def year(self) -> Expr:
        """Year."""
        return Call.make("dt.year", (self._expr,))

    def epoch(self) -> Expr:
        """Microseconds since 1970-01-01 UTC (Polars' default epoch unit)."""
        return Call.make("dt.epoch", (self._expr,))
