"""Validate a batch against its contract and split it into valid and quarantined rows.

Pandera (polars backend, lazy) is the source of truth for what fails; this module only decides
what happens to the rows under the view's ``on_violation`` policy:

* ``"quarantine"``: rows that fail a row-level check go to quarantine, the rest are valid;
* ``"reject"``: any failure quarantines the whole batch (clean rows with an empty reasons list);
* ``"warn"``: every row is valid and the failures are only reported.

Whatever the policy, a batch-level failure (a missing column, a dtype that cannot be cast, a
frame-wide check that fails as a whole, a naive datetime column) is a ``schema_error``: nothing
is valid and the whole batch is quarantined. Always ``len(valid) + len(quarantined) == len(frame)``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
import pandera.polars as pa
import polars as pl
from pandera.config import ValidationDepth, config_context
from pandera.errors import SchemaDefinitionError, SchemaError, SchemaErrors

from featurestore.contracts._failures import (
    REASONS,
    REASONS_DTYPE,
    ROW,
    Failures,
    Violation,
    read_failures,
)
from featurestore.contracts.serde import Contract, as_schema, contract_name
from featurestore.errors import DefinitionError, RequestError

__all__ = ["Policy", "ValidationResult", "Violation", "require_utc", "validate"]

Policy = Literal["quarantine", "reject", "warn"]
UTC_CHECK = "utc_timezone"


@dataclass(frozen=True)
class ValidationResult:
    """A batch after validation.

    Attributes:
        valid: the rows that passed, with the columns and dtypes the contract gives them (coerced
            where it says so); empty under a schema error or a rejected batch.
        quarantined: the rows that failed: the batch's original columns and values, plus
            ``__row`` (Int64 position in the batch) and ``__reasons`` (a list of
            ``{column, check, value}`` structs), one row per row, ordered by ``__row``.
        violations: one entry per (column, check) that failed.
        schema_error: one sentence when the batch failed as a whole, else None.
    """

    valid: pl.DataFrame
    quarantined: pl.DataFrame
    violations: list[Violation] = field(default_factory=list)
    schema_error: str | None = None

    @property
    def rejected(self) -> bool:
        """True when no row is valid because of a schema error or the "reject" policy."""
        return self.valid.height == 0 and self.quarantined.height > 0


def require_utc(frame: pl.DataFrame, columns: Iterable[str] | None = None) -> str | None:
    """Check that the Datetime columns of ``frame`` carry a time zone.

    Args:
        frame: the batch.
        columns: the columns to look at; None for every column. Names not in the frame are skipped.

    Returns:
        None when every Datetime column is time-zone aware, else one sentence naming the naive
        columns and how to fix them. Aware columns in another zone pass: they name an instant.
    """
    names = frame.columns if columns is None else [c for c in columns if c in frame.schema]
    naive = [name for name in names if _is_naive(frame.schema[name])]
    if not naive:
        return None
    listed = ", ".join(repr(name) for name in naive)
    noun = "column" if len(naive) == 1 else "columns"
    return (
        f"Datetime {noun} {listed} {'has' if len(naive) == 1 else 'have'} no time zone; "
        f"timestamps must be UTC: if they already are, use "
        f"pl.col({naive[0]!r}).dt.replace_time_zone('UTC'), otherwise convert them to UTC first."
    )


def _is_naive(dtype: pl.DataType) -> bool:
    """True for a Datetime dtype without a time zone."""
    return isinstance(dtype, pl.Datetime) and dtype.time_zone is None


def validate(
    frame: pl.DataFrame, contract: Contract | None, *, policy: Policy = "quarantine"
) -> ValidationResult:
    """Validate ``frame`` against ``contract`` with Pandera, lazily, and apply ``policy``.

    Args:
        frame: the batch.
        contract: a Pandera polars model or schema; None accepts every row unchanged.
        policy: ``"quarantine"``, ``"reject"`` or ``"warn"`` (see the module docstring).

    Returns:
        The split batch with its violations and schema error.

    Raises:
        DefinitionError: the policy or the contract is invalid.
        RequestError: ``frame`` is not a Polars DataFrame or uses the reserved column names.
    """
    if policy not in get_args(Policy):
        raise DefinitionError(
            f"Unknown on_violation policy {policy!r}; use 'quarantine', 'reject' or 'warn'."
        )
    if not isinstance(frame, pl.DataFrame):
        raise RequestError(f"A batch to validate must be a Polars DataFrame, not {type(frame)}.")
    if contract is None:
        return ValidationResult(valid=frame, quarantined=_quarantine(frame.clear()))
    schema = as_schema(contract)
    name = contract_name(contract)
    clash = [c for c in (ROW, REASONS) if c in frame.columns]
    if clash:
        raise RequestError(
            f"The batch has a column named {clash[0]!r}, a name reserved for quarantine."
        )
    naive = require_utc(frame)
    if naive:
        return _naive_datetimes(frame, naive)
    try:
        with config_context(
            validation_enabled=True, validation_depth=ValidationDepth.SCHEMA_AND_DATA
        ):
            checked = _exhaustive(schema).validate(frame, lazy=True)
    except SchemaErrors as errors:
        data = errors.data if isinstance(errors.data, pl.DataFrame) else None
        failures = read_failures(errors.failure_cases, data, name)
        return _split(frame, data if data is not None else frame, failures, policy)
    except (SchemaError, SchemaDefinitionError) as exc:
        raise DefinitionError(f"Contract {name} cannot be applied to the batch: {exc}") from exc
    return ValidationResult(valid=checked, quarantined=_quarantine(frame.clear()))


def _exhaustive(schema: pa.DataFrameSchema) -> pa.DataFrameSchema:
    """``schema`` made to report every failing row and to drop none.

    A check's ``n_failure_cases`` cuts the failure cases short and ``drop_invalid_rows`` removes
    rows silently; either would let a failing row slip into ``valid``.
    """
    parts = [schema, *schema.columns.values()]
    limited = any(c.n_failure_cases is not None for p in parts for c in p.checks)
    if not limited and not any(getattr(p, "drop_invalid_rows", False) for p in parts):
        return schema
    schema = copy.deepcopy(schema)
    for part in [schema, *schema.columns.values()]:
        part.drop_invalid_rows = False
        for check in part.checks:
            check.n_failure_cases = None
    return schema


def _split(
    frame: pl.DataFrame, checked: pl.DataFrame, failures: Failures, policy: Policy
) -> ValidationResult:
    """Apply ``policy`` to a batch with failures."""
    violations, error = failures.violations, failures.schema_error
    everyone = np.arange(frame.height)
    if error is not None:
        quarantined = _quarantine(frame, everyone, failures.reasons(everyone, frame.height))
        return ValidationResult(checked.clear(), quarantined, violations, error)
    if policy == "warn":
        return ValidationResult(checked, _quarantine(frame.clear()), violations)
    if policy == "reject":
        quarantined = _quarantine(frame, everyone, failures.reasons(everyone, frame.height))
        return ValidationResult(checked.clear(), quarantined, violations)
    failing = failures.failing_rows()
    keep = np.ones(frame.height, dtype=bool)
    keep[failing] = False
    quarantined = _quarantine(frame, failing, failures.reasons(failing, frame.height))
    return ValidationResult(checked.filter(pl.Series(keep)), quarantined, violations)


def _quarantine(
    frame: pl.DataFrame, rows: np.ndarray | None = None, reasons: pl.Series | None = None
) -> pl.DataFrame:
    """The ``rows`` of ``frame`` (all when None) with their ``__row`` and ``__reasons``."""
    if rows is None or reasons is None:
        rows, reasons = np.arange(frame.height), pl.Series(REASONS, [], dtype=REASONS_DTYPE)
    picked = frame if len(rows) == frame.height else frame[rows]
    return picked.with_columns(pl.Series(ROW, rows, dtype=pl.Int64), reasons.alias(REASONS))


def _naive_datetimes(frame: pl.DataFrame, message: str) -> ValidationResult:
    """The whole batch quarantined because of naive Datetime columns."""
    naive = [name for name, dtype in frame.schema.items() if _is_naive(dtype)]
    batch = pl.DataFrame(
        {
            "column": naive,
            "check": [UTC_CHECK] * len(naive),
            "value": [str(frame.schema[name]) for name in naive],
        },
        schema={"column": pl.String, "check": pl.String, "value": pl.String},
    )
    failures = Failures(
        violations=[Violation(c, check, 1, [v]) for c, check, v in batch.iter_rows()],
        row_cases=pl.DataFrame(
            schema={ROW: pl.Int64, "column": pl.String, "check": pl.String, "value": pl.String}
        ),
        batch_cases=batch,
        schema_error=message,
    )
    return _split(frame, frame, failures, "reject")
