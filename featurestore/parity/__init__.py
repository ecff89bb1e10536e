"""Parity monitoring: feature drift, model performance and concept drift (DESIGN.md §9)."""

from featurestore.parity.drift import (
    DriftReport,
    DriftThresholds,
    FeatureDrift,
    drift_report,
    feature_drift,
)

__all__ = ["DriftReport", "DriftThresholds", "FeatureDrift", "drift_report", "feature_drift"]
