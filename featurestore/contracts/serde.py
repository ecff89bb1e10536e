"""Contracts as data: normalise a Pandera contract, and store it as JSON and read it back.

A contract is a Pandera *polars* ``DataFrameModel`` class or ``DataFrameSchema``. The registry keeps
it as the JSON that Pandera writes (``schema.to_json()``), so the server rebuilds it without the
user's Python files. Only what survives that trip may be stored: a check that is a Python
function (inline lambda, ``@pa.check`` method, a check registered with the extensions API) would be
silently dropped or be unknown to the server, so :func:`contract_to_json` refuses it by name.

Pandera's JSON cannot hold dates and times, so check bounds of those types are written as
one-key objects (``{"$datetime": "2024-01-01T00:00:00+00:00"}``) that :func:`contract_from_json`
turns back into Python values; nothing else in a Pandera payload is a one-key ``$`` object.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time
from typing import Any, TypeAlias

import pandera.polars as pa
import polars as pl
from pandera.api.checks import Check
from pandera.errors import SchemaDefinitionError, SchemaInitError
from pandera.io import polars_io

from featurestore.errors import DefinitionError

__all__ = [
    "Contract",
    "as_schema",
    "contract_columns",
    "contract_from_json",
    "contract_name",
    "contract_to_json",
]

Contract: TypeAlias = type[pa.DataFrameModel] | pa.DataFrameSchema
"""A data contract: a Pandera polars ``DataFrameModel`` subclass or a polars ``DataFrameSchema``."""

_TEMPORAL_TAGS = ("$datetime", "$date", "$time")
_COLUMN_KEYS = frozenset(
    {
        "title",
        "description",
        "dtype",
        "nullable",
        "checks",
        "name",
        "unique",
        "coerce",
        "required",
        "regex",
        "default",
        "report_duplicates",
        "drop_invalid_rows",
    }
)


def contract_name(contract: object) -> str:
    """The name used for ``contract`` in messages: the model's class name or the schema's name.

    Args:
        contract: a contract, or anything a user passed as one.

    Returns:
        A short quoted name, or a description of the object when it has none.
    """
    if isinstance(contract, type):
        return repr(contract.__name__)
    name = getattr(contract, "name", None)
    return repr(name) if isinstance(name, str) else f"(unnamed {type(contract).__name__})"


def as_schema(contract: Contract) -> pa.DataFrameSchema:
    """Turn a contract into a Pandera polars ``DataFrameSchema``.

    Args:
        contract: a ``pandera.polars`` ``DataFrameModel`` subclass or ``DataFrameSchema``.

    Returns:
        The polars ``DataFrameSchema`` (the same object when one was given).

    Raises:
        DefinitionError: the contract is a pandas-flavoured Pandera object, an invalid model, or
            not a contract at all.
    """
    if isinstance(contract, pa.DataFrameSchema):
        return contract
    if isinstance(contract, type) and issubclass(contract, pa.DataFrameModel):
        try:
            return contract.to_schema()
        except (SchemaInitError, SchemaDefinitionError, TypeError) as exc:
            raise DefinitionError(
                f"Contract {contract_name(contract)} is not a valid Pandera model: {exc}"
            ) from exc
    if "pandera" in type(contract).__module__ or (
        isinstance(contract, type) and "pandera" in contract.__module__
    ):
        raise DefinitionError(
            f"Contract {contract_name(contract)} is a pandas-flavoured Pandera object; "
            "write it with `import pandera.polars as pa` (DataFrameModel or DataFrameSchema)."
        )
    raise DefinitionError(
        f"Contract {contract_name(contract)} is not a Pandera polars DataFrameModel or "
        "DataFrameSchema."
    )


def contract_columns(contract: Contract) -> dict[str, pl.DataType | None]:
    """The columns a contract declares and their Polars dtypes.

    Args:
        contract: a Pandera polars model or schema.

    Returns:
        ``{column: dtype}`` in declaration order; the dtype is ``None`` when the contract does not
        fix it. A regex column appears under its pattern.
    """
    schema = as_schema(contract)
    return {
        name: (None if column.dtype is None else _polars_dtype(column.dtype))
        for name, column in schema.columns.items()
    }


def contract_to_json(contract: Contract) -> str:
    """Serialise a contract to the JSON Pandera writes (``schema.to_json()``).

    Args:
        contract: a Pandera polars model or schema using only Pandera's built-in checks.

    Returns:
        The JSON text; :func:`contract_from_json` gives back an equivalent polars schema.

    Raises:
        DefinitionError: the contract uses something JSON cannot hold (a custom or registered
            check, a parser, a groupby check, a naive Datetime column), naming it.
    """
    schema = as_schema(contract)
    name = contract_name(contract)
    _refuse_unstorable(schema, name)
    try:
        text: str = schema.to_json(default=_encode_temporal)
    except (TypeError, ValueError) as exc:
        raise DefinitionError(f"Contract {name} cannot be stored as JSON: {exc}.") from exc
    # The trip back is the only proof that nothing was dropped or changed on the way.
    again = contract_from_json(text).to_json(default=_encode_temporal)
    if again != text:
        before, after = json.loads(text), json.loads(again)
        columns, columns_after = before.get("columns") or {}, after.get("columns") or {}
        changed = [c for c in columns if columns[c] != columns_after.get(c)]
        where = f"column {changed[0]!r}" if changed else "its frame-level settings"
        raise DefinitionError(
            f"Contract {name} does not survive a JSON round trip unchanged ({where} differs); "
            "use built-in checks with plain values."
        )
    return text


def contract_from_json(text: str) -> pa.DataFrameSchema:
    """Rebuild a polars ``DataFrameSchema`` from :func:`contract_to_json` output.

    Args:
        text: the JSON text.

    Returns:
        A ``pandera.polars.DataFrameSchema``.

    Raises:
        DefinitionError: the text is not JSON, not a polars schema, or names an unknown check.
    """
    try:
        # Parsing here, not in Pandera: its from_json treats text that is not JSON as a file path.
        payload = json.loads(text, object_hook=_decode_temporal)
    except (TypeError, ValueError) as exc:
        raise DefinitionError(f"A stored contract is not valid JSON: {exc}.") from exc
    if not isinstance(payload, dict) or payload.get("schema_type") != "polars_dataframe":
        kind = payload.get("schema_type") if isinstance(payload, dict) else type(payload).__name__
        raise DefinitionError(
            f"A stored contract is not a Pandera polars schema (schema_type {kind!r})."
        )
    _refuse_unknown_checks(payload)
    try:
        schema = polars_io.deserialize_schema(payload)  # type: ignore[no-untyped-call]
    except (AttributeError, TypeError, ValueError, SchemaDefinitionError, SchemaInitError) as exc:
        raise DefinitionError(f"A stored contract cannot be read back: {exc}") from exc
    if not isinstance(schema, pa.DataFrameSchema):  # pragma: no cover - Pandera contract
        raise DefinitionError("A stored contract did not load as a Pandera polars schema.")
    return schema


def _refuse_unknown_checks(payload: dict[str, Any]) -> None:
    """Raise DefinitionError for a check name this process cannot rebuild.

    Pandera skips a column key it does not know, so a check written by a newer Pandera, or a
    custom check stored by other means, would vanish silently instead of being enforced.
    """
    columns = payload.get("columns") or {}
    for col, spec in columns.items() if isinstance(columns, dict) else ():
        if not isinstance(spec, dict):
            continue
        listed = spec.get("checks") or []
        names = [c.get("options", {}).get("check_name") for c in listed if isinstance(c, dict)]
        names += [key for key in spec if key not in _COLUMN_KEYS]
        unknown = [n for n in names if not (isinstance(n, str) and Check.is_builtin_check(n))]
        if unknown:
            raise DefinitionError(
                f"A stored contract has a check {unknown[0]!r} on column {col!r} that is not a "
                "Pandera built-in check; it cannot be enforced here."
            )


def _refuse_unstorable(schema: pa.DataFrameSchema, name: str) -> None:
    """Raise DefinitionError for the first part of ``schema`` that JSON cannot hold."""
    owners: list[tuple[str, Any]] = [("the whole frame", schema)]
    owners += [(f"column {col!r}", column) for col, column in schema.columns.items()]
    for where, owner in owners:
        for check in owner.checks:
            problem = _unstorable_check(check)
            if problem:
                raise DefinitionError(
                    f"Contract {name}: check {check.name!r} on {where} {problem}; only Pandera's "
                    "built-in checks (ge, le, isin, str_matches, ...) can be stored."
                )
        if getattr(owner, "parsers", None):
            raise DefinitionError(
                f"Contract {name}: {where} has a parser, which cannot be stored in the registry; "
                "clean the data before ingesting it instead."
            )
    for col, column in schema.columns.items():
        dtype = None if column.dtype is None else _polars_dtype(column.dtype)
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
            raise DefinitionError(
                f"Contract {name}: column {col!r} is a naive Datetime; timestamps must be UTC, "
                f"so declare it as pl.Datetime('{dtype.time_unit}', 'UTC')."
            )


def _unstorable_check(check: Check) -> str | None:
    """Why ``check`` cannot be stored, or None when it can."""
    registered = check.registry_name
    if registered is None:
        return "is a custom Python function and cannot be stored"
    if not Check.is_builtin_check(registered):
        return "is a registered custom check that the server cannot rebuild"
    if check.groupby is not None:
        return "uses groupby, which cannot be stored"
    return None


def _polars_dtype(dtype: Any) -> pl.DataType | None:
    """The Polars dtype behind a Pandera engine dtype."""
    inner = getattr(dtype, "type", None)
    if isinstance(inner, pl.DataType):
        return inner
    if isinstance(inner, type) and issubclass(inner, pl.DataType):
        return inner()
    return None


def _encode_temporal(value: Any) -> Any:
    """``json.dumps`` hook: dates and times as one-key tagged objects."""
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, time):
        return {"$time": value.isoformat()}
    raise TypeError(f"a check value of type {type(value).__name__} is not JSON serialisable")


def _decode_temporal(obj: dict[str, Any]) -> Any:
    """``json.loads`` hook: the inverse of :func:`_encode_temporal`."""
    if len(obj) != 1:
        return obj
    ((tag, raw),) = obj.items()
    if tag not in _TEMPORAL_TAGS:
        return obj
    if tag == "$datetime":
        return datetime.fromisoformat(raw)
    if tag == "$date":
        return date.fromisoformat(raw)
    return time.fromisoformat(raw)
