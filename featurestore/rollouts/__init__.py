"""Rollouts of a new view version: shadow -> canary -> promoted or aborted (DESIGN.md §15).

:class:`Rollouts` runs the steps for a ``FeatureStore``; serving's side is
:mod:`featurestore.serving.rollouts`, the registry's :mod:`featurestore.registry.rollouts`, the
report's :mod:`featurestore.parity.rollout_report`.
"""

from featurestore.parity.rollout_report import ArmPerformance, RolloutReport, ValueDifferences
from featurestore.registry.rollouts import RolloutRecord
from featurestore.rollouts.manager import STAGES, Rollouts

__all__ = [
    "STAGES",
    "ArmPerformance",
    "RolloutRecord",
    "RolloutReport",
    "Rollouts",
    "ValueDifferences",
]
