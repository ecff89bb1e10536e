"""Sweeping: remove the files of runs that will never commit.

A run's files are written before its commit, so a crash leaves files no reader looks at (readers
take their lists from the registry). A run folder goes when its run finished without committing
(failed, duplicate), when the process that owned it is gone (same host, pid not alive), or when
it is older than ``stale`` whatever its owner (another host may have died). A run that died is
then recorded as failed, so reports show it.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Sequence
from typing import Any, Protocol

from featurestore.offline.storage import OfflineStore

__all__ = ["sweep_view"]

#: an unfinished run older than this is taken as dead whatever its owner
STALE_RUN = dt.timedelta(hours=24)
#: a run folder the registry does not know (its registry was reset) goes after this
UNKNOWN_FOLDER_SECONDS = 3600.0


class SweepRegistry(Protocol):
    def run_states(self, run_ids: Sequence[str]) -> Any: ...
    def finish_ingestion(self, run_id: str, report: dict[str, Any]) -> None: ...


def _alive(owner: str | None) -> bool:
    """Whether the process named ``host:pid`` may still be running (True when unsure)."""
    if not owner or ":" not in owner:
        return True
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_view(
    storage: OfflineStore, registry: SweepRegistry, view: str, *, now: dt.datetime | None = None
) -> list[str]:
    """Remove the files of ``view``'s runs that will never commit; returns their run ids."""
    folders = storage.run_folders(view)
    if not folders:
        return []
    now = now or dt.datetime.now(dt.UTC)
    states = registry.run_states(list(folders))
    removed = []
    for run_id, files in folders.items():
        state = states.get(run_id)
        paths = list(files.paths)
        if state is None:
            if (now - files.modified).total_seconds() > UNKNOWN_FOLDER_SECONDS:
                storage.delete(paths)
                removed.append(run_id)
            continue
        if state.committed:
            continue
        dead = not state.finished and (
            not _alive(state.owner) or now - state.started_at > STALE_RUN
        )
        if state.finished or dead:
            storage.delete(paths)
            removed.append(run_id)
        if dead:
            registry.finish_ingestion(
                run_id,
                {
                    "run_id": run_id,
                    "view": view,
                    "source": state.source,
                    "status": "failed",
                    "started_at": state.started_at.isoformat(),
                    "rows_in": 0,
                    "rows_written": 0,
                    "rows_quarantined": 0,
                    "violations": [],
                    "health": {},
                    "error": f"the ingesting process ({state.owner}) stopped before the batch "
                    "was committed; nothing of it is visible",
                },
            )
    return removed
