"""Fixtures of the UI tests: the quickstart's data (built once per session) and a browser."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ui_helpers import CHROMIUM, FLAGS, UiServer, need_chromium


@pytest.fixture(scope="session")
def demo_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``featurestore quickstart``'s repo: contract violations, stale and drifted traffic,
    feedback; every report recorded."""
    folder = tmp_path_factory.mktemp("ui") / "quickstart"
    result = subprocess.run(
        [sys.executable, "-m", "featurestore.cli", "quickstart", "--dir", str(folder)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return folder


@pytest.fixture(scope="session")
def ui_url(demo_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with UiServer(demo_repo, tmp_path_factory.mktemp("ui-log") / "server.log") as server:
        yield server.url


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()
