"""Parity commands: ``parity skew``, ``parity drift`` and ``reports skew|drift|performance``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from featurestore.cli.common import (
    JsonOption,
    check_failed,
    command,
    open_store,
    out,
    parity_app,
    parse_when,
    print_json,
    reports_app,
)
from featurestore.errors import NotFoundError

__all__: list[str] = []

Since = Annotated[str | None, typer.Option(help="Only requests at or after (ISO 8601).")]
Until = Annotated[str | None, typer.Option(help="Only requests before (ISO 8601).")]


def _show(report: Any, as_json: bool) -> None:
    if as_json:
        print_json(report.to_dict())
    else:
        out.print(str(report), markup=False)


def _skew_classes(values: list[str] | None) -> list[str]:
    from featurestore.parity.skew import CLASSES

    wanted = [c.strip() for v in values or [] for c in v.split(",") if c.strip()]
    unknown = [c for c in wanted if c not in CLASSES or c == "match"]
    if unknown:
        raise typer.BadParameter(
            f"{unknown[0]!r} is not a skew class; choose from "
            + ", ".join(c for c in CLASSES if c != "match"),
            param_hint="--fail-on",
        )
    return wanted


@parity_app.command("skew")
@command
def parity_skew(
    as_json: JsonOption = False,
    since: Since = None,
    until: Until = None,
    fail_on: Annotated[
        list[str] | None,
        typer.Option(
            "--fail-on",
            help="Exit 3 when any served value falls in these classes (comma-separated or "
            "repeated): stale, missing_online, missing_offline, mismatch.",
        ),
    ] = None,
) -> None:
    """Recompute sampled served values offline and classify every difference
    (match, stale, missing_online, missing_offline, mismatch). Exit 3 with --fail-on when a
    listed class is found.

    Example: featurestore parity skew --fail-on mismatch,stale
    """
    from featurestore.cli.render import skew_table

    classes = _skew_classes(fail_on)
    with open_store() as store, out.status("checking train-serve skew"):
        report = store.check_skew(
            since=parse_when(since, "since"), until=parse_when(until, "until")
        )
    print_json(report.to_dict()) if as_json else out.print(skew_table(report.to_dict()))
    found = {c: report.total(c) for c in classes if report.total(c)}
    if found:
        counts = ", ".join(f"{n} {c}" for c, n in found.items())
        raise check_failed(f"skew: {counts} (--fail-on {','.join(classes)})")


@parity_app.command("drift")
@command
def parity_drift(
    reference: Annotated[str, typer.Option(help="A saved training frame (--save-as NAME).")],
    current: Annotated[
        str | None, typer.Option(help="Another saved frame; default: the served values.")
    ] = None,
    features: Annotated[
        list[str] | None, typer.Option("--feature", help="Only this feature (repeatable).")
    ] = None,
    as_json: JsonOption = False,
    since: Since = None,
    until: Until = None,
    min_samples: Annotated[
        int,
        typer.Option(help="Fewer values than this on a side: insufficient_data, never flagged."),
    ] = 100,
    fail_on_drift: Annotated[
        bool, typer.Option("--fail-on-drift", help="Exit 3 when any feature is flagged.")
    ] = False,
) -> None:
    """Compare feature distributions with a training frame: PSI, KS, Jensen-Shannon,
    Wasserstein, chi-square and null rates, each flagged against its threshold. Exit 3 with
    --fail-on-drift when a feature drifted.

    Example: featurestore parity drift --reference ranking_train --fail-on-drift
    """
    from featurestore.cli.render import drift_table
    from featurestore.parity import DriftThresholds

    thresholds = DriftThresholds(min_samples=min_samples)
    with open_store() as store, out.status("computing drift"):
        report = store.drift(
            reference=reference,
            current=current,
            features=features or None,
            since=parse_when(since, "since"),
            until=parse_when(until, "until"),
            thresholds=thresholds,
        )
    print_json(report.to_dict()) if as_json else out.print(drift_table(report.to_dict()))
    if fail_on_drift and report.drifted:
        raise check_failed(
            f"drift: {len(report.drifted)} of {len(report.features)} features drifted "
            f"({', '.join(report.drifted)})"
        )


def _latest(kind: str, as_json: bool, hint: str) -> None:
    from featurestore.cli.render import drift_table, skew_table

    with open_store() as store:
        reports = store.registry.reports(kind, limit=1)
    if not reports:
        raise NotFoundError(f"no {kind} report recorded yet; run `{hint}` first")
    if as_json:
        print_json(reports[0])
    else:
        out.print((skew_table if kind == "skew" else drift_table)(reports[0]))


@reports_app.command("skew")
@command
def reports_skew(as_json: JsonOption = False) -> None:
    """Show the latest recorded skew report.

    Example: featurestore reports skew --json
    """
    _latest("skew", as_json, "featurestore parity skew")


@reports_app.command("drift")
@command
def reports_drift(as_json: JsonOption = False) -> None:
    """Show the latest recorded drift report.

    Example: featurestore reports drift
    """
    _latest("drift", as_json, "featurestore parity drift --reference NAME")


@reports_app.command("performance")
@command
def reports_performance(
    window: Annotated[str, typer.Option(help="Window width: 30m, 6h, 1d, 2w.")] = "1d",
    as_json: JsonOption = False,
    since: Since = None,
    until: Until = None,
) -> None:
    """Model performance per window from feedback (accuracy, precision, recall, F1, ROC AUC,
    log-loss or MAE/RMSE), label and prediction drift, and when ADWIN and DDM fired.

    Example: featurestore reports performance --window 6h
    """
    with open_store() as store:
        report = store.performance(
            window, since=parse_when(since, "since"), until=parse_when(until, "until")
        )
    _show(report, as_json)
