"""Fraud: fraudsters change tactics midway; performance falls and ADWIN/DDM fire after the change.

Run it with ``python examples/fraud/run.py`` (or ``make example NAME=fraud``). Safe to import:
``featurestore apply`` imports every top-level ``*.py`` of a repo, this file included.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE.parents[1]) not in sys.path:  # run as a script: make `examples` importable
    sys.path.insert(0, str(HERE.parents[1]))

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from examples._model import LogisticModel  # noqa: E402
from examples._shared import main, open_store, prepare_workdir, say_to  # noqa: E402
from examples.fraud import _generate as gen  # noqa: E402
from featurestore import FeatureStore  # noqa: E402
from featurestore.parity.performance import PerformanceReport  # noqa: E402

SERVICE = "fraud_v1"
INPUTS = ["txn_count_1h", "amount_sum_24h", "new_merchants_7d", "amount_share_24h"]
#: the decision is taken just before the transaction is booked: it must not see itself
DECISION_LEAD = dt.timedelta(milliseconds=1)
SCORED = 1500  # transactions of the live period scored through the store (a seeded sample)
#: one of the samples where DDM stays quiet before the change; see README.md and _odds.py for
#: how often it does not
SAMPLE_SEED = 1


def _spine(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(
        "card_id",
        (pl.col("event_ts") - DECISION_LEAD).alias("event_timestamp"),
        "amount",
        "is_fraud",
        pl.col("event_ts").alias("booked_at"),
    )


def replay(store: FeatureStore, model: LogisticModel, live: pl.DataFrame) -> int:
    """Score the live period's transactions and send the predictions and labels back.

    Serving cannot run in the past, so this replays it: each transaction is scored on the feature
    values the point-in-time rule gives at its decision time (what the online store held then: the
    parity the store guarantees), and a served request supplies the ``request_id`` its feedback
    quotes. Feedback carries the transaction's time, so performance is reported over the history.
    """
    features = store.get_training_frame(_spine(live), service=SERVICE)
    scores = model.predict(features)
    rows = zip(
        features.get_column("card_id"),
        features.get_column("amount"),
        features.get_column("booked_at"),
        features.get_column("is_fraud"),
        scores,
        strict=True,
    )
    for card, amount, booked_at, is_fraud, score in rows:
        served = store.get_online_features(
            service=SERVICE, entities={"card_id": [card]}, request_data={"amount": [amount]}
        )
        store.log_feedback(
            served.request_id,
            prediction=round(float(score), 6),
            label=int(is_fraud),
            timestamp=booked_at,
        )
    return features.height


def _windows(report: PerformanceReport) -> list[dict[str, Any]]:
    return [
        {
            "start": w.start,
            "n": w.n,
            "precision": w.metrics.get("precision"),
            "recall": w.metrics.get("recall"),
            "roc_auc": w.metrics.get("roc_auc"),
            "positives": (w.label_distribution or {}).get("1"),
        }
        for w in report.windows
    ]


def setup(store: FeatureStore, repo: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Write the history into the repo, register the definitions and ingest it.

    Returns:
        Every transaction (with its label) and the live period's referred transactions.
    """
    history = gen.transactions()
    history.drop("is_fraud", "burst", "referred").write_parquet(
        repo / "data" / "transactions.parquet"
    )
    store.apply()
    store.ingest("card_activity")
    live = history.filter(pl.col("referred") & (pl.col("event_ts") >= gen.SCORE_FROM))
    return history, live


def fit(store: FeatureStore, history: pl.DataFrame) -> tuple[LogisticModel, int]:
    """Fit the model on week 2's referred transactions; returns it and the rows it saw."""
    ts = pl.col("event_ts")
    week = history.filter(pl.col("referred") & (ts >= gen.TRAIN_FROM) & (ts < gen.SCORE_FROM))
    train = store.get_training_frame(_spine(week), service=SERVICE, save_as="fraud_train")
    return LogisticModel.fit(train, INPUTS, "is_fraud"), train.height


def sample(live: pl.DataFrame, seed: int = SAMPLE_SEED) -> pl.DataFrame:
    """The live transactions that get scored: a seeded sample of ``SCORED``, in time order."""
    picked = np.random.default_rng(seed).choice(live.height, SCORED, replace=False)
    return live[np.sort(picked)]


def run(workdir: Path, quiet: bool = False) -> dict[str, Any]:
    """Concept drift in card fraud: the model degrades after the change and the detectors fire.

    Args:
        workdir: where the repo copy, its generated data and all state go (emptied first).
        quiet: print nothing.

    Returns:
        What the store found: per-window precision and recall, the alarms (detector, time,
        position) and the known change time.
    """
    say = say_to(quiet)
    repo = prepare_workdir(HERE, workdir)
    with open_store(repo) as store:
        say(f"== fraud: project {store.project!r} in {repo}")
        history, live = setup(store, repo)
        say(str(store.contract_reports(view="card_activity")[0]))
        store.materialize(end=gen.END)
        model, seen = fit(store, history)
        weights = ", ".join(f"{c} {w:+.2f}" for c, w in zip(INPUTS, model.weights[1:], strict=True))
        say(f"model fitted on {seen} referred transactions of week 2 (weights: {weights})")

        scored = replay(store, model, sample(live))
        say(f"scored {scored} live transactions; predictions and labels sent back as feedback")

        report = store.performance("7d")
        say(str(report))
        alarms = [
            {"detector": a.detector, "at": a.timestamp, "index": a.index} for a in report.alarms
        ]
        first = {
            d: min(
                (a.timestamp for a in report.alarms if a.detector == d and a.timestamp),
                default=None,
            )
            for d in ("ADWIN", "DDM")
        }
        say(
            f"tactics changed at {gen.CHANGE:%Y-%m-%d %H:%M}Z; first alarms: "
            + ", ".join(f"{d} {t:%Y-%m-%d %H:%M}Z" if t else f"{d} none" for d, t in first.items())
        )
        return {
            "project": store.project,
            "change": gen.CHANGE,
            "scored": scored,
            "windows": _windows(report),
            "alarms": alarms,
            "first_alarm": first,
            "weights": dict(zip(INPUTS, np.round(model.weights[1:], 3).tolist(), strict=True)),
        }


if __name__ == "__main__":
    main(HERE, run)
