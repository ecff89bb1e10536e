"""The registry: versioned definitions plus the records of every run, in SQLite or PostgreSQL.

Definitions arrive as ``ObjectSpec(kind, name, spec)`` (the definitions layer turns its objects
into JSON specs and back); ``Registry.apply`` diffs them against what is stored and writes new
versions in one transaction. The schema is migrated with Alembic (``migrations/`` at the top of
the repository) whenever a ``Registry`` is opened.
"""

from featurestore.registry.models import ObjectSpec, Plan, PlanItem, StoredObject
from featurestore.registry.registry import Registry

__all__ = ["ObjectSpec", "Plan", "PlanItem", "Registry", "StoredObject"]
