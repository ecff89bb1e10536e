"""Load the definitions of a feature repo: every ``*.py`` file in its folder not starting with ``_``."""

from __future__ import annotations

import importlib.util
import sys
import traceback
from pathlib import Path

from featurestore.definitions import Definition, FeatureView, PushSource
from featurestore.errors import FeatureStoreError, RepoError

__all__ = ["collect", "load_repo"]


def _import(path: Path, index: int) -> dict[str, object]:
    module_name = f"_featurestore_repo_{index}_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise RepoError(f"{path.name}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    added = str(path.parent) not in sys.path
    if added:
        sys.path.insert(0, str(path.parent))  # definition files may import their neighbours
    # the repo folder is the user's: loading it (for a dry run too) leaves no __pycache__ there
    wrote_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        spec.loader.exec_module(module)
    except FeatureStoreError as exc:
        raise RepoError(f"{path.name}: {exc.message}") from exc
    except Exception as exc:
        line = _line_in(path, exc)
        where = f"{path.name}, line {line}" if line else path.name
        raise RepoError(
            f"{where}: failed to import: {type(exc).__name__}: {' '.join(str(exc).split())}"
        ) from exc
    finally:
        sys.dont_write_bytecode = wrote_bytecode
        sys.modules.pop(module_name, None)
        if added:
            sys.path.remove(str(path.parent))
    return vars(module)


def _line_in(path: Path, exc: BaseException) -> int | None:
    if isinstance(exc, SyntaxError) and exc.lineno:
        return exc.lineno
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == path]
    return frames[-1].lineno if frames else None


def collect(objects: list[object], origin: dict[int, str] | None = None) -> list[Definition]:
    """Gather definitions (and the entities and sources they refer to), one per (kind, name).

    Raises:
        RepoError: two different definitions share a kind and name.
    """
    found: dict[tuple[str, str], Definition] = {}
    where: dict[tuple[str, str], str] = {}

    def add(obj: Definition, place: str) -> None:
        key = (obj.kind, obj.name)
        if key in found and found[key] != obj:
            raise RepoError(
                f"two different {obj.kind.replace('_', ' ')}s are named {obj.name!r} "
                f"({where[key]} and {place})"
            )
        found.setdefault(key, obj)
        where.setdefault(key, place)

    for obj in objects:
        if not isinstance(obj, Definition):
            continue
        place = (origin or {}).get(id(obj), "the given objects")
        add(obj, place)
        if isinstance(obj, FeatureView):
            for entity in obj.entities:
                add(entity, place)
            add(obj.source, place)
            if isinstance(obj.source, PushSource) and obj.source.batch_source is not None:
                add(obj.source.batch_source, place)
    return list(found.values())


def load_repo(repo_path: Path) -> list[Definition]:
    """Import the repo's definition files and return their definitions.

    Raises:
        RepoError: a file fails to import (the message names the file and line) or two
            definitions clash.
    """
    files = sorted(p for p in repo_path.glob("*.py") if not p.name.startswith("_"))
    objects: list[object] = []
    origin: dict[int, str] = {}
    for index, path in enumerate(files):
        for value in _import(path, index).values():
            if isinstance(value, Definition):
                objects.append(value)
                origin.setdefault(id(value), path.name)
    return collect(objects, origin)
