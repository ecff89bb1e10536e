"""Moving the serving log from the online buffer into Parquet files, and reading it back."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Protocol

import polars as pl

from featurestore._faults import fault_point
from featurestore.parity.log import LOG_SCHEMA, ServingLogger, decode_entries

if TYPE_CHECKING:
    from featurestore.offline.storage import OfflineStore
    from featurestore.online import LogBuffer

__all__ = ["flush_serving_log", "read_serving_log"]

CLAIM_BATCH = 100_000  # entries per claimed batch (one Parquet file)


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

    Each batch is claimed in the buffer (:meth:`~featurestore.online.LogBuffer.log_claim`),
    written to a file named after the claim, recorded, then released. A flush killed before the
    release leaves the claim, and the next flush writes it again, to the same file, before
    anything new: no sample is lost, and none is counted twice (two flushes meeting on one
    claim write the same rows to the same name).

    Returns:
        How many served values (log rows) were written.
    """
    if logger is not None:
        logger.ship()
    written = 0
    for claim, entries in online.log_claims():  # left by a flush that died (or still runs)
        written += _store_claim(online, storage, registry, claim, entries)
    while True:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
        claim = f"{stamp}-{uuid.uuid4().hex[:8]}"  # file names sort in the order of flushes
        entries = online.log_claim(CLAIM_BATCH, claim)
        if not entries:
            return written
        written += _store_claim(online, storage, registry, claim, entries)


def _store_claim(
    online: LogBuffer,
    storage: OfflineStore,
    registry: _FlushRecords,
    claim: str,
    entries: list[bytes],
) -> int:
    frame = decode_entries(entries)
    fault_point("log.claimed")
    url = storage.write_file(f"{storage.serving_log_dir()}/flush-{claim}.parquet", frame)
    times = frame.get_column("requested_at")
    registry.record_log_flush(url, frame.height, times.min(), times.max())  # type: ignore[arg-type]
    fault_point("log.written")
    online.log_release(claim)
    return frame.height


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
