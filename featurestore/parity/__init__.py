"""Parity monitoring: feature drift, model performance and concept drift (DESIGN.md §9); acting
on it: retraining policies and feedback loops (§15)."""

from featurestore.parity.decisions import PolicyDecision, TriggerResult
from featurestore.parity.detectors import Alarm, run_detectors
from featurestore.parity.drift import (
    DriftReport,
    DriftThresholds,
    FeatureDrift,
    drift_report,
    feature_drift,
)
from featurestore.parity.feedback_loops import feedback_loop_report, two_proportion_ztest
from featurestore.parity.loop_report import (
    FeedbackLoopReport,
    FeedbackLoopThresholds,
    GroupOutcome,
    LoopWindow,
    ZTest,
)
from featurestore.parity.performance import (
    PerformanceReport,
    WindowPerformance,
    performance_report,
)
from featurestore.parity.policies import PolicyData, evaluate_policy

__all__ = [
    "Alarm",
    "DriftReport",
    "DriftThresholds",
    "FeatureDrift",
    "FeedbackLoopReport",
    "FeedbackLoopThresholds",
    "GroupOutcome",
    "LoopWindow",
    "PerformanceReport",
    "PolicyData",
    "PolicyDecision",
    "TriggerResult",
    "WindowPerformance",
    "ZTest",
    "drift_report",
    "evaluate_policy",
    "feature_drift",
    "feedback_loop_report",
    "performance_report",
    "run_detectors",
    "two_proportion_ztest",
]
