"""Seeded card transactions over six weeks, with fraud labels whose pattern changes midway.

The generator draws the transactions the same way for the whole six weeks: ordinary purchases
(mostly at a card's usual merchants) and, now and then, a burst of purchases within the hour at
merchants new to the card. Only the labels change at ``CHANGE``:

- before, fraud is card testing: the bursts are fraud (90%), ordinary purchases almost never;
- from ``CHANGE``, the ring works through taken-over accounts: single purchases at merchants the
  card already uses are fraud (7%), and the bursts that remain are legitimate sprees (3% fraud).

So no input drifts and the fraud rate stays near 6%, but what fraud looks like changes: concept drift.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import polars as pl

__all__ = [
    "CHANGE",
    "END",
    "REFER_AMOUNT",
    "SCORE_FROM",
    "START",
    "TRAIN_FROM",
    "transactions",
]

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
END = START + dt.timedelta(weeks=6)
CHANGE = START + dt.timedelta(weeks=3)  # midway; a Thursday, where epoch-aligned weeks begin
TRAIN_FROM = START + dt.timedelta(weeks=1)  # after a week of warm-up for the 7-day window
SCORE_FROM = START + dt.timedelta(weeks=2)  # the model goes live a week before the change

N_CARDS = 400
N_MERCHANTS = 3000
DAILY_PURCHASES = 2.5
DAYS_BETWEEN_BURSTS = 25.0
#: the rules engine refers a transaction for review (where the model decides) when it is at a
#: merchant new to the card or of at least this amount
REFER_AMOUNT = 40.0
P_BURST_BEFORE, P_BURST_AFTER = 0.8, 0.05
P_TAKEOVER_AFTER, P_OTHER = 0.33, 0.01


def _card(rng: np.random.Generator, card: int, days: float) -> dict[str, list[Any]]:
    usual = rng.choice(N_MERCHANTS, size=8, replace=False)
    n = rng.poisson(DAILY_PURCHASES * days)
    times = list(rng.uniform(0, days * 86_400, size=n))
    merchants = [
        int(rng.choice(usual)) if rng.random() < 0.9 else int(rng.integers(N_MERCHANTS))
        for _ in range(n)
    ]
    amounts = list(rng.lognormal(3.3, 0.8, size=n))
    burst = [False] * n
    for _ in range(rng.poisson(days / DAYS_BETWEEN_BURSTS)):
        at, size = rng.uniform(0, days * 86_400), int(rng.integers(6, 11))
        times += list(at + np.sort(rng.uniform(0, 1800, size=size)))
        merchants += [int(m) for m in rng.integers(N_MERCHANTS, size=size)]
        amounts += list(rng.lognormal(4.0, 0.6, size=size))
        burst += [True] * size
    order = np.argsort(times)
    seen = set(usual.tolist())  # the card's history before the data starts
    new = []
    for i in order:
        new.append(merchants[i] not in seen)
        seen.add(merchants[i])
    return {
        "card_id": [card] * len(order),
        "merchant_id": [merchants[i] for i in order],
        "amount": [round(float(amounts[i]), 2) for i in order],
        "new_merchant": new,
        "seconds": [float(times[i]) for i in order],
        "burst": [burst[i] for i in order],
    }


def transactions(seed: int = 17) -> pl.DataFrame:
    """Every transaction, with ``is_fraud`` (the label that comes back weeks later), sorted by time."""
    rng = np.random.default_rng(seed)
    days = (END - START) / dt.timedelta(days=1)
    parts = [pl.DataFrame(_card(rng, card, days)) for card in range(N_CARDS)]
    frame = pl.concat(parts).with_columns(
        (pl.lit(START) + pl.duration(microseconds=(pl.col("seconds") * 1e6).cast(pl.Int64)))
        .dt.cast_time_unit("us")
        .alias("event_ts")
    )
    after = frame.get_column("event_ts") >= CHANGE
    burst = frame.get_column("burst").to_numpy()
    takeover = ~frame.get_column("new_merchant").to_numpy() & (
        frame.get_column("amount").to_numpy() >= REFER_AMOUNT
    )
    p_fraud = np.where(
        after.to_numpy(),
        np.where(burst, P_BURST_AFTER, np.where(takeover, P_TAKEOVER_AFTER, P_OTHER)),
        np.where(burst, P_BURST_BEFORE, P_OTHER),
    )
    is_fraud = rng.random(frame.height) < p_fraud
    referred = pl.col("new_merchant") | (pl.col("amount") >= REFER_AMOUNT)
    return (
        frame.with_columns(
            pl.Series("is_fraud", is_fraud.astype(np.int64)), referred.alias("referred")
        )
        .drop("seconds")
        .sort("event_ts")
    )
