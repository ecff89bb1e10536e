"""Keep a running server's definitions in step with the registry.

The store serves from an immutable serving state. A watcher compares the registry's current
``(kind, name, version)`` set (and the running rollouts) with the one it saw last, every few seconds in the background and
(at most once a second) when a request names something unknown, so ``featurestore apply``
reaches a running server without a restart. The new state is built in the watcher's thread and
swapped in whole (``FeatureStore.refresh``), so requests keep being answered from the previous
one meanwhile, however slow the registry.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

from featurestore.errors import NotFoundError
from featurestore.serving.state import rollout_fingerprint
from featurestore.store import FeatureStore

__all__ = ["DefinitionWatcher"]

logger = logging.getLogger("featurestore.server")
T = TypeVar("T")


class DefinitionWatcher:
    """Reloads the store's definitions when the registry changes.

    Args:
        store: the store whose cache to refresh.
        interval: seconds between background checks.
        min_gap: the least seconds between two checks triggered by unknown names.
    """

    def __init__(self, store: FeatureStore, *, interval: float = 5.0, min_gap: float = 1.0) -> None:
        self.store = store
        self.interval = interval
        self.min_gap = min_gap
        self._seen: frozenset[tuple[str, str, int]] | None = None
        self._last_check = 0.0
        self._lock = threading.Lock()

    def _fingerprint(self) -> frozenset[tuple[str, str, int]]:
        registry = self.store.registry
        return frozenset(
            (o.kind, o.name, o.version) for o in registry.list()
        ) | rollout_fingerprint(registry.rollouts.list(running=True))

    def check(self) -> bool:
        """Reload the definitions if the registry changed (blocking); True if it did."""
        with self._lock:
            self._last_check = time.monotonic()
            current = self._fingerprint()
            if current == self._seen:
                return False
            self.store.refresh()  # built here, aside; requests use the old state meanwhile
            changed = self._seen is not None
            self._seen = current
        if changed:
            logger.info("definitions changed in the registry; reloaded")
        return changed

    async def run(self) -> None:
        """Check every ``interval`` seconds until cancelled; failures are logged, not raised."""
        while True:
            await asyncio.sleep(self.interval)
            try:
                await run_in_threadpool(self.check)
            except Exception:
                logger.exception("could not read the registry to refresh definitions")

    async def retry_on_miss(self, call: Callable[[], Awaitable[T]]) -> T:
        """Run ``call``; if it names something unknown and the registry changed, run it again."""
        try:
            return await call()
        except NotFoundError:
            if time.monotonic() - self._last_check < self.min_gap:
                raise
            if not await run_in_threadpool(self.check):
                raise
        return await call()
