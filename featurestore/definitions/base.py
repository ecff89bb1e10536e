"""What every definition shares: name rules, spec-based equality, type names, durations."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any, ClassVar

import orjson

from featurestore.errors import DefinitionError
from featurestore.limits import quote

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

#: the value types a schema may name; Python types and Polars dtypes are mapped onto these names
TYPE_NAMES = ("int64", "float64", "bool", "str", "datetime")


def check_name(kind: str, name: object) -> str:
    """Return ``name`` if it is an identifier, else raise a DefinitionError naming the object."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):  # match() lets "name\n" by
        raise DefinitionError(
            f"{kind} name {quote(name)} is invalid: use letters, digits and underscores, "
            "not starting with a digit"
        )
    return name


def type_name(owner: str, column: str, value: Any) -> str:
    """Normalise a Python type, a Polars dtype or a type name to one of :data:`TYPE_NAMES`."""
    import polars as pl

    python_types: dict[Any, str] = {
        int: "int64",
        float: "float64",
        bool: "bool",
        str: "str",
        dt.datetime: "datetime",
    }
    if isinstance(value, str) and value in TYPE_NAMES:
        return value
    if value in python_types:
        return python_types[value]
    if isinstance(value, pl.DataType) or (
        isinstance(value, type) and issubclass(value, pl.DataType)
    ):
        dtype = value() if isinstance(value, type) else value
        if dtype.is_integer():
            return "int64"
        if dtype.is_float():
            return "float64"
        if dtype == pl.Boolean:
            return "bool"
        if dtype in (pl.Utf8, pl.String, pl.Categorical):
            return "str"
        if isinstance(dtype, pl.Datetime):
            return "datetime"
    raise DefinitionError(
        f"{owner}: column {column!r} has unsupported type {value!r}; "
        f"use int, float, bool, str, datetime or one of {', '.join(TYPE_NAMES)}"
    )


def normalise_schema(owner: str, schema: Mapping[str, Any] | None) -> dict[str, str] | None:
    """Map column -> type name, checking every column name."""
    if schema is None:
        return None
    if not isinstance(schema, Mapping):
        raise DefinitionError(f"{owner}: schema must be a mapping of column name to type")
    return {check_name(f"{owner} column", k): type_name(owner, k, v) for k, v in schema.items()}


def polars_dtype(name: str) -> Any:
    """The Polars dtype for a type name (datetimes are microsecond UTC)."""
    import polars as pl

    return {
        "int64": pl.Int64,
        "float64": pl.Float64,
        "bool": pl.Boolean,
        "str": pl.String,
        "datetime": pl.Datetime("us", "UTC"),
    }[name]


def duration(owner: str, what: str, value: dt.timedelta | None) -> dt.timedelta | None:
    """Check that a ttl or window is a positive timedelta (or None)."""
    if value is None:
        return None
    if not isinstance(value, dt.timedelta):
        raise DefinitionError(f"{owner}: {what} must be a datetime.timedelta, got {value!r}")
    if value <= dt.timedelta(0):
        raise DefinitionError(f"{owner}: {what} must be positive, got {value}")
    return value


def micros(value: dt.timedelta | None) -> int | None:
    """A timedelta as whole microseconds (exact in JSON)."""
    return None if value is None else value // dt.timedelta(microseconds=1)


def from_micros(value: int | None) -> dt.timedelta | None:
    return None if value is None else dt.timedelta(microseconds=value)


class Definition:
    """Base of every registry object: equality, hashing and JSON all come from :meth:`to_spec`.

    Definitions hold expressions, whose ``==`` builds a comparison (as in Polars), so the
    dataclass-generated equality cannot be used; comparing canonical specs is exact and cheap.
    """

    kind: ClassVar[str]
    name: str

    def to_spec(self) -> dict[str, Any]:
        raise NotImplementedError

    def spec_json(self) -> bytes:
        """The canonical JSON of :meth:`to_spec` (sorted keys): what the registry hashes.

        Computed once per object: a definition is frozen once built, so its spec never changes
        (kept in the instance dict, as ``functools.cached_property`` does on frozen classes).
        """
        cached: bytes | None = self.__dict__.get("_spec_json")
        if cached is None:
            cached = orjson.dumps(self.to_spec(), option=orjson.OPT_SORT_KEYS)
            self.__dict__["_spec_json"] = cached
        return cached

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Definition)
        return self is other or self.spec_json() == other.spec_json()

    def __hash__(self) -> int:
        cached: int | None = self.__dict__.get("_spec_hash")
        if cached is None:
            cached = self.__dict__["_spec_hash"] = hash((self.kind, self.spec_json()))
        return cached
