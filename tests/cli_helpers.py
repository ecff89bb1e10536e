"""Running the ``featurestore`` command as users do: a real subprocess, a clean environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXE = [sys.executable, "-m", "featurestore.cli"]


def run(
    *args: str, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """The command's result; ``FEATURESTORE_*`` variables are dropped, the terminal is wide."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEATURESTORE_")}
    env["COLUMNS"] = "200"
    return subprocess.run(
        [*EXE, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
