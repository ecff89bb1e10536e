"""What the UI tests share: the quickstart's repo served by a real uvicorn, and headless
Chromium (Debian's ``chromium``) driven by Playwright with the launch flags this machine needs.

Screenshots go to ``$FEATURESTORE_TEST_ARTIFACTS/ui`` (default ``test-artifacts/ui`` at the top
of the repository).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

CHROMIUM = os.environ.get("FEATURESTORE_TEST_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]


def artifacts() -> Path:
    """The folder for screenshots and exported files (kept after the run, for CI)."""
    folder = Path(os.environ.get("FEATURESTORE_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "ui"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def need_chromium() -> None:
    """Chromium and Playwright must be there in CI; elsewhere their absence skips."""
    missing = []
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package (pip install -e '.[dev]')")
    if missing:
        reason = "browser tests need " + " and ".join(missing)
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}, and CI=true", pytrace=False)
        pytest.skip(reason)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class UiServer:
    """uvicorn with the feature server's app for ``repo`` on a free loopback port."""

    def __init__(self, repo: Path, log: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        clean = {k: v for k, v in os.environ.items() if not k.startswith("FEATURESTORE_")}
        self.env = {**clean, "FEATURESTORE_REPO": str(repo), **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> UiServer:
        args = [sys.executable, "-m", "uvicorn", "featurestore.server.app:app_from_env"]
        args += ["--factory", "--host", "127.0.0.1", "--port", str(self.port)]
        args += ["--log-level", "warning", "--no-access-log"]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(args, env=self.env, stdout=out, stderr=out)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited:\n{self.log.read_text()[-3000:]}")
            try:
                httpx.get(self.url + "/health", timeout=1.0)
                return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("the server did not answer within 60 s")

    def __exit__(self, *_: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
