"""Concept-drift detectors over a per-request error stream: thin wrappers around river.

ADWIN (``river.drift.ADWIN``) watches any error (0/1 misclassifications or absolute errors); DDM
(``river.drift.binary.DDM``) needs a 0/1 stream. Both run with river's default parameters and
reset themselves after each detection, so a stream can raise several alarms.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from featurestore.errors import RequestError
from featurestore.reports import iso

__all__ = ["Alarm", "run_detectors"]


@dataclass(frozen=True)
class Alarm:
    """One detection: which detector fired, at which position of the stream, and when.

    Attributes:
        detector: ``"ADWIN"`` or ``"DDM"``.
        index: 0-based position in the error stream of the error that made it fire.
        timestamp: that request's time, or None when the stream had no times.
    """

    detector: str
    index: int
    timestamp: dt.datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """``{detector, timestamp (ISO 8601 UTC with Z), index}``."""
        return {"detector": self.detector, "timestamp": iso(self.timestamp), "index": self.index}


def run_detectors(
    errors: Sequence[float],
    times: Sequence[dt.datetime] | None = None,
    *,
    binary: bool | None = None,
) -> list[Alarm]:
    """Feed an error stream, in order, to ADWIN and (for 0/1 errors) DDM.

    Args:
        errors: per-request errors in time order: 0/1 misclassifications or absolute errors.
        times: each error's request time (same length), or None.
        binary: whether the errors are 0/1 (DDM runs only then); None decides from the values.

    Returns:
        The alarms in stream order (ADWIN before DDM at the same index).

    Raises:
        RequestError: lengths differ, an error is not a finite number, or ``binary=True`` with an
            error other than 0 or 1.
    """
    from river.drift import ADWIN
    from river.drift.binary import DDM

    values = [float(e) for e in errors]
    if times is not None and len(times) != len(values):
        raise RequestError(
            f"run_detectors got {len(values)} errors but {len(times)} times; give one time per error."
        )
    bad = next((e for e in values if not math.isfinite(e)), None)
    if bad is not None:
        raise RequestError(f"Error stream value {bad} is not a finite number.")
    is_binary = all(e in (0.0, 1.0) for e in values)
    if binary and not is_binary:
        raise RequestError("run_detectors(binary=True) needs errors of 0 or 1 only (for DDM).")
    adwin = ADWIN()  # type: ignore[no-untyped-call]  # river is partly typed
    ddm = DDM() if (is_binary if binary is None else binary) else None
    alarms: list[Alarm] = []
    for index, error in enumerate(values):
        adwin.update(error)  # type: ignore[no-untyped-call]
        if adwin.drift_detected:
            alarms.append(Alarm("ADWIN", index, times[index] if times is not None else None))
        if ddm is not None:
            ddm.update(error == 1.0)  # type: ignore[no-untyped-call]
            if ddm.drift_detected:
                alarms.append(Alarm("DDM", index, times[index] if times is not None else None))
    return alarms
