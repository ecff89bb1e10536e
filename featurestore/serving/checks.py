"""The checks of an online request: its entities and its request data.

Every check raises :class:`~featurestore.errors.RequestError` with one line naming the key or
field at fault (a 422 over HTTP); nothing is read before a request passes them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from featurestore.errors import RequestError
from featurestore.limits import INT64_MAX, INT64_MIN, check_int, quote
from featurestore.online import Column

__all__ = ["check_entities", "coerce", "request_columns"]


#: declared key type -> the value types that pass without a closer look
_PLAIN_TYPES: dict[str | None, set[type]] = {"int64": {int}, "str": {str}, None: {int, str}}


def check_entities(
    entities: Mapping[str, Sequence[Any]],
    keys: Sequence[str],
    types: Mapping[str, str],
    limit: int,
) -> int:
    """Check the entities of a request; returns how many there are.

    Raises:
        RequestError: a join key is missing, unknown, not a list, of the wrong type or length;
            an integer beyond int64 (it could never be stored, and the serving log would keep
            it); no entity; more than ``limit``.
    """
    # type() first: a JSON body's dict and lists pass without the slower ABC checks
    if not (type(entities) is dict or isinstance(entities, Mapping)) or not entities:
        raise RequestError(
            f"entities must map each join key ({', '.join(keys)}) to a list of values"
        )
    missing = [k for k in keys if k not in entities]
    if missing:
        raise RequestError(f"entities lack join key {quote(missing[0])}")
    if len(entities) > len(keys):
        extra = next(k for k in entities if k not in keys)
        raise RequestError(
            f"entities have key {quote(extra)}, which no requested feature is keyed by "
            f"(the join keys are {', '.join(keys)})"
        )
    lengths = set()
    for key in keys:
        values = entities[key]
        if type(values) is not list and (
            isinstance(values, str | bytes) or not isinstance(values, Sequence)
        ):
            raise RequestError(f"entity key {quote(key)} must be a list of values")
        lengths.add(len(values))
        want = types.get(key)
        kinds = set(map(type, values))
        if kinds <= _PLAIN_TYPES.get(want, _PLAIN_TYPES[None]) and (
            int not in kinds or _fits(values, kinds)
        ):
            continue  # the usual request, settled by C-level calls; else find the culprit
        for value in values:
            ok = (
                (isinstance(value, int) and not isinstance(value, bool))
                if want == "int64"
                else isinstance(value, str)
                if want == "str"
                else isinstance(value, int | str) and not isinstance(value, bool)
            )
            if not ok:
                kind = {"int64": "an integer", "str": "a string"}.get(
                    want or "", "an integer or a string"
                )
                raise RequestError(f"entity key {quote(key)} must be {kind}, got {quote(value)}")
            if isinstance(value, int):
                check_int(value, f"entity key {quote(key)}:")
    if len(lengths) != 1:
        counts = ", ".join(f"{k} {len(entities[k])}" for k in keys)
        raise RequestError(f"every entity key must have the same number of values ({counts})")
    n = lengths.pop()
    if n == 0:
        raise RequestError("entities must hold at least one entity")
    if n > limit:
        raise RequestError(f"too many entities: {n} (the limit is {limit})")
    return n


def _fits(values: Sequence[Any], kinds: set[type]) -> bool:
    """Whether every int in ``values`` fits int64 (C-level min/max when all are ints)."""
    if kinds == {int}:
        return bool(min(values) >= INT64_MIN and max(values) <= INT64_MAX)
    return all(INT64_MIN <= v <= INT64_MAX for v in values if type(v) is int)


def coerce(field_name: str, type_name: str, value: Any) -> Any:
    """A request-data value as its declared type (ints are floats where floats are declared,
    ISO texts are datetimes), or a RequestError naming the field."""
    if value is None:
        return None
    if type_name == "float64" and isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:  # an int past the largest float
            raise RequestError(
                f"request data {quote(field_name)}: {quote(value)} is too large for a float"
            ) from None
    if type_name == "int64" and isinstance(value, int) and not isinstance(value, bool):
        return check_int(value, f"request data {quote(field_name)}:")
    if type_name == "bool" and isinstance(value, bool):
        return value
    if type_name == "str" and isinstance(value, str):
        return value
    if type_name == "datetime":
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            return value.astimezone(dt.UTC)
        if isinstance(value, str):
            try:
                parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is not None:
                return parsed.astimezone(dt.UTC)
    raise RequestError(
        f"request data {quote(field_name)} must be of type {type_name}, got {quote(value)}"
    )


def request_columns(
    request_data: Mapping[str, Any] | None, fields: Mapping[str, str], n: int
) -> dict[str, Column[Any]]:
    """The request-data columns the on-demand features need, typed as declared (a single value
    stands for every entity).

    Raises:
        RequestError: a field is missing, of the wrong type or length.
    """
    data = request_data or {}
    if not isinstance(data, Mapping):
        raise RequestError(
            f"request_data must map field names to lists of values, got {quote(data)}"
        )
    out: dict[str, Column[Any]] = {}
    for name, type_name in fields.items():
        if name not in data:
            raise RequestError(f"request data {name!r} is missing (an on-demand feature needs it)")
        values = data[name]
        if type(values) is not list and (
            isinstance(values, str | bytes) or not isinstance(values, Sequence)
        ):
            values = [values] * n  # one value for every entity
        if len(values) != n:
            raise RequestError(f"request data {name!r} has {len(values)} values for {n} entities")
        out[name] = Column([coerce(name, type_name, v) for v in values])
    return out
