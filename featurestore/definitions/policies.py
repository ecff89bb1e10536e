"""Retraining policies: when a model should be retrained, by age, performance and drift together.

A :class:`RetrainPolicy` is a definition like a view: applied, versioned, shown in the plan. What
each trigger means, and how a decision is reached, is written in
:mod:`featurestore.parity.policies`, which evaluates it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, ClassVar

from featurestore.definitions.base import Definition, check_name, duration, from_micros, micros
from featurestore.definitions.services import FeatureService
from featurestore.errors import DefinitionError

__all__ = [
    "DRIFT_STATISTICS",
    "HIGHER_IS_BETTER",
    "LOWER_IS_BETTER",
    "RetrainPolicy",
    "policy_from_spec",
]

#: metrics that trigger when they fall below their floor
HIGHER_IS_BETTER = ("accuracy", "precision", "recall", "f1", "roc_auc")
#: metrics that trigger when they rise above their ceiling
LOWER_IS_BETTER = ("log_loss", "mae", "rmse")
#: drift statistics a policy may name: PSI and JS flag above, the p-values below their threshold
DRIFT_STATISTICS = ("psi", "js", "ks_pvalue", "chi2_pvalue")
_PVALUES = ("ks_pvalue", "chi2_pvalue")
_DRIFT_COUNTS = {"min_features": 1, "min_samples": 100}
_PREDICTION_KEYS = ("chi2_pvalue", "min_samples")


def _number(owner: str, what: str, value: Any, *, low: float, high: float | None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise DefinitionError(f"{owner}: {what} must be a number, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"between {low:g} and {high:g}" if high is not None else f">= {low:g}"
        raise DefinitionError(f"{owner}: {what} must be {bound}, got {value!r}")
    return float(value)


def _count(owner: str, what: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DefinitionError(f"{owner}: {what} must be a whole number >= 1, got {value!r}")
    return value


def _mapping(owner: str, what: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise DefinitionError(f"{owner}: {what} must be a dict, got {value!r}")
    return value


def _performance(owner: str, value: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    for metric, limit in _mapping(owner, "performance", value).items():
        if metric in HIGHER_IS_BETTER:
            out[metric] = _number(owner, f"performance[{metric!r}]", limit, low=0, high=1)
        elif metric in LOWER_IS_BETTER:
            out[metric] = _number(owner, f"performance[{metric!r}]", limit, low=0, high=None)
        else:
            known = ", ".join((*HIGHER_IS_BETTER, *LOWER_IS_BETTER))
            raise DefinitionError(f"{owner}: unknown performance metric {metric!r}; use {known}")
    return dict(sorted(out.items()))


def _drift(owner: str, value: Any) -> dict[str, float | int]:
    given = _mapping(owner, "drift", value)
    out: dict[str, float | int] = {}
    for key, limit in given.items():
        if key in DRIFT_STATISTICS:
            high = 1.0 if key in _PVALUES else None
            out[key] = _number(owner, f"drift[{key!r}]", limit, low=0, high=high)
        elif key in _DRIFT_COUNTS:
            out[key] = _count(owner, f"drift[{key!r}]", limit)
        else:
            known = ", ".join((*DRIFT_STATISTICS, *_DRIFT_COUNTS))
            raise DefinitionError(f"{owner}: unknown drift setting {key!r}; use {known}")
    if given and not any(k in DRIFT_STATISTICS for k in out):
        raise DefinitionError(
            f"{owner}: drift needs at least one statistic ({', '.join(DRIFT_STATISTICS)}), "
            'e.g. drift={"psi": 0.25, "min_features": 2}'
        )
    if out:
        out = {**_DRIFT_COUNTS, **out}
    return dict(sorted(out.items()))


def _prediction_drift(owner: str, value: Any) -> dict[str, float | int]:
    given = _mapping(owner, "prediction_drift", value)
    unknown = [k for k in given if k not in _PREDICTION_KEYS]
    if unknown:
        raise DefinitionError(
            f"{owner}: unknown prediction_drift setting {unknown[0]!r}; use chi2_pvalue, min_samples"
        )
    if not given:
        return {}
    if "chi2_pvalue" not in given:
        raise DefinitionError(
            f'{owner}: prediction_drift needs "chi2_pvalue", e.g. {{"chi2_pvalue": 0.01}}'
        )
    return {
        "chi2_pvalue": _number(
            owner, "prediction_drift['chi2_pvalue']", given["chi2_pvalue"], low=0, high=1
        ),
        "min_samples": _count(
            owner, "prediction_drift['min_samples']", given.get("min_samples", 100)
        ),
    }


@dataclass(frozen=True, eq=False)
class RetrainPolicy(Definition):
    """When the model behind a feature service should be retrained: a hybrid of age, performance
    and drift, each optional, with a cooldown between retrains.

    Example:
        >>> RetrainPolicy(                                                 # doctest: +SKIP
        ...     "ranking_retrain", service="ranking_v1", reference="ranking_train",
        ...     max_age=timedelta(days=30), performance={"f1": 0.80},
        ...     drift={"psi": 0.25, "min_features": 2}, prediction_drift={"chi2_pvalue": 0.01},
        ...     min_labels=200, cooldown=timedelta(days=1))

    Args:
        name: the policy's name.
        service: the feature service (or its name) whose features are checked for drift.
        reference: the saved training frame (``save_as``) the model was trained on: drift is
            measured against it, and its save time starts the age.
        max_age: retrain when the model is at least this old (see the age rule in
            :mod:`featurestore.parity.policies`); None: no age trigger.
        performance: metric -> floor (accuracy, precision, recall, f1, roc_auc fire below it) or
            ceiling (log_loss, mae, rmse fire above it), over the feedback of the last ``window``.
        drift: statistic -> threshold (psi, js above; ks_pvalue, chi2_pvalue below), plus
            ``min_features`` (how many features must drift, default 1) and ``min_samples``
            (values a feature needs on each side to count, default 100).
        prediction_drift: ``chi2_pvalue`` (fires below it) and ``min_samples`` (default 100): the
            predicted classes (or deciles) of the last ``window`` against the baseline.
        min_labels: labelled predictions the performance trigger needs in the window.
        cooldown: after a decision to retrain, no other for this long (None or zero: none).
        window: how much recent feedback and serving the triggers read (default one day).
        description: free text.
        tags: free labels.

    Raises:
        DefinitionError: a bad name, an unknown metric or statistic, a threshold out of range, or
            no trigger at all.
    """

    kind: ClassVar[str] = "retrain_policy"

    name: str
    _: KW_ONLY
    service: str | FeatureService
    reference: str
    max_age: dt.timedelta | None = None
    performance: Mapping[str, float] = field(default_factory=dict)
    drift: Mapping[str, float | int] = field(default_factory=dict)
    prediction_drift: Mapping[str, float | int] = field(default_factory=dict)
    min_labels: int = 200
    cooldown: dt.timedelta | None = dt.timedelta(days=1)
    window: dt.timedelta = dt.timedelta(days=1)
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_name("RetrainPolicy", self.name)
        owner = f"RetrainPolicy {self.name!r}"
        service = self.service.name if isinstance(self.service, FeatureService) else self.service
        check_name(f"{owner}: service", service)
        check_name(f"{owner}: reference dataset", self.reference)
        duration(owner, "max_age", self.max_age)
        if self.cooldown is not None and (
            not isinstance(self.cooldown, dt.timedelta) or self.cooldown < dt.timedelta(0)
        ):
            raise DefinitionError(
                f"{owner}: cooldown must be a timedelta >= 0, got {self.cooldown!r}"
            )
        if self.window is None:
            raise DefinitionError(f"{owner}: window must be a positive timedelta, got None")
        duration(owner, "window", self.window)
        set_ = object.__setattr__
        set_(self, "service", service)
        set_(self, "performance", _performance(owner, self.performance))
        set_(self, "drift", _drift(owner, self.drift))
        set_(self, "prediction_drift", _prediction_drift(owner, self.prediction_drift))
        set_(self, "min_labels", _count(owner, "min_labels", self.min_labels))
        set_(self, "tags", dict(self.tags))
        if not self.triggers:
            raise DefinitionError(
                f"{owner}: no trigger is set, so it would never fire; set max_age, performance, "
                "drift or prediction_drift"
            )

    @property
    def service_name(self) -> str:
        """The feature service's name."""
        assert isinstance(self.service, str)
        return self.service

    @property
    def triggers(self) -> list[str]:
        """The triggers this policy sets, in evaluation order."""
        set_triggers = (
            ("age", self.max_age is not None),
            ("performance", bool(self.performance)),
            ("drift", bool(self.drift)),
            ("prediction_drift", bool(self.prediction_drift)),
        )
        return [name for name, on in set_triggers if on]

    def to_spec(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "service": self.service_name,
            "reference": self.reference,
            "max_age_us": micros(self.max_age),
            "performance": dict(self.performance),
            "drift": dict(self.drift),
            "prediction_drift": dict(self.prediction_drift),
            "min_labels": self.min_labels,
            "cooldown_us": micros(self.cooldown),
            "window_us": micros(self.window),
            "description": self.description,
            "tags": dict(sorted(self.tags.items())),
        }


def policy_from_spec(spec: dict[str, Any]) -> RetrainPolicy:
    """The inverse of :meth:`RetrainPolicy.to_spec`."""
    window = from_micros(spec["window_us"])
    assert window is not None
    return RetrainPolicy(
        spec["name"],
        service=spec["service"],
        reference=spec["reference"],
        max_age=from_micros(spec.get("max_age_us")),
        performance=spec.get("performance", {}),
        drift=spec.get("drift", {}),
        prediction_drift=spec.get("prediction_drift", {}),
        min_labels=spec.get("min_labels", 200),
        cooldown=from_micros(spec.get("cooldown_us")),
        window=window,
        description=spec.get("description", ""),
        tags=spec.get("tags", {}),
    )
