"""A small feature repo on the embedded default (SQLite + Parquet), built per test."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from s3_server import s3_config
from store_repo import definitions

from featurestore import FeatureStore


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A module's ``OFFLINE_STORES`` (e.g. ``("local", "s3")``) runs each of its tests that
    makes a store once per offline store: the store contract (ingest, manifest and sweeps,
    crash tests, training frames) holds on a folder and on a real S3-compatible server."""
    kinds = getattr(metafunc.module, "OFFLINE_STORES", None)
    if kinds and "offline_kind" in metafunc.fixturenames:
        metafunc.parametrize("offline_kind", kinds)


@pytest.fixture
def offline_kind() -> str:
    """Where a store test keeps offline files (a module's ``OFFLINE_STORES`` overrides it)."""
    return "local"


@pytest.fixture
def make_store(
    tmp_path: Path, offline_kind: str, request: pytest.FixtureRequest
) -> Iterator[Callable[..., FeatureStore]]:
    stores: list[FeatureStore] = []
    top = table = ""
    if offline_kind == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        top, table = s3_config(endpoint, f"b{uuid.uuid4().hex[:16]}")

    def make(extra_toml: str = "", objects: list[object] | None = None) -> FeatureStore:
        repo = tmp_path / f"repo{len(stores)}"
        (repo / "data").mkdir(parents=True)
        (repo / "featurestore.toml").write_text(
            f'project = "p{len(stores)}"\n{top}{extra_toml}\n{table}'
        )
        store = FeatureStore(repo)
        store.apply(definitions() if objects is None else objects)
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()
