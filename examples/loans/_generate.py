"""Seeded loan applications: a calm quarter to train on, then eight live weeks with a recession.

- Training (``TRAIN_FROM`` to ``LIVE_FROM``): 2% of loans default.
- Live weeks before ``RECESSION``: the same world.
- From ``RECESSION``: incomes fall by 30% (data drift) and 10% of loans default (label drift).
  Debt ratio, credit history, open accounts and region are drawn exactly as before.
- Defaults are known only for loans applied for before ``LABELS_UNTIL``; the later ones are
  still running, so they have predictions but no labels yet.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from examples._shared import utc_series

__all__ = [
    "LABELS_UNTIL",
    "LIVE_FROM",
    "LIVE_UNTIL",
    "RECESSION",
    "TRAIN_FROM",
    "applications",
]

TRAIN_FROM = dt.datetime(2025, 10, 2, tzinfo=dt.UTC)
LIVE_FROM = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)  # a Thursday: epoch-aligned weeks start here
RECESSION = LIVE_FROM + dt.timedelta(weeks=4)
LABELS_UNTIL = RECESSION + dt.timedelta(weeks=2)
LIVE_UNTIL = LIVE_FROM + dt.timedelta(weeks=8)
TRAIN_PER_WEEK, LIVE_PER_WEEK = 400, 100
REGIONS, REGION_SHARES = ["north", "south", "east", "west"], [0.3, 0.25, 0.25, 0.2]
MEDIAN_INCOME = 52_000.0
INCOME_FALL = 0.7  # incomes in the recession, relative to before
INCOME_EFFECT = 2.5  # on the log-odds of default, per unit of log income
BASE_LOGIT, RECESSION_SHOCK = -4.7, 1.0  # 2% and 10% default


def _week(rng: np.random.Generator, start: dt.datetime, n: int, recession: bool) -> pl.DataFrame:
    income = MEDIAN_INCOME * np.exp(rng.normal(0.0, 0.45, n)) * (INCOME_FALL if recession else 1)
    debt_ratio = rng.beta(2.0, 5.0, n)
    history = rng.gamma(3.0, 3.0, n)
    logit = (
        BASE_LOGIT
        + (RECESSION_SHOCK if recession else 0.0)
        - INCOME_EFFECT * np.log(income / MEDIAN_INCOME)
        + 4.0 * (debt_ratio - 2 / 7)
        - 0.06 * (history - 9.0)
    )
    seconds = np.sort(rng.uniform(0, 7 * 86_400, n))
    return pl.DataFrame(
        {
            "income": np.round(income, 0),
            "debt_ratio": np.round(debt_ratio, 4),
            "credit_history_years": np.round(history, 1),
            "open_accounts": rng.poisson(4.0, n),
            "region": rng.choice(REGIONS, size=n, p=REGION_SHARES),
            "applied_at": utc_series(
                "applied_at", [start + dt.timedelta(seconds=float(s)) for s in seconds]
            ),
            "defaulted": rng.random(n) < 1 / (1 + np.exp(-logit)),
        }
    )


def applications(seed: int = 23) -> pl.DataFrame:
    """Every application, one applicant each, with ``defaulted`` (known months later)."""
    rng = np.random.default_rng(seed)
    weeks = []
    start = TRAIN_FROM
    while start < LIVE_UNTIL:
        n = TRAIN_PER_WEEK if start < LIVE_FROM else LIVE_PER_WEEK
        weeks.append(_week(rng, start, n, recession=start >= RECESSION))
        start += dt.timedelta(weeks=1)
    frame = pl.concat(weeks)
    return frame.with_columns(pl.int_range(0, frame.height).alias("applicant_id")).select(
        "applicant_id", pl.exclude("applicant_id")
    )
