"""Loans: a recession shifts incomes and defaults; the store sees both, predictions first.

Run it with ``python examples/loans/run.py`` (or ``make example NAME=loans``). Safe to import:
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

import polars as pl  # noqa: E402

from examples._model import LogisticModel  # noqa: E402
from examples._shared import main, open_store, prepare_workdir, say_to  # noqa: E402
from examples.loans import _generate as gen  # noqa: E402
from featurestore import FeatureStore  # noqa: E402
from featurestore.parity import DriftReport, PerformanceReport  # noqa: E402

SERVICE = "credit_v1"
INPUTS = ["income", "debt_ratio", "credit_history_years", "open_accounts"]
#: applications with a predicted default probability at or above this go to manual review
REVIEW_AT = 0.04


def score_live(
    store: FeatureStore, model: LogisticModel, applications: pl.DataFrame
) -> dict[int, str]:
    """Serve each application's features, score them, and log the prediction at once.

    Returns:
        The request_id of each applicant, for the labels that come back later.
    """
    request_ids = {}
    for applicant, applied_at in applications.select("applicant_id", "applied_at").iter_rows():
        served = store.get_online_features(service=SERVICE, entities={"applicant_id": [applicant]})
        score = float(model.predict(served.to_polars())[0])
        store.log_feedback(served.request_id, prediction=round(score, 6), timestamp=applied_at)
        request_ids[applicant] = served.request_id
    return request_ids


def _drift(report: DriftReport) -> dict[str, Any]:
    return {
        f.feature: {"psi": f.psi, "chi2_pvalue": f.chi2_pvalue, "flags": list(f.flags)}
        for f in report.features
    }


def _weeks(report: PerformanceReport) -> list[dict[str, Any]]:
    return [
        {
            "start": w.start,
            "n_labelled": w.n,
            "labels": w.label_distribution,
            "predictions": w.prediction_distribution,
            "label_drift": w.label_drift,
            "prediction_drift": w.prediction_drift,
        }
        for w in report.windows
    ]


def run(workdir: Path, quiet: bool = False) -> dict[str, Any]:
    """A recession: income drift and label drift found, the predictions moving before the labels.

    Args:
        workdir: where the repo copy, its generated data and all state go (emptied first).
        quiet: print nothing.

    Returns:
        What the store found: feature drift of the served values before and during the
        recession, drift of the labels that came back, and the weekly performance report.
    """
    say = say_to(quiet)
    repo = prepare_workdir(HERE, workdir)
    history = gen.applications()
    history.drop("defaulted").write_parquet(repo / "data" / "applications.parquet")
    applied = pl.col("applied_at")
    with open_store(repo) as store:
        say(f"== loans: project {store.project!r} in {repo}")
        store.apply()
        say(str(store.ingest("applicant_profile")))
        spine = history.filter(applied < gen.LIVE_FROM).select(
            "applicant_id", applied.alias("event_timestamp"), "defaulted"
        )
        train = store.get_training_frame(spine, service=SERVICE, save_as="loans_train")
        model = LogisticModel.fit(train, INPUTS, "defaulted")
        share = train.get_column("defaulted").sum() / train.height
        say(f"model trained on {train.height} loans of the calm quarter ({share:.1%} defaulted)")
        store.materialize()

        live = history.filter(applied >= gen.LIVE_FROM)
        request_ids = score_live(store, model, live.filter(applied < gen.RECESSION))
        recession_served_from = dt.datetime.now(dt.UTC)
        request_ids |= score_live(store, model, live.filter(applied >= gen.RECESSION))
        say(f"served and scored {len(request_ids)} live applications; predictions logged")
        reference = train.select(
            pl.col("event_timestamp").alias("timestamp"),
            pl.col("defaulted").alias("label"),
            pl.Series("prediction", model.predict(train)),
        )
        early = store.performance("7d", reference=reference, threshold=REVIEW_AT)
        say(f"before any outcome is known, the predictions per week:\n{early}")

        labelled = live.filter(applied < gen.LABELS_UNTIL)
        for applicant, defaulted in labelled.select("applicant_id", "defaulted").iter_rows():
            store.log_feedback(request_ids[applicant], label=bool(defaulted))
        say(
            f"weeks later: outcomes of the {labelled.height} loans applied for before "
            f"{gen.LABELS_UNTIL:%Y-%m-%d} come back (the later ones are still running)"
        )

        calm = store.drift(reference="loans_train", until=recession_served_from)
        recession = store.drift(reference="loans_train", since=recession_served_from)
        say(f"served features before the recession vs training:\n{calm}")
        say(f"served features during the recession vs training:\n{recession}")

        labels = store.feedback_frame().filter(pl.col("label").is_not_null())
        label_drift = {
            period: store.drift(
                reference="loans_train",
                current=labels.filter(rows).select(pl.col("label").alias("defaulted")),
                features=["defaulted"],
            )
            for period, rows in (
                ("calm", pl.col("timestamp") < gen.RECESSION),
                ("recession", pl.col("timestamp") >= gen.RECESSION),
            )
        }
        say(
            f"defaults that came back during the recession vs training:\n{label_drift['recession']}"
        )

        weekly = store.performance("7d", reference=reference, threshold=REVIEW_AT)
        say(str(weekly))
        return {
            "project": store.project,
            "recession": gen.RECESSION,
            "labels_until": gen.LABELS_UNTIL,
            "feature_drift": {"calm": _drift(calm), "recession": _drift(recession)},
            "label_drift": {period: _drift(r)["defaulted"] for period, r in label_drift.items()},
            "weeks_before_labels": _weeks(early),
            "weeks": _weeks(weekly),
        }


if __name__ == "__main__":
    main(HERE, run)
