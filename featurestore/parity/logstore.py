"""Moving the serving log from the online buffer into Parquet files, and reading it back."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Protocol

import polars as pl

from featurestore.parity.log import LOG_SCHEMA, ServingLogger, decode_entries

if TYPE_CHECKING:
    from featurestore.offline.storage import OfflineStore
    from featurestore.online import LogBuffer

__all__ = ["flush_serving_log", "read_serving_log"]

DRAIN_BATCH = 100_000


class _FlushRecords(Protocol):
    def record_log_flush(
        self, path: str, rows: int, first_ts: dt.datetime, last_ts: dt.datetime
    ) -> None: ...


def flush_serving_log(
    online: LogBuffer,
    storage: OfflineStore,
    registry: _FlushRecords,
    logger: ServingLogger | None = None,
) -> int:
    """Ship this process's queued samples, then move the whole buffer into Parquet files.

    Returns:
        How many served values (log rows) were written.
    """
    if logger is not None:
        logger.ship()
    written = 0
    while True:
        entries = online.log_drain(DRAIN_BATCH)
        if not entries:
            return written
        frame = decode_entries(entries)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
        path = f"{storage.serving_log_dir()}/flush-{stamp}-{uuid.uuid4().hex[:8]}.parquet"
        url = storage.write_file(path, frame)
        times = frame.get_column("requested_at")
        registry.record_log_flush(url, frame.height, times.min(), times.max())  # type: ignore[arg-type]
        written += frame.height


def read_serving_log(
    storage: OfflineStore,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    *,
    shadow: bool = False,
) -> pl.DataFrame:
    """Every flushed log row with ``since <= requested_at < until``: the served rows, or with
    ``shadow`` only the rows a shadow rollout computed beside them (never served, so never
    part of the skew check, drift or feedback loops)."""
    prefix = storage.serving_log_dir()
    files = sorted(
        f.path for f in storage.list_files(prefix) if f.path.rsplit("/", 1)[-1].startswith("flush-")
    )
    files = [f for f in files if f.endswith(".parquet")]
    if not files:
        return pl.DataFrame(schema=LOG_SCHEMA)
    lazy = storage.location.scan(files, schema=LOG_SCHEMA, missing_columns="insert")
    if since is not None:
        lazy = lazy.filter(pl.col("requested_at") >= since)
    if until is not None:
        lazy = lazy.filter(pl.col("requested_at") < until)
    is_shadow = pl.col("arm").fill_null("") == "shadow"
    return lazy.filter(is_shadow if shadow else ~is_shadow).collect()
