"""``Alerts``: turn registry records into webhook deliveries and post them in the background.

Posting happens in one daemon thread per store. A delivery is claimed from the registry's
outbox, posted as JSON, and its attempt recorded: a 2xx delivers it; anything else (a refused
connection, a timeout, a non-2xx answer) schedules a retry after ``backoff * 2**(n-1)`` seconds
(at most ``max_backoff``) until ``max_attempts``. Deliveries left pending when a process ends
(a CLI command) are picked up by the next process that has alerts configured.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import httpx

import featurestore
from featurestore.alerts.events import Event, events_for
from featurestore.reports import iso

if TYPE_CHECKING:
    from featurestore.config import AlertConfig
    from featurestore.registry import Registry

__all__ = ["Alerts"]

logger = logging.getLogger("featurestore.alerts")

LEASE = dt.timedelta(minutes=2)
_IDLE_SECONDS = 5.0


class Alerts:
    """Alert deliveries of one project.

    Args:
        configs: the ``[[alerts]]`` entries.
        project: the project named in every payload.
        registry: a getter of the registry (the outbox).
    """

    def __init__(
        self, configs: Sequence[AlertConfig], project: str, registry: Callable[[], Registry]
    ) -> None:
        self.configs = tuple(configs)
        self.project = project
        self._registry = registry
        self._by_url = {c.url: c for c in self.configs}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None

    # -- events -------------------------------------------------------------------------------
    def on_record(self, kind: str, record: Mapping[str, Any]) -> None:
        """A registry listener: queue the events a new record raises."""
        for event in events_for(kind, record):
            self.emit(event)

    def emit(self, event: Event, *, at: dt.datetime | None = None) -> list[int]:
        """Queue ``event`` for every webhook subscribed to it and wake the worker.

        Returns:
            The ids of the deliveries queued (none when nobody listens for the event).
        """
        payload = {
            "event": event.event,
            "project": self.project,
            "summary": event.summary,
            "details": event.details,
            "at": iso(at or dt.datetime.now(dt.UTC)),
            "text": f"[{self.project}] {event.summary}",  # what Slack-style webhooks show
        }
        rows = [
            {"event": event.event, "url": c.url, "payload": payload}
            for c in self.configs
            if event.event in c.events
        ]
        if not rows:
            return []
        ids = self._registry().enqueue_alerts(rows)
        self.start()
        self._wake.set()
        return ids

    # -- the worker ---------------------------------------------------------------------------
    def start(self) -> None:
        """Start the background worker (idempotent); it also resumes deliveries left pending."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(
                    target=self._run, name="featurestore-alerts", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                worked = self.deliver_due()
            except Exception:
                logger.exception("alert worker: the registry could not be read")
                worked = 0
            if worked:
                continue
            self._wake.wait(timeout=self._next_wait())
            self._wake.clear()

    def _next_wait(self) -> float:
        try:
            pending = self._registry().alert_deliveries(status="pending", limit=50)
        except Exception:
            return _IDLE_SECONDS
        if not pending:
            return _IDLE_SECONDS
        soonest: dt.datetime = min(d["next_attempt_at"] for d in pending)
        wait = (soonest - dt.datetime.now(dt.UTC)).total_seconds()
        return min(max(wait, 0.01), _IDLE_SECONDS)

    def deliver_due(self) -> int:
        """Post every delivery due now, once each; returns how many were attempted."""
        claimed = self._registry().claim_alerts(lease=LEASE)
        for delivery in claimed:
            if self._stop.is_set():
                break
            self._attempt(delivery)
        return len(claimed)

    def _attempt(self, delivery: dict[str, Any]) -> None:
        config = self._by_url.get(delivery["url"])
        timeout = config.timeout if config else 5.0
        status: int | None = None
        error: str | None = None
        try:
            if self._client is None:
                self._client = httpx.Client(
                    headers={"User-Agent": f"featurestore/{featurestore.__version__} alerts"}
                )
            response = self._client.post(delivery["url"], json=delivery["payload"], timeout=timeout)
            status = response.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}: {response.text[:200]}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        attempts = delivery["attempts"] + 1
        retry_at = None
        if error is not None and config is not None and attempts < config.max_attempts:
            delay = min(config.backoff * 2 ** (attempts - 1), config.max_backoff)
            retry_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=delay)
        if error is not None:
            logger.warning(
                "alert %s to %s: attempt %d failed (%s)%s",
                delivery["event"],
                delivery["url"],
                attempts,
                error,
                "" if retry_at else "; giving up",
            )
        self._registry().record_alert_attempt(
            delivery["id"],
            delivered=error is None,
            status_code=status,
            error=error,
            retry_at=retry_at,
        )

    def drain(self, timeout: float) -> bool:
        """Wait until nothing is due now (deliveries waiting for a retry later do not count), at
        most ``timeout`` seconds. True when nothing was left due."""
        if self._thread is None or not self._thread.is_alive():
            return True
        deadline = time.monotonic() + timeout
        while True:
            if not self._due_now():
                return True
            if time.monotonic() >= deadline:
                return False
            self._wake.set()
            time.sleep(0.05)

    def _due_now(self) -> bool:
        registry = self._registry()
        if registry.alert_deliveries(status="sending", limit=1):
            return True
        now = dt.datetime.now(dt.UTC)
        return any(
            d["next_attempt_at"] <= now
            for d in registry.alert_deliveries(status="pending", limit=100)
        )

    def close(self, *, drain: float = 5.0) -> None:
        """Give queued deliveries up to ``drain`` seconds, then stop the worker."""
        if self._thread is not None and self._thread.is_alive():
            self.drain(drain)
            self._stop.set()
            self._wake.set()
            self._thread.join(timeout=max(c.timeout for c in self.configs) + 1)
        self._thread = None
        if self._client is not None:
            self._client.close()
            self._client = None
