"""``import featurestore`` loads no heavy module; names load when first used."""

from __future__ import annotations

import subprocess
import sys

import featurestore

HEAVY = ["polars", "sqlalchemy", "pandera", "pyarrow", "redis", "fastapi", "scipy", "ray", "numpy"]


def test_import_loads_no_heavy_module() -> None:
    code = f"import sys, featurestore; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_every_public_name_resolves() -> None:
    for name in featurestore.__all__:
        assert getattr(featurestore, name) is not None
    assert set(featurestore.__all__) <= set(dir(featurestore))
