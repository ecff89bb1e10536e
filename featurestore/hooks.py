"""Where alerts attach: events the store raises, for whoever delivers them (DESIGN.md §14).

The store raises an event when something needs a person or a pipeline, today ``retrain`` (a
retraining policy decided to retrain). Each subscriber gets an :class:`AlertEvent` whose
``to_dict()`` is the alert body §14 fixes: ``{event, project, summary, details, at}``. Alert
delivery (``[[alerts]]`` in the config: posting, retries, records) subscribes here, and so can
user code::

    store.alert_hooks.subscribe(lambda alert: print(alert.summary), events=["retrain"])

A subscriber runs in the thread that raised the event (a policy evaluation, never a served
request) and must not block it for long: delivery with retries belongs in its own queue. A
subscriber that raises is logged and the others still run; the evaluation is not undone.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from featurestore.errors import RequestError
from featurestore.reports import iso

__all__ = ["EVENTS", "AlertEvent", "AlertHooks"]

logger = logging.getLogger("featurestore.alerts")

#: every event an alert may subscribe to (DESIGN.md §14); the store raises ``retrain`` today
EVENTS = ("contract_rejected", "quarantined", "skew", "drift", "detector", "retrain", "rollout")


@dataclass(frozen=True)
class AlertEvent:
    """One event: what happened, in one line and in full."""

    event: str
    project: str
    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def to_dict(self) -> dict[str, Any]:
        """``{event, project, summary, details, at}``: the body an alert posts."""
        return {
            "event": self.event,
            "project": self.project,
            "summary": self.summary,
            "details": self.details,
            "at": iso(self.at),
        }


Subscriber = Callable[[AlertEvent], None]


class AlertHooks:
    """The subscribers of one store's events.

    Args:
        project: the project named in every event.
    """

    def __init__(self, project: str) -> None:
        self.project = project
        self._subscribers: list[tuple[Subscriber, frozenset[str]]] = []
        self._lock = threading.Lock()

    def subscribe(self, callback: Subscriber, *, events: Iterable[str] | None = None) -> None:
        """Call ``callback`` for each event of ``events`` (None: all of them).

        Raises:
            RequestError: an unknown event name.
        """
        wanted = frozenset(EVENTS if events is None else events)
        unknown = sorted(wanted - set(EVENTS))
        if unknown:
            raise RequestError(
                f"unknown alert event {unknown[0]!r}; use one of {', '.join(EVENTS)}"
            )
        with self._lock:
            self._subscribers.append((callback, wanted))

    def unsubscribe(self, callback: Subscriber) -> None:
        """Stop calling ``callback`` (nothing happens if it was not subscribed)."""
        with self._lock:
            self._subscribers = [(c, e) for c, e in self._subscribers if c is not callback]

    def emit(self, event: str, summary: str, details: dict[str, Any]) -> AlertEvent:
        """Raise ``event``: every subscriber to it is called, in the order they subscribed.

        Returns:
            The event handed to the subscribers.
        """
        if event not in EVENTS:
            raise RequestError(f"unknown alert event {event!r}; use one of {', '.join(EVENTS)}")
        alert = AlertEvent(event, self.project, summary, details)
        with self._lock:
            subscribers = [c for c, wanted in self._subscribers if event in wanted]
        for callback in subscribers:
            try:
                callback(alert)
            except Exception:
                logger.exception("an alert subscriber failed on the %r event", event)
        return alert
