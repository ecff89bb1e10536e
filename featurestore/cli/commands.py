"""The core commands: init, apply, ingest, materialize, training-frame, serve, quickstart."""

from __future__ import annotations

import enum
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from featurestore.cli.common import (
    JsonOption,
    app,
    check_failed,
    command,
    err,
    open_store,
    out,
    parse_when,
    print_json,
    reports_app,
    state,
)
from featurestore.errors import FeatureStoreError

__all__: list[str] = []


class LogLevel(enum.StrEnum):
    """``serve --log-level``."""

    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


class LogFormat(enum.StrEnum):
    """``serve --log-format``."""

    text = "text"
    json = "json"


@app.callback()
def _main(
    repo: Annotated[
        Path,
        typer.Option("--repo", "-r", help="The feature repo folder.", envvar="FEATURESTORE_REPO"),
    ] = Path("."),
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
) -> None:
    state["repo"] = repo
    state["debug"] = debug


@app.command()
@command
def version() -> None:
    """Print the featurestore version.

    Example: featurestore version
    """
    from featurestore import __version__

    out.print(f"featurestore {__version__}")


@app.command()
@command
def init(
    directory: Annotated[Path, typer.Argument(help="Folder to create the repo in.")],
    project: Annotated[str, typer.Option(help="Project name.")] = "rides",
) -> None:
    """Create a working sample feature repo: featurestore.toml, features.py, data/trips.parquet
    and spine.parquet (label events for a training frame), so the README tour runs as written.

    Example: featurestore init my_repo && cd my_repo && featurestore apply
    """
    from featurestore.quickstart import write_sample_repo

    if directory.exists() and any(directory.iterdir()):
        raise FeatureStoreError(f"{directory} exists and is not empty; choose a new folder")
    write_sample_repo(directory, project=project)
    out.print(f"created a sample repo in {directory}; next: cd {directory} && featurestore apply")


