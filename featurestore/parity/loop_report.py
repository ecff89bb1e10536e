"""The feedback-loop report's values: frozen, with ``to_dict()`` and a readable ``__str__``.

:func:`featurestore.parity.feedback_loops.feedback_loop_report` makes them; the rules are there.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from featurestore.errors import ConfigError
from featurestore.parity.performance import iso_duration
from featurestore.parity.stats import text_table
from featurestore.reports import iso

__all__ = ["FeedbackLoopReport", "FeedbackLoopThresholds", "GroupOutcome", "LoopWindow", "ZTest"]


@dataclass(frozen=True)
class FeedbackLoopThresholds:
    """Where the feedback-loop flags start.

    Attributes:
        min_diversity_ratio: diversity (distinct classes, std, entities) below this fraction of
            the baseline's flags narrowing.
        max_top_share_rise: a top-class share more than this above the baseline's flags narrowing.
        alpha: the false-alarm rate of the diverging flag over a whole report (each window's
            z-test is held to ``alpha`` divided by the number of windows tested).
        min_samples: predictions (or entities) a window needs to be the baseline or to flag.
        min_group: labelled rows each side of the z-test needs to flag.
    """

    min_diversity_ratio: float = 0.7
    max_top_share_rise: float = 0.2
    alpha: float = 0.01
    min_samples: int = 50
    min_group: int = 30

    def __post_init__(self) -> None:
        for name in ("min_diversity_ratio", "max_top_share_rise", "alpha"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
                raise ConfigError(
                    f"feedback-loop threshold {name} must be in (0, 1], got {value!r}"
                )
        for name in ("min_samples", "min_group"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"feedback-loop threshold {name} must be an integer >= 1")

    def to_dict(self) -> dict[str, Any]:
        return {
            "min_diversity_ratio": self.min_diversity_ratio,
            "max_top_share_rise": self.max_top_share_rise,
            "alpha": self.alpha,
            "min_samples": self.min_samples,
            "min_group": self.min_group,
        }


@dataclass(frozen=True)
class ZTest:
    """A two-proportion z-test of the control group against the rest."""

    n_control: int
    n_rest: int
    control_rate: float
    rest_rate: float
    z: float
    pvalue: float

    @property
    def difference(self) -> float:
        """``rest_rate - control_rate``."""
        return self.rest_rate - self.control_rate

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_control": self.n_control,
            "n_rest": self.n_rest,
            "control_rate": self.control_rate,
            "rest_rate": self.rest_rate,
            "difference": self.difference,
            "z": self.z,
            "pvalue": self.pvalue,
        }


@dataclass(frozen=True)
class GroupOutcome:
    """Outcomes of one group in one window (``group`` None: feedback sent without a group)."""

    group: str | None
    n: int
    n_labelled: int
    outcome_rate: float | None
    metrics: dict[str, float | None] | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "n": self.n,
            "n_labelled": self.n_labelled,
            "outcome_rate": self.outcome_rate,
            "metrics": self.metrics,
        }


@dataclass(frozen=True)
class LoopWindow:
    """One window of the feedback-loop report; None for what does not apply or lacks data."""

    start: dt.datetime
    end: dt.datetime
    entities: int | None
    entities_trend: float | None
    n_feedback: int
    n_predictions: int
    distinct_predictions: int | None
    top_prediction: str | None
    top_share: float | None
    prediction_std: float | None
    distinct_trend: float | None
    top_share_trend: float | None
    std_trend: float | None
    groups: list[GroupOutcome]
    z_test: ZTest | None
    flags: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": iso(self.start),
            "end": iso(self.end),
            "entities": self.entities,
            "entities_trend": self.entities_trend,
            "n_feedback": self.n_feedback,
            "n_predictions": self.n_predictions,
            "distinct_predictions": self.distinct_predictions,
            "top_prediction": self.top_prediction,
            "top_share": self.top_share,
            "prediction_std": self.prediction_std,
            "distinct_trend": self.distinct_trend,
            "top_share_trend": self.top_share_trend,
            "std_trend": self.std_trend,
            "groups": [g.to_dict() for g in self.groups],
            "z_test": None if self.z_test is None else self.z_test.to_dict(),
            "flags": list(self.flags),
        }


@dataclass(frozen=True)
class FeedbackLoopReport:
    """Per-window diversity and group outcomes, overall group outcomes, and the flags raised."""

    window: dt.timedelta
    control: str
    prediction_kind: str | None  # "classes" | "numeric"; None without predictions
    outcome_kind: str | None  # "binary" | "numeric"; None without labels
    windows: list[LoopWindow]
    groups: list[GroupOutcome]
    z_test: ZTest | None
    thresholds: FeedbackLoopThresholds = FeedbackLoopThresholds()
    diverging_alpha: float | None = None  # the p-value a window's z-test must beat
    notes: list[str] = field(default_factory=list)

    @property
    def flags(self) -> list[dict[str, str | None]]:
        """``{start, flag}`` for every flag raised, in time order."""
        return [{"start": iso(w.start), "flag": f} for w in self.windows for f in w.flags]

    @property
    def narrowing(self) -> bool:
        """Whether any window flags narrowing predictions or entities."""
        return any(f.startswith("narrowing") for w in self.windows for f in w.flags)

    @property
    def diverging(self) -> bool:
        """Whether any window flags diverging groups."""
        return any("diverging" in w.flags for w in self.windows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "window": iso_duration(self.window),
            "control": self.control,
            "prediction_kind": self.prediction_kind,
            "outcome_kind": self.outcome_kind,
            "narrowing": self.narrowing,
            "diverging": self.diverging,
            "flags": self.flags,
            "windows": [w.to_dict() for w in self.windows],
            "overall": {
                "groups": [g.to_dict() for g in self.groups],
                "z_test": None if self.z_test is None else self.z_test.to_dict(),
            },
            "thresholds": self.thresholds.to_dict(),
            "diverging_alpha": self.diverging_alpha,
            "notes": list(self.notes),
        }

    def __str__(self) -> str:
        columns = ["start", "entities", "trend", "predictions"]
        columns += (
            ["distinct", "top share", "trend"]
            if self.prediction_kind != "numeric"
            else ["std", "trend"]
        )
        columns += ["outcome by group", "z", "p", "flags"]
        rows = []
        for w in self.windows:
            if self.prediction_kind != "numeric":
                diversity = [
                    w.distinct_predictions,
                    w.top_share,
                    _trend(w.distinct_trend, w.top_share_trend),
                ]
            else:
                diversity = [w.prediction_std, w.std_trend]
            rows.append(
                [
                    iso(w.start),
                    w.entities,
                    w.entities_trend,
                    w.n_predictions,
                    *diversity,
                    _groups_cell(w.groups),
                    None if w.z_test is None else w.z_test.z,
                    None if w.z_test is None else w.z_test.pvalue,
                    ", ".join(w.flags),
                ]
            )
        verdict = [
            n for n, on in (("narrowing", self.narrowing), ("diverging", self.diverging)) if on
        ]
        overall = _groups_cell(self.groups)
        caption = f"overall: {overall or '-'}; flags: {', '.join(verdict) or 'none'}"
        title = f"feedback loops per {iso_duration(self.window)} (control group {self.control!r})"
        text = text_table(title, columns, rows, caption)
        return "\n".join([text, *(f"note: {n}" for n in self.notes)])


def _trend(distinct: float | None, top: float | None) -> str:
    parts = []
    if distinct is not None:
        parts.append(f"x{distinct:.3g}")
    if top is not None:
        parts.append(f"{top:+.3g}")
    return " ".join(parts)


def _groups_cell(groups: list[GroupOutcome]) -> str:
    return "; ".join(
        f"{g.group if g.group is not None else '(none)'} "
        f"{'-' if g.outcome_rate is None else f'{g.outcome_rate:.3g}'} (n={g.n_labelled})"
        for g in groups
    )
