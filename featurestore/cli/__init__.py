"""The ``featurestore`` command: a thin shell over :class:`featurestore.FeatureStore`."""

from __future__ import annotations

import sys

from featurestore.cli import (  # noqa: F401  (registers the commands)
    acting,
    catalog,
    commands,
    parity,
    rollouts,
)
from featurestore.cli.common import app, err, state
from featurestore.errors import FeatureStoreError
from featurestore.limits import clip

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except FeatureStoreError as exc:  # raised outside a command (the global options)
        if state["debug"]:
            raise
        err.print(f"error: {clip(exc.message)}", markup=False)
        sys.exit(1)
