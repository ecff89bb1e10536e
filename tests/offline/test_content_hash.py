"""A batch's content digest does not depend on how its rows are hashed in slices."""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl
import pytest

from featurestore.offline import ingest
from featurestore.offline.ingest import content_hash


def _whole(frame: pl.DataFrame) -> str:
    digest = hashlib.sha256(repr(frame.schema).encode())
    digest.update(frame.height.to_bytes(8, "little"))
    if frame.height and frame.width:
        digest.update(frame.hash_rows(seed=0x66736873).to_numpy().tobytes())
    return digest.hexdigest()


@pytest.mark.parametrize("rows", [0, 1, 9, 10, 11, 35])
def test_sliced_digest_equals_the_whole_batch_digest(
    rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest, "_HASH_SLICE", 5)  # several slices even for a small batch
    monkeypatch.setattr(ingest.os, "cpu_count", lambda: 3)
    rng = np.random.default_rng(rows)
    frame = pl.DataFrame({"k": rng.integers(0, 4, rows), "x": rng.standard_normal(rows)})
    assert content_hash(frame) == _whole(frame)
