"""Parity monitoring: feature drift, model performance and concept drift (DESIGN.md §9)."""

from featurestore.parity.detectors import Alarm, run_detectors
from featurestore.parity.drift import (
    DriftReport,
    DriftThresholds,
    FeatureDrift,
    drift_report,
    feature_drift,
)
from featurestore.parity.performance import (
    PerformanceReport,
    WindowPerformance,
    performance_report,
)

__all__ = [
    "Alarm",
    "DriftReport",
    "DriftThresholds",
    "FeatureDrift",
    "PerformanceReport",
    "WindowPerformance",
    "drift_report",
    "feature_drift",
    "performance_report",
    "run_detectors",
]
