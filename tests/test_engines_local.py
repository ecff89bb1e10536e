"""The local engine: results in job order, a bounded window of jobs in flight."""

from __future__ import annotations

import threading
import time

import pytest

from featurestore.compute import LocalEngine, open_engine
from featurestore.errors import ConfigError


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_results_come_back_in_job_order(workers: int) -> None:
    running = {"now": 0, "most": 0}
    lock = threading.Lock()

    def job(i: int) -> int:
        with lock:
            running["now"] += 1
            running["most"] = max(running["most"], running["now"])
        time.sleep(0.002 * (i % 3))  # later jobs may finish first
        with lock:
            running["now"] -= 1
        return i * i

    engine = LocalEngine(workers)
    assert list(engine.map(job, list(range(20)))) == [i * i for i in range(20)]
    assert running["most"] <= workers


def test_a_job_error_reaches_the_caller() -> None:
    def job(i: int) -> int:
        if i == 3:
            raise ValueError("bucket 3 is bad")
        return i

    with pytest.raises(ValueError, match="bucket 3"):
        list(LocalEngine(2).map(job, list(range(6))))


def test_unknown_engine_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"compute\.engine"):
        open_engine("spark")
