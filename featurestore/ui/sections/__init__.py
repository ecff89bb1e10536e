"""The built-in pages: overview, contracts, skew, drift and performance (DESIGN.md §14).

Importing this package registers them (see :mod:`featurestore.ui.pages`).
"""

from featurestore.ui.sections import contracts, drift, overview, performance, skew

__all__ = ["contracts", "drift", "overview", "performance", "skew"]
