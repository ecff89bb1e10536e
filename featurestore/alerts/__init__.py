"""Alerts: webhook posts when a batch is rejected, rows are quarantined, skew or drift is found,
a concept-drift detector fires (and, from the policy layer, ``retrain`` and ``rollout``).

Events come from what the registry records (a listener on it), go to an outbox table in the
registry, and are posted by a background worker with retries and backoff: never on the serving
path, and every delivery and attempt is recorded. Configure with ``[[alerts]]`` entries in
``featurestore.toml`` (:class:`featurestore.config.AlertConfig`).
"""

from featurestore.alerts.events import Event, events_for
from featurestore.alerts.notifier import Alerts
from featurestore.config import ALERT_EVENTS

__all__ = ["ALERT_EVENTS", "Alerts", "Event", "events_for"]
