"""A small feature repo on the embedded default (SQLite + Parquet), built per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from store_repo import definitions

from featurestore import FeatureStore


@pytest.fixture
def make_store(tmp_path: Path) -> Iterator[Callable[..., FeatureStore]]:
    stores: list[FeatureStore] = []

    def make(extra_toml: str = "", objects: list[object] | None = None) -> FeatureStore:
        repo = tmp_path / f"repo{len(stores)}"
        (repo / "data").mkdir(parents=True)
        (repo / "featurestore.toml").write_text(f'project = "p{len(stores)}"\n{extra_toml}')
        store = FeatureStore(repo)
        store.apply(definitions() if objects is None else objects)
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()
