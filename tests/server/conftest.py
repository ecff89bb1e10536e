"""The server tests' shared fixture: one served sample repo, built once per session.

See :func:`server_helpers.serve_new_repo` for what it holds.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from server_helpers import Served, serve_new_repo


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The shared served repo (tests must not move its watermarks or materialize the future)."""
    with serve_new_repo(tmp_path_factory.mktemp("served")) as live:
        yield live
