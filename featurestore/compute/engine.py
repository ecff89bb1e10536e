"""Engines: where the per-bucket jobs of a view run, in this process or as Ray tasks.

A job is a plain top-level function applied to a small frozen value (a bucket's file list, the
spine rows of that bucket, a definition spec); an engine maps it over a view's buckets and hands
the results back in job order. The local engine runs up to ``workers`` jobs at once on threads
(``compute.workers``: 2 by default, 1 runs one job at a time); the Ray engine keeps a bounded
number of tasks in flight and runs exactly the same functions on the cluster, so both give the
same answers.

Both keep a bounded window of jobs in flight and hand results back in job order as they are
asked for, so a caller that consumes results as they come (materialization writes each bucket
online) never holds more than that window of buckets.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from featurestore.errors import ConfigError

__all__ = ["Engine", "LocalEngine", "RayEngine", "open_engine"]

J = TypeVar("J")
R = TypeVar("R")
log = logging.getLogger("featurestore.compute")


class Engine(Protocol):
    """Runs per-bucket jobs."""

    name: str

    def map(self, fn: Callable[[J], R], jobs: Sequence[J]) -> Iterator[R]:
        """``fn(job)`` for every job, yielded in job order."""
        ...

    def close(self) -> None: ...


def _windowed(
    submit: Callable[[J], Any], result: Callable[[Any], R], jobs: Sequence[J], window: int
) -> Iterator[R]:
    """Submit up to ``window`` jobs ahead; yield their results in job order."""
    pending: deque[Any] = deque()
    queue = iter(jobs)
    for job in queue:
        pending.append(submit(job))
        if len(pending) >= window:
            break
    while pending:
        done = result(pending.popleft())
        for job in queue:
            pending.append(submit(job))
            break
        yield done


class LocalEngine:
    """Runs jobs in this process on ``workers`` threads (Polars releases the GIL), so at most
    ``workers`` buckets are being computed at once; ``workers=1`` runs one bucket at a time."""

    name = "local"

    def __init__(self, workers: int = 2) -> None:
        self.workers = max(1, workers)

    def map(self, fn: Callable[[J], R], jobs: Sequence[J]) -> Iterator[R]:
        if self.workers == 1 or len(jobs) <= 1:
            yield from (fn(job) for job in jobs)
            return
        with ThreadPoolExecutor(self.workers, thread_name_prefix="featurestore-job") as pool:
            yield from _windowed(
                lambda job: pool.submit(fn, job), lambda f: f.result(), jobs, self.workers
            )

    def close(self) -> None:
        return None


class RayEngine:
    """Runs jobs as Ray tasks.

    Args:
        address: a cluster address (``ray://head:10001``, ``head:6379``), or ``"auto"``: join the
            cluster this machine belongs to, else start a local Ray instance. A Ray already
            initialised in this process is used as it is.
        in_flight: tasks submitted ahead of the one being collected (bounds the driver's memory).
    """

    name = "ray"

    def __init__(self, address: str = "auto", *, in_flight: int | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise ConfigError(
                "compute.engine = 'ray' needs Ray: pip install 'featurestore[ray]'"
            ) from None
        self._ray = ray
        if not ray.is_initialized():
            try:
                ray.init(address=address, log_to_driver=False, include_dashboard=False)
            except ConnectionError:
                if address != "auto":
                    raise ConfigError(f"no Ray cluster answers at {address!r}") from None
                log.info("no Ray cluster found: starting a local Ray instance")
                ray.init(log_to_driver=False, include_dashboard=False)
        cpus = int(ray.cluster_resources().get("CPU", 1))  # type: ignore[no-untyped-call]
        self._in_flight = in_flight or max(2, 2 * cpus)
        self._remote: dict[Callable[..., Any], Any] = {}

    def map(self, fn: Callable[[J], R], jobs: Sequence[J]) -> Iterator[R]:
        remote = self._remote.get(fn)
        if remote is None:
            remote = self._remote[fn] = self._ray.remote(fn)
        get: Callable[[Any], R] = self._ray.get
        yield from _windowed(remote.remote, get, jobs, self._in_flight)

    def close(self) -> None:
        return None  # the Ray instance may serve other stores of this process; it ends with it


def open_engine(engine: str, ray_address: str = "auto", workers: int = 2) -> Engine:
    """The engine the ``[compute]`` config names."""
    if engine == "ray":
        return RayEngine(ray_address)
    if engine == "local":
        return LocalEngine(workers)
    raise ConfigError(f"compute.engine must be 'local' or 'ray', got {engine!r}")
