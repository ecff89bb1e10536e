"""One registry suite over every backend: SQLite (a temporary file) and the real PostgreSQL.

Tests isolate themselves by project name (``project_name`` is unique per test), so the PostgreSQL
ones share one database for the session instead of paying for a fresh one each; the tests that
need an empty database (migrations) ask for ``fresh_registry_url``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from featurestore.registry import Registry
from tests.conftest import temporary_database

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def shared_postgres_url() -> Iterator[str]:
    """A PostgreSQL database for this suite's session, dropped at the end."""
    with temporary_database("fs_registry") as url:
        yield url


@pytest.fixture(params=BACKENDS)
def registry_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A registry database of each backend (PostgreSQL: shared; isolate by project)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.db'}"
    url: str = request.getfixturevalue("shared_postgres_url")
    return url


@pytest.fixture(params=BACKENDS)
def fresh_registry_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each backend, with no registry schema yet."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def registry(registry_url: str, project_name: str) -> Iterator[Registry]:
    """An open registry of a project unique to the test."""
    reg = Registry(registry_url, project_name)
    yield reg
    reg.close()


@pytest.fixture
def pair(registry_url: str, project_name: str) -> Iterator[tuple[Registry, Registry]]:
    """Two registries of one project with separate engines, like two processes."""
    first, second = Registry(registry_url, project_name), Registry(registry_url, project_name)
    yield first, second
    first.close()
    second.close()
