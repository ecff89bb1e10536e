"""Acting on parity: ``policy evaluate``, ``policy decisions`` and ``reports feedback-loop``."""

from __future__ import annotations

from typing import Annotated

import typer

from featurestore.cli.common import (
    JsonOption,
    app,
    check_failed,
    command,
    open_store,
    out,
    parse_when,
    print_json,
    reports_app,
)
from featurestore.cli.parity import Since, Until, _show
from featurestore.parity.decisions import PolicyDecision

__all__: list[str] = []

policy_app = typer.Typer(
    help="Retraining policies: evaluate them, read their decisions.\n\n"
    "Example: featurestore policy evaluate --fail-on-retrain",
    no_args_is_help=True,
)
app.add_typer(policy_app, name="policy")


@policy_app.command("evaluate")
@command
def policy_evaluate(
    fail_on_retrain: Annotated[
        bool,
        typer.Option(
            "--fail-on-retrain", help="Exit with code 3 when a policy decides to retrain."
        ),
    ] = False,
    at: Annotated[
        str | None, typer.Option(help="Evaluate as of this time (ISO 8601); default: now.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Evaluate every retraining policy (age, performance, drift, prediction drift, cooldown),
    record each decision in the decision log and print it.

    Example: featurestore policy evaluate --fail-on-retrain --json
    """
    with open_store() as store, out.status("evaluating the retraining policies"):
        decisions = store.evaluate_policies(parse_when(at, "at"))
    _show_decisions(
        decisions, as_json, "no retraining policy is applied; define a RetrainPolicy and run apply"
    )
    due = [d.policy for d in decisions if d.retrain]
    if fail_on_retrain and due:
        raise check_failed(f"a retrain is due ({', '.join(due)})")


@policy_app.command("decisions")
@command
def policy_decisions(
    policy: Annotated[str | None, typer.Option(help="Only this policy's decisions.")] = None,
    retrain: Annotated[
        bool | None,
        typer.Option("--retrain/--no-retrain", help="Only decisions to retrain, or only others."),
    ] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
    as_json: JsonOption = False,
    since: Since = None,
    until: Until = None,
) -> None:
    """Show the decision log: every evaluation, the figures it read, what fired and why.

    Example: featurestore policy decisions --policy ranking_retrain --retrain
    """
    with open_store() as store:
        decisions = store.policy_decisions(
            policy,
            retrain=retrain,
            since=parse_when(since, "since"),
            until=parse_when(until, "until"),
            limit=limit,
        )
    _show_decisions(
        decisions, as_json, "no decision recorded yet; run `featurestore policy evaluate`"
    )


def _show_decisions(decisions: list[PolicyDecision], as_json: bool, none: str) -> None:
    if as_json:
        print_json([d.to_dict() for d in decisions])
    elif not decisions:
        out.print(none)
    else:
        out.print("\n\n".join(str(d) for d in decisions), markup=False, soft_wrap=True)


@reports_app.command("feedback-loop")
@command
def reports_feedback_loop(
    window: Annotated[str, typer.Option(help="Window width: 30m, 6h, 1d, 2w.")] = "1d",
    control: Annotated[
        str, typer.Option(help="The feedback group served without the model.")
    ] = "control",
    as_json: JsonOption = False,
    since: Since = None,
    until: Until = None,
) -> None:
    """Is the model shaping its own data? Per window: entities served, prediction diversity and
    its trend, outcome rate and performance per feedback group, a z-test of the control group
    against the rest; flags narrowing diversity and diverging groups.

    Example: featurestore reports feedback-loop --window 1d --json
    """
    with open_store() as store, out.status("computing the feedback-loop report"):
        report = store.feedback_loop_report(
            window,
            since=parse_when(since, "since"),
            until=parse_when(until, "until"),
            control=control,
        )
    _show(report, as_json)