@app.command()
@command
def apply(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only print the plan.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Register the repo's definitions: prints the plan (added/changed/unchanged/removed) and applies it.

    Example: featurestore apply --dry-run
    """
    from featurestore.cli.render import plan_table

    with open_store() as store:
        plan = store.apply(dry_run=dry_run)
    print_json(plan.to_dict()) if as_json else out.print(plan_table(plan, dry_run))


@app.command()
@command
def ingest(
    view: Annotated[str, typer.Argument(help="The feature view to ingest into.")],
    path: Annotated[
        Path | None, typer.Argument(help="A Parquet or CSV file (default: the view's source).")
    ] = None,
    query: Annotated[
        str | None, typer.Option(help="A SQL query to read instead of a file.")
    ] = None,
    url: Annotated[
        str | None, typer.Option(help="Database URL for --query (postgresql+psycopg://...).")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Ingest even if the same rows were committed before.")
    ] = False,
    as_json: JsonOption = False,
    fail_on_quarantine: Annotated[
        bool,
        typer.Option("--fail-on-quarantine", help="Exit 3 when the contract quarantined any row."),
    ] = False,
) -> None:
    """Validate a batch against the view's contract and commit it to the offline store.

    The batch becomes visible all at once when it commits; a batch equal to one committed
    before is skipped as a duplicate unless --force. Exit codes: 0 ok, 1 rejected batch or
    error, 3 rows quarantined (with --fail-on-quarantine).

    Example: featurestore ingest driver_trips data/trips.parquet --fail-on-quarantine
    """
    with open_store() as store, out.status(f"ingesting into {view}"):
        report = store.ingest(
            view,
            None if path is None else Path(os.path.abspath(path)),
            query=query,
            url=url,
            force=force,
        )
    print_json(report.to_dict()) if as_json else out.print(str(report), markup=False)
    if fail_on_quarantine and report.rows_quarantined:
        raise check_failed(
            f"{report.rows_quarantined} of {report.rows_in} rows quarantined in {view} "
            f"(run {report.run_id}; see `featurestore quarantine {view} --run {report.run_id}`)"
        )


@app.command()
@command
def materialize(
    start: Annotated[
        str | None, typer.Option(help="Start (ISO 8601); default: each view's watermark.")
    ] = None,
    end: Annotated[str | None, typer.Option(help="End (ISO 8601); default: now.")] = None,
    views: Annotated[
        list[str] | None, typer.Option("--view", help="Only this view (repeatable).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Load the latest feature values into the online store (incremental, idempotent).

    Example: featurestore materialize --end 2026-11-01T00:00:00Z
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    with (
        open_store() as store,
        Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("buckets, {task.fields[rows]} rows", markup=False),
            TimeRemainingColumn(),
            console=err,
        ) as bar,
    ):
        tasks: dict[str, Any] = {}
        rows: dict[str, int] = {}

        def tick(view: str, n: int, done: int, total: int) -> None:
            # the bar counts bucket jobs (known up front, so it has a total and an ETA); the
            # rows are what the store took, so the last figure is the summary's
            rows[view] = rows.get(view, 0) + n
            if view not in tasks:
                tasks[view] = bar.add_task(view, total=total, rows=0)
            bar.update(tasks[view], completed=done, total=total, rows=rows[view])

        report = store.materialize(
            views or None,
            start=parse_when(start, "start"),
            end=parse_when(end, "end"),
            progress=tick,
        )
    print_json(report.to_dict()) if as_json else out.print(str(report), markup=False)


@app.command("training-frame")
@command
def training_frame(
    spine: Annotated[Path, typer.Option(help="Parquet/CSV with entity keys and event_timestamp.")],
    out_path: Annotated[
        Path, typer.Option("--out", help="Where to write the frame (.parquet or .csv).")
    ],
    features: Annotated[
        list[str] | None, typer.Option("--features", help="view:feature (repeatable).")
    ] = None,
    service: Annotated[str | None, typer.Option(help="A feature service name.")] = None,
    save_as: Annotated[
        str | None, typer.Option(help="Save the frame and its lineage under this name.")
    ] = None,
    full_feature_names: Annotated[bool, typer.Option(help="Name columns view__feature.")] = False,
    point_in_time: Annotated[
        str, typer.Option(help="'known' (created <= t) or 'event'.")
    ] = "known",
    as_json: JsonOption = False,
) -> None:
    """Build a point-in-time-correct training frame.

    Example: featurestore training-frame --spine spine.parquet --service ranking_v1 --out train.parquet
    """
    with open_store() as store, out.status("building the training frame"):
        frame = store.get_training_frame(
            Path(os.path.abspath(spine)),
            features=features or None,
            service=service,
            full_feature_names=full_feature_names,
            point_in_time=point_in_time,
            save_as=save_as,
        )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    if out_path.suffix.lower() == ".csv":
        frame.write_csv(out_path)
    else:
        frame.write_parquet(out_path)
    if as_json:
        print_json(
            {
                "path": str(out_path),
                "rows": frame.height,
                "columns": frame.columns,
                "saved_as": save_as,
            }
        )
    else:
        out.print(f"wrote {frame.height} rows x {frame.width} columns to {out_path}")


@app.command()
@command
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 6566,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes.")] = 1,
    log_level: Annotated[
        LogLevel, typer.Option("--log-level", help="Log this level and above.")
    ] = LogLevel.info,
    log_format: Annotated[
        LogFormat, typer.Option("--log-format", help="text, or one JSON object per line.")
    ] = LogFormat.text,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="Log one line per request.")
    ] = False,
) -> None:
    """Start the feature server (Feast-compatible HTTP API). Logs go to stderr: a startup line,
    one line per error answered (a traceback for a 500), the access log with --access-log.

    Example: featurestore serve --port 6566 --log-format json --access-log
    """
    import logging
    import logging.config

    import uvicorn

    from featurestore.logs import log_config, startup_line

    config = log_config(level=log_level.value, fmt=log_format.value)
    logging.config.dictConfig(config)
    store = open_store()  # fail fast, with one clear line, on a bad repo or config
    store.close()
    line = startup_line(
        address=f"http://{host}:{port}",
        project=store.project,
        workers=workers,
        registry=store.config.registry,
        online=store.config.online_store,
        offline=store.config.offline_store,
    )
    logging.getLogger("featurestore.server").info(line)
    os.environ["FEATURESTORE_REPO"] = str(Path(state["repo"]).resolve())
    uvicorn.run(
        "featurestore.server.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=config,
        log_level=log_level.value,
        access_log=access_log,
    )


@reports_app.command("contracts")
@command
def reports_contracts(
    view: Annotated[str | None, typer.Option(help="Only this view.")] = None,
    limit: Annotated[int, typer.Option(help="How many runs.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Show ingestion runs: counts, per-check failures, examples, data health.

    Example: featurestore reports contracts --view driver_trips
    """
    from featurestore.cli.render import contract_table

    with open_store() as store:
        reports = store.contract_reports(view=view, limit=limit)
    if as_json:
        print_json([r.to_dict() for r in reports])
    else:
        out.print(contract_table(reports))


@app.command()
@command
def quickstart(
    directory: Annotated[Path, typer.Option("--dir", help="Where to build the demo repo.")] = Path(
        "quickstart"
    ),
) -> None:
    """Run the whole demo: sample repo, apply, ingest (with violations), reports, training frame,
    materialize, serve over HTTP, skew and drift.

    Example: featurestore quickstart --dir /tmp/demo
    """
    from featurestore.quickstart.demo import run_demo

    run_demo(directory, out)
