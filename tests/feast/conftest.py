"""Fixtures of the Feast compatibility tests: a served repo of their own, and the Python of
Feast's cached virtualenv (see :mod:`feast_helpers`)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))

from feast_helpers import ensure_feast, feast_cache
from server_helpers import Served, serve_new_repo


@pytest.fixture(scope="session")
def feast_python() -> Path:
    """The Python of the cached Feast virtualenv."""
    return ensure_feast(feast_cache())


@pytest.fixture(scope="session")
def feast_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A served sample repo of these tests alone (they write to it and materialize it)."""
    with serve_new_repo(tmp_path_factory.mktemp("feast_served")) as live:
        yield live
