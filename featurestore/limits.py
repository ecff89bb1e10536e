"""The bounds every value must keep to before it is stored: refused at the door, never later.

A value that cannot be stored or reported on later (an integer beyond int64, a time before 1900
or past ``ingestion.max_future``, a window of centuries, JSON nested a thousand deep) is refused
where it arrives, with a :class:`~featurestore.errors.RequestError` naming it; let through, it
would break every report that reads it afterwards. The HTTP server, push, feedback and
materialize share these checks; :func:`quote` keeps the input an error message repeats short.
"""

from __future__ import annotations

import datetime as dt
import re
import reprlib
from collections.abc import Mapping
from typing import Any

import orjson

from featurestore.errors import RequestError

__all__ = [
    "EARLIEST",
    "EPOCH",
    "INT64_MAX",
    "INT64_MIN",
    "MAX_DEPTH",
    "MAX_WINDOW",
    "QUOTE_CHARS",
    "check_fields",
    "check_int",
    "check_time",
    "check_values",
    "clip",
    "quote",
]

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
#: the earliest time a value may carry (reports and pandas' nanosecond times start after it)
EARLIEST = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
#: the Unix epoch, in UTC: stored times are microseconds since it
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
#: the deepest JSON nesting a body may have (the deepest valid body nests 4 levels)
MAX_DEPTH = 32
#: the widest report window (windows are stepped from the first feedback to the last)
MAX_WINDOW = dt.timedelta(days=3660)
#: the most characters of input an error message repeats
QUOTE_CHARS = 100
#: the longest error message sent (input is quoted short already; this bounds the rest)
_MESSAGE_CHARS = 1000


class _Short(reprlib.Repr):
    """reprlib's bounded repr (its depth limit also keeps it from recursing), with integers
    too long to print described by their size instead of raising."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 3
        self.maxstring = self.maxother = self.maxlong = QUOTE_CHARS
        self.maxlist = self.maxtuple = self.maxdict = self.maxset = 10

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 256:
            return f"<an integer of {x.bit_length()} bits>"
        return super().repr_int(x, level)


_SHORT = _Short()


def quote(value: Any, *, limit: int = QUOTE_CHARS) -> str:
    """``repr(value)`` for an error message, showing at most ``limit`` characters of the input
    (a longer string says how long it was); never recursive, never raises."""
    if isinstance(value, str):
        if len(value) <= limit:
            return repr(value)
        return f"{value[:limit]!r}... ({len(value)} characters)"
    text = _SHORT.repr(value)  # a broken __repr__ shows as <Type instance at ...>
    return text if len(text) <= 2 * limit else text[: 2 * limit] + "..."


def check_int(value: int, what: str) -> int:
    """``value`` if it fits int64, else a RequestError naming ``what``."""
    if not INT64_MIN <= value <= INT64_MAX:
        raise RequestError(f"{what} {quote(value)} does not fit a 64-bit integer")
    return value


def check_time(
    value: dt.datetime | None, what: str, *, latest: dt.datetime | None = None
) -> dt.datetime | None:
    """``value`` (timezone-aware, or None) if it is from 1900 on and not later than ``latest``.

    Raises:
        RequestError: earlier or later, naming ``what``.
    """
    if value is None:
        return None
    if value < EARLIEST:
        raise RequestError(f"{what} {value.isoformat()} is before 1900")
    if latest is not None and value > latest:
        raise RequestError(
            f"{what} {value.isoformat()} is later than now plus ingestion.max_future "
            f"({latest.isoformat()})"
        )
    return value


def check_values(
    value: Any, what: str = "the request body", *, limit: int = MAX_DEPTH, depth: int = 1
) -> None:
    """Refuse ``value`` (parsed JSON) if it nests deeper than ``limit`` or holds an integer
    beyond int64 (``depth``: how deep ``value`` itself sits in the body). Walks without
    recursion, so no depth of input can exhaust the stack.

    Raises:
        RequestError: naming ``what``.
    """
    stack: list[tuple[Any, int]] = [(value, depth)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, int):
            if not INT64_MIN <= item <= INT64_MAX:
                raise RequestError(
                    f"{what} holds the integer {quote(item)}, which does not fit 64 bits"
                )
            continue
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth > limit:
            raise RequestError(f"{what} nests deeper than {limit} levels of JSON")
        stack.extend((child, depth + 1) for child in children)


def check_fields(body: Any, what: str = "the request body", *, limit: int = MAX_DEPTH) -> None:
    """:func:`check_values` on a body, naming the field (``df.rating`` two levels down) that
    holds the value at fault."""
    if not isinstance(body, Mapping):
        check_values(body, what, limit=limit)
        return
    for key, field in body.items():
        name = f"field {quote(key)}"
        if isinstance(field, Mapping):
            for inner, column in field.items():
                check_values(column, f"field {quote(f'{key}.{inner}')}", limit=limit, depth=3)
        else:
            check_values(field, name, limit=limit, depth=2)


#: a quoted string (a Python repr) in a message: it opens after no letter or digit (an
#: apostrophe in "view's" opens nothing); matched left to right, so the quote marks inside a
#: string repr put in double quotes are never taken for one of their own
_QUOTED = re.compile(r"""(?<!\w)(?:'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")""")


def _cut_quote(match: re.Match[str]) -> str:
    quoted = match.group(0)
    inner = quoted[1:-1]
    if len(inner) <= QUOTE_CHARS or match.string.startswith("... (", match.end()):
        return quoted  # short, or cut by quote() already
    shown = inner[:QUOTE_CHARS]
    if (len(shown) - len(shown.rstrip("\\"))) % 2:  # do not end inside an escape
        shown = shown[:-1]
    return f"{quoted[0]}{shown}{quoted[0]}... ({len(inner)} characters quoted)"


def clip(message: str) -> str:
    """An error message safe to send: every quoted input cut to ``QUOTE_CHARS`` characters
    (messages quote names with ``repr``; :func:`quote` cuts them where it is used), at most a
    thousand characters once written as JSON (control characters grow sixfold there), lone
    surrogates escaped (they cannot be written as UTF-8)."""
    text = message.encode("utf-8", "backslashreplace").decode("utf-8")
    text = _QUOTED.sub(_cut_quote, text)
    cut = len(text)
    while (written := len(orjson.dumps(text[:cut])) - 2) > _MESSAGE_CHARS:
        cut = cut * _MESSAGE_CHARS // written  # shrinks every turn, as written > the bound
    return text if cut == len(text) else text[:cut] + "..."
