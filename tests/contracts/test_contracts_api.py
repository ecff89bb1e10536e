"""The public surface of featurestore.contracts: what other layers import."""

from __future__ import annotations

import featurestore.contracts as contracts


def test_exported_api() -> None:
    assert sorted(contracts.__all__) == sorted(
        [
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
    )
    for name in contracts.__all__:
        assert getattr(contracts, name) is not None
    assert (contracts.ROW, contracts.REASONS) == ("__row", "__reasons")
