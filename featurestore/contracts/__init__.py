"""Data contracts: Pandera (polars) validation of every ingested batch, and contracts as JSON.

Public API::

    Contract                          a pandera.polars DataFrameModel class or DataFrameSchema
    contract_to_json(contract) -> str what the registry stores
    contract_from_json(text) -> DataFrameSchema
    contract_columns(contract) -> {column: polars dtype | None}
    validate(frame, contract, *, policy) -> ValidationResult
        (valid, quarantined, violations, schema_error)
    require_utc(frame, columns=None) -> str | None
    health(frame) -> {column: {null_rate, min, max, mean}}

No I/O happens here: frames in, frames out.
"""

from featurestore.contracts._failures import REASONS, REASONS_DTYPE, ROW, Violation
from featurestore.contracts.health import health
from featurestore.contracts.serde import (
    Contract,
    as_schema,
    contract_columns,
    contract_from_json,
    contract_to_json,
)
from featurestore.contracts.validate import Policy, ValidationResult, require_utc, validate

__all__ = [
    "REASONS",
    "REASONS_DTYPE",
    "ROW",
    "Contract",
    "Policy",
    "ValidationResult",
    "Violation",
    "as_schema",
    "contract_columns",
    "contract_from_json",
    "contract_to_json",
    "health",
    "require_utc",
    "validate",
]
