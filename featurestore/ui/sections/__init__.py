"""The built-in pages: overview, contracts, skew, drift, performance (DESIGN.md §14), policies
and rollouts (§15).

Importing this package registers them (see :mod:`featurestore.ui.pages`).
"""

from featurestore.ui.sections import (
    contracts,
    drift,
    overview,
    performance,
    policies,
    rollouts,
    skew,
)

__all__ = ["contracts", "drift", "overview", "performance", "policies", "rollouts", "skew"]
