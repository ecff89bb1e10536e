"""Parity commands: ``parity skew``, ``parity drift`` and ``reports skew|drift|performance``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from featurestore.cli.common import (
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

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (the to_dict() shape).")]
Since = Annotated[str | None, typer.Option(help="Only requests at or after (ISO 8601).")]
Until = Annotated[str | None, typer.Option(help="Only requests before (ISO 8601).")]


def _show(report: Any, as_json: bool) -> None:
    if as_json:
        print_json(report.to_dict())
    else:
        out.print(str(report), markup=False)


@parity_app.command("skew")
@command
def parity_skew(as_json: JsonOption = False, since: Since = None, until: Until = None) -> None:
    """Recompute sampled served values offline and classify every difference
    (match, stale, missing_online, missing_offline, mismatch).

    Example: featurestore parity skew --json
    """
    with open_store() as store, out.status("checking train-serve skew"):
        report = store.check_skew(
            since=parse_when(since, "since"), until=parse_when(until, "until")
        )
    _show(report, as_json)


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
) -> None:
    """Compare feature distributions with a training frame: PSI, KS, Jensen-Shannon,
    Wasserstein, chi-square and null rates, each flagged against its threshold.

    Example: featurestore parity drift --reference ranking_train
    """
    with open_store() as store, out.status("computing drift"):
        report = store.drift(
            reference=reference,
            current=current,
            features=features or None,
            since=parse_when(since, "since"),
            until=parse_when(until, "until"),
        )
    _show(report, as_json)


def _latest(kind: str, as_json: bool, hint: str) -> None:
    with open_store() as store:
        reports = store.registry.reports(kind, limit=1)
    if not reports:
        raise NotFoundError(f"no {kind} report recorded yet; run `{hint}` first")
    if as_json:
        print_json(reports[0])
    else:
        out.print_json(data=reports[0])


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
