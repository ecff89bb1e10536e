"""``featurestore quickstart``: the whole product on a sample repo, end to end, on the embedded default.

Each step prints what it found. Later steps (serving, parity) are added as the product grows.
"""

from __future__ import annotations

import datetime as dt
import math
import shutil
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table
from rich.text import Text

from featurestore.cli.render import contract_table, plan_table
from featurestore.errors import ContractError, FeatureStoreError
from featurestore.quickstart.sample import sample_spine, write_sample_repo
from featurestore.quickstart.traffic import (
    late_batch,
    send_traffic,
    start_server,
    stop_server,
    surge_batch,
)
from featurestore.store import FeatureStore

__all__ = ["run_demo", "sample_spine"]

MARKER = ".featurestore-quickstart"


def _answer_table(answer: dict[str, Any]) -> Table:
    table = Table(title=f"request_id {answer['metadata']['request_id']}", title_justify="left")
    names = answer["metadata"]["feature_names"]
    for name in names:
        table.add_column(name)
    rows = len(answer["results"][0]["values"])
    for i in range(rows):
        cells = []
        for result in answer["results"]:
            value, status = result["values"][i], result["statuses"][i]
            text = (
                "-"
                if value is None
                else (f"{value:.4g}" if isinstance(value, float) else str(value))
            )
            cells.append(text if status == "PRESENT" else f"{text} ({status})")
        table.add_row(*cells)
    return table


def _feedback(store: Any, answers: list[dict[str, Any]]) -> None:
    """A toy model scores each served row; the outcome follows the score, less so after the surge."""
    rng = np.random.default_rng(13)
    for answer in answers:
        names = answer["metadata"]["feature_names"]
        per_km = answer["results"][names.index("fare_per_km_est")]["values"]
        for value in per_km[:1]:  # one prediction per request
            score = 1.0 / (1.0 + math.exp(-(value or 0.0) + 1.0))
            label = int(rng.random() < score)
            store.log_feedback(
                answer["metadata"]["request_id"], prediction=round(score, 4), label=label
            )


def _fresh(directory: Path) -> Path:
    if directory.exists():
        if not (directory / MARKER).exists():
            raise FeatureStoreError(
                f"{directory} exists and was not made by quickstart; choose another --dir"
            )
        shutil.rmtree(directory)
    write_sample_repo(directory)
    (directory / MARKER).touch()
    return directory


def run_demo(directory: Path, console: Console) -> None:
    def step(title: str) -> None:
        console.rule(Text(title, style="bold"))

    repo = _fresh(directory.resolve())
    step(f"1. a sample feature repo in {repo}")
    console.print("features.py defines an entity, a contract, a view with windowed aggregates,")
    console.print("an on-demand feature computed from request data, and a feature service.")

    with FeatureStore(repo) as store:
        step("2. featurestore apply")
        console.print(plan_table(store.apply(), dry_run=False))

        step("3. ingest trips under the data contract")
        try:
            report = store.ingest("driver_trips")
        except ContractError as exc:  # pragma: no cover - the sample batch is not rejected
            report = exc.report
        console.print(str(report), markup=False)

        step("4. the contract report: what was quarantined, and why")
        console.print(contract_table(store.contract_reports(view="driver_trips")))

        step("5. a point-in-time-correct training frame")
        spine = sample_spine()
        frame = store.get_training_frame(spine, service="ranking_v1", save_as="ranking_train")
        console.print(frame.head(5))
        filled = frame.get_column("fare_log").is_not_null().sum()
        console.print(
            f"{frame.height} spine rows in, {frame.height} out, in order; {filled} found a "
            "fare known at their time (the rest: no trips yet within the 7-day ttl)"
        )

        step("6. materialize the latest values into the online store")
        console.print(str(store.materialize()), markup=False)

        step("7. the feature server: online features over HTTP, as a model asks for them")
        proc, url = start_server(repo)
        try:
            answer = httpx.post(
                f"{url}/get-online-features",
                json={
                    "feature_service": "ranking_v1",
                    "entities": {"driver_id": [1, 2, 999]},
                    "request_data": {"distance_km": [3.2, 9.0, 1.0]},
                },
                timeout=10.0,
            ).json()
            console.print(_answer_table(answer))

            step("8. production, days later: a fare surge, a lagging pipeline, longer rides")
            now = dt.datetime.now(dt.UTC)
            console.print(str(store.ingest("driver_trips", surge_batch(now))), markup=False)
            console.print(str(store.materialize()), markup=False)
            late = store.ingest("driver_trips", late_batch(now))
            console.print(f"{late.rows_written} newer trips ingested but not materialized yet")
            answers = send_traffic(url)
            console.print(
                f"served {sum(len(a['results'][0]['values']) for a in answers)} entity rows"
            )
        finally:
            stop_server(proc)

        step("9. the skew report: served values recomputed offline")
        skew = store.check_skew()
        console.print(str(skew), markup=False)
        console.print(
            f"stale: {skew.total('stale')} (the lagging pipeline), mismatch: {skew.total('mismatch')}"
        )

        step("10. the drift report: served values against the training frame")
        console.print(str(store.drift(reference="ranking_train")), markup=False)

        step("11. feedback: predictions and labels come back; performance per window")
        _feedback(store, answers)
        console.print(str(store.performance("1h")), markup=False)
    console.print("\nNext: the realistic scenarios in examples/ (see the README).")
