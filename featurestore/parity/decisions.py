"""What a retraining policy decided, and why: :class:`PolicyDecision` and its :class:`TriggerResult`s.

Frozen values with ``to_dict()`` (the document the decision log stores and the HTTP API, the CLI's
``--json`` and the UI show) and a readable ``__str__``. :mod:`featurestore.parity.policies` makes them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from featurestore.reports import iso, parse_iso

__all__ = ["PolicyDecision", "TriggerResult", "TriggerStatus", "span"]

#: "fired": the trigger asks for a retrain; "ok": it does not; "insufficient_data": too little
#: data to judge (never fires); "error": its data could not be read (the reason says why)
TriggerStatus = Literal["fired", "ok", "insufficient_data", "error"]


def span(value: dt.timedelta) -> str:
    """A duration for people: ``"12.5 d"``, ``"3 h"``, ``"90 s"``."""
    seconds = value.total_seconds()
    for unit, width in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if abs(seconds) >= width:
            return f"{seconds / width:.4g} {unit}"
    return f"{seconds:.4g} s"


@dataclass(frozen=True)
class TriggerResult:
    """One trigger of one evaluation.

    Attributes:
        trigger: ``"age"``, ``"performance"``, ``"drift"`` or ``"prediction_drift"``.
        status: see :data:`TriggerStatus`.
        reason: one sentence with the figures that decided it.
        figures: the figures read (JSON-ready).
    """

    trigger: str
    status: TriggerStatus
    reason: str
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def fired(self) -> bool:
        """Whether this trigger asks for a retrain."""
        return self.status == "fired"

    def to_dict(self) -> dict[str, Any]:
        """``{trigger, status, fired, reason, figures}``."""
        return {
            "trigger": self.trigger,
            "status": self.status,
            "fired": self.fired,
            "reason": self.reason,
            "figures": self.figures,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TriggerResult:
        return cls(data["trigger"], data["status"], data["reason"], data.get("figures", {}))


@dataclass(frozen=True)
class PolicyDecision:
    """One evaluation of a retraining policy: every trigger, and whether to retrain.

    Attributes:
        policy: the policy's name.
        policy_version: its registry version.
        service: the feature service it watches.
        reference: the reference dataset's name.
        evaluated_at: the time the decision is about (``now``).
        window_start: where the data the triggers read starts (``now - window``).
        retrain: whether the model should be retrained now.
        reason: why, in one line.
        triggers: one result per trigger the policy sets, in order.
        reference_saved_at: when the reference dataset was saved (None: it is not saved).
        last_retrain_at: the policy's previous decision to retrain, if any.
        cooldown_until: set when a trigger fired during the cooldown of the previous retrain.
    """

    policy: str
    policy_version: int
    service: str
    reference: str
    evaluated_at: dt.datetime
    window_start: dt.datetime
    retrain: bool
    reason: str
    triggers: list[TriggerResult]
    reference_saved_at: dt.datetime | None = None
    last_retrain_at: dt.datetime | None = None
    cooldown_until: dt.datetime | None = None

    @property
    def fired(self) -> list[str]:
        """The triggers that fired (during a cooldown too)."""
        return [t.trigger for t in self.triggers if t.fired]

    def trigger(self, name: str) -> TriggerResult | None:
        """The result of one trigger, or None when the policy does not set it."""
        return next((t for t in self.triggers if t.trigger == name), None)

    def to_dict(self) -> dict[str, Any]:
        """The decision as the log stores it (timestamps ISO 8601 UTC)."""
        return {
            "policy": self.policy,
            "policy_version": self.policy_version,
            "service": self.service,
            "reference": self.reference,
            "evaluated_at": iso(self.evaluated_at),
            "window": {"start": iso(self.window_start), "end": iso(self.evaluated_at)},
            "retrain": self.retrain,
            "fired": self.fired,
            "reason": self.reason,
            "reference_saved_at": iso(self.reference_saved_at),
            "last_retrain_at": iso(self.last_retrain_at),
            "cooldown_until": iso(self.cooldown_until),
            "triggers": [t.to_dict() for t in self.triggers],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PolicyDecision:
        """The inverse of :meth:`to_dict` (what ``store.policy_decisions()`` reads back)."""
        evaluated_at, window_start = (
            parse_iso(data["evaluated_at"]),
            parse_iso(data["window"]["start"]),
        )
        assert evaluated_at is not None and window_start is not None
        return cls(
            policy=data["policy"],
            policy_version=data["policy_version"],
            service=data["service"],
            reference=data["reference"],
            evaluated_at=evaluated_at,
            window_start=window_start,
            retrain=data["retrain"],
            reason=data["reason"],
            triggers=[TriggerResult.from_dict(t) for t in data["triggers"]],
            reference_saved_at=parse_iso(data.get("reference_saved_at")),
            last_retrain_at=parse_iso(data.get("last_retrain_at")),
            cooldown_until=parse_iso(data.get("cooldown_until")),
        )

    def __str__(self) -> str:
        verdict = "RETRAIN" if self.retrain else "no retrain"
        lines = [
            f"policy {self.policy} v{self.policy_version} ({self.service}) at "
            f"{iso(self.evaluated_at)}: {verdict}",
            f"  {self.reason}",
        ]
        width = max((len(t.trigger) for t in self.triggers), default=0)
        for t in self.triggers:
            status = t.status.upper() if t.fired else t.status
            lines.append(f"  {t.trigger.ljust(width)}  {status:<17}  {t.reason}")
        return "\n".join(lines)
