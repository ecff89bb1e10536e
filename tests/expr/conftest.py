"""Hypothesis profiles of the expression suite: 2,000 parity examples under CI, fewer locally.

``expr_strategies.expr_settings()`` picks one (``expr-ci`` when ``CI=true``, else ``expr-dev``,
or the one named by ``FEATURESTORE_EXPR_PROFILE``) and the suite's tests apply it themselves
instead of loading it globally, so other suites keep their own example counts.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

_COMMON = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    "print_blob": True,
}
settings.register_profile("expr-ci", max_examples=2000, **_COMMON)  # type: ignore[arg-type]
settings.register_profile("expr-dev", max_examples=300, **_COMMON)  # type: ignore[arg-type]
settings.register_profile("expr-long", max_examples=20000, **_COMMON)  # type: ignore[arg-type]
