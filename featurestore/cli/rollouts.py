"""``featurestore rollout start|promote|abort|report|list``: a new view version, shadow ->
canary -> full."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from featurestore.cli.common import JsonOption, app, command, open_store, out, print_json
from featurestore.cli.parity import _show

__all__: list[str] = []

rollout_app = typer.Typer(
    help="Roll out a new version of a view: shadow, then canary, then promote (or abort).\n\n"
    "Example: featurestore rollout start driver_trips --version 3 --stage shadow",
    no_args_is_help=True,
)
app.add_typer(rollout_app, name="rollout")

View = Annotated[str, typer.Argument(help="The feature view.")]


def _record(record: Any, as_json: bool) -> None:
    if as_json:
        print_json(record.to_dict())
        return
    share = (
        f"{record.fraction:.0%} of entities"
        if record.stage == "canary"
        else f"sample {record.sample:.0%}"
    )
    out.print(
        f"rollout {record.id} of {record.view}: version {record.baseline_version} -> "
        f"{record.candidate_version}, {record.stage} ({share}), {record.status}",
        markup=False,
    )


@rollout_app.command("start")
@command
def rollout_start(
    view: View,
    version: Annotated[int, typer.Option(help="The registered version to roll out.")],
    stage: Annotated[str, typer.Option(help="shadow or canary.")] = "shadow",
    fraction: Annotated[float, typer.Option(help="The canary's share of entities.")] = 0.1,
    sample: Annotated[float, typer.Option(help="The shadow's share of requests.")] = 0.01,
    as_json: JsonOption = False,
) -> None:
    """Start rolling out a version of a view, or move its rollout to another stage: in shadow,
    serving also computes the candidate for a sample of requests and logs it; in canary, a
    fraction of entities (by key hash, always the same) is served the candidate.

    Example: featurestore rollout start driver_trips --version 3 --stage canary --fraction 0.1
    """
    with open_store() as store, out.status(f"starting the rollout of {view}"):
        record = store.start_rollout(
            view,
            version=version,
            stage=stage,  # type: ignore[arg-type]
            fraction=fraction,
            sample=sample,
        )
    _record(record, as_json)


@rollout_app.command("promote")
@command
def rollout_promote(view: View, as_json: JsonOption = False) -> None:
    """Make the rolled-out version the version in force and its values the served ones.

    Example: featurestore rollout promote driver_trips
    """
    with open_store() as store, out.status(f"promoting the rollout of {view}"):
        record = store.promote_rollout(view)
    _record(record, as_json)


@rollout_app.command("abort")
@command
def rollout_abort(view: View, as_json: JsonOption = False) -> None:
    """Stop the rollout: the baseline stays in force, the candidate's online values go.

    Example: featurestore rollout abort driver_trips
    """
    with open_store() as store, out.status(f"aborting the rollout of {view}"):
        record = store.abort_rollout(view)
    _record(record, as_json)


@rollout_app.command("report")
@command
def rollout_report(view: View, as_json: JsonOption = False) -> None:
    """Compare the arms: value differences (shadow), drift between the arms, performance and
    prediction diversity per arm from feedback.

    Example: featurestore rollout report driver_trips --json
    """
    with open_store() as store, out.status(f"comparing the arms of {view}"):
        report = store.rollout_report(view)
    _show(report, as_json)


@rollout_app.command("list")
@command
def rollout_list(
    view: Annotated[str | None, typer.Argument(help="Only this view's rollouts.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Every rollout, newest first.

    Example: featurestore rollout list driver_trips
    """
    with open_store() as store:
        found = store.rollouts(view)
    if as_json:
        print_json([r.to_dict() for r in found])
    elif not found:
        out.print("no rollout yet; start one with `featurestore rollout start VIEW --version N`")
    for record in [] if as_json else found:
        _record(record, False)
