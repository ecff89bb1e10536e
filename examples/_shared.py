"""What every example's ``run.py`` shares: a fresh work folder, the store, printing, the CLI.

An example folder is a complete feature repo (``featurestore.toml`` + definitions). A run copies
that repo into a work folder, writes its generated data there and keeps all state there too, so
the example folder stays clean and a run can be repeated.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from featurestore import FeatureStore, FeatureStoreError
from featurestore.config import load_config

__all__ = ["UTC_US", "Say", "main", "open_store", "prepare_workdir", "say_to", "utc_series"]

UTC_US = pl.Datetime("us", "UTC")
MARKER = ".featurestore-example"
Say = Callable[[str], None]


def say_to(quiet: bool) -> Say:
    """``print``, or nothing when ``quiet`` (tests call the scenarios in-process)."""
    return (lambda _text: None) if quiet else (lambda text: print(text, flush=True))


def utc_series(name: str, values: Sequence[dt.datetime]) -> pl.Series:
    """A UTC microsecond timestamp column, the one timestamp type the store accepts."""
    return pl.Series(name, list(values), dtype=UTC_US)


def prepare_workdir(example_dir: Path, workdir: Path) -> Path:
    """Empty ``workdir`` (only if an earlier run made it) and copy the example's repo into it.

    The repo is ``featurestore.toml`` and the definition files (``*.py`` not starting with ``_``,
    except ``run.py``), so ``featurestore apply`` in the work folder sees exactly the example's
    definitions.

    Raises:
        FeatureStoreError: ``workdir`` holds files that no example run made.
    """
    workdir = workdir.resolve()
    if workdir.exists() and any(workdir.iterdir()):
        if not (workdir / MARKER).exists():
            raise FeatureStoreError(
                f"work folder {workdir} is not empty and was not made by an example run; "
                "choose another --workdir"
            )
        shutil.rmtree(workdir)
    (workdir / "data").mkdir(parents=True)
    (workdir / MARKER).touch()
    shutil.copy2(example_dir / "featurestore.toml", workdir / "featurestore.toml")
    for source in example_dir.glob("*.py"):
        if not source.name.startswith("_") and source.name != "run.py":
            shutil.copy2(source, workdir / source.name)
    return workdir


def open_store(workdir: Path) -> FeatureStore:
    """Open the work folder's store.

    With a server-backed registry or online store (``FEATURESTORE_REGISTRY`` /
    ``FEATURESTORE_ONLINE_STORE``) and no ``FEATURESTORE_PROJECT``, the project gets a suffix unique
    to this run: state left by an earlier run on the same server (online values, serving-log
    samples, feedback) must not leak into this one.
    """
    config = load_config(workdir)
    embedded = config.registry.startswith("sqlite") and config.online_store.startswith("sqlite")
    if not embedded and "FEATURESTORE_PROJECT" not in os.environ:
        config = config.model_copy(update={"project": f"{config.project}_{uuid.uuid4().hex[:8]}"})
    return FeatureStore(config=config)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value) if isinstance(value, set | frozenset) else value
        return [_jsonable(v) for v in items]
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def main(
    example_dir: Path, run: Callable[..., dict[str, Any]], argv: Sequence[str] | None = None
) -> None:
    """The command line of an example: ``python examples/<name>/run.py [--workdir DIR] [--json]``."""
    parser = argparse.ArgumentParser(
        prog=f"python examples/{example_dir.name}/run.py",
        description=(run.__doc__ or "").strip().split("\n")[0] or None,
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=example_dir / ".work",
        help="where the generated data and the store's state go (emptied first; default: %(default)s)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print only the findings, as one JSON object"
    )
    args = parser.parse_args(argv)
    try:
        findings = run(args.workdir, quiet=args.json)
    except FeatureStoreError as exc:
        raise SystemExit(f"error: {exc}") from None
    if args.json:
        print(json.dumps(_jsonable(findings), sort_keys=True))
