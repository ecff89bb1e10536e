"""A test hook for crash tests: kill this process at a named point.

``FEATURESTORE_FAULT=<point>`` makes :func:`fault_point` send SIGKILL to its own process when it
reaches that point (``ingest.rows_written``, ...), the way a ``kill -9`` or a power cut would: no
``finally`` block, no atexit handler, no flush runs. Tests use it to check that a crash at any
instant leaves either a whole batch or nothing. Unset, it costs one environment lookup.
"""

from __future__ import annotations

import os
import signal

__all__ = ["ENV", "fault_point"]

ENV = "FEATURESTORE_FAULT"


def fault_point(name: str) -> None:
    """Die here (SIGKILL) if ``FEATURESTORE_FAULT`` names this point."""
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
