"""Reading the registry, the quarantine and the reports: ``list``, ``describe``, ``quarantine``
and ``report --html``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from featurestore.catalog import LISTS, describe, listing
from featurestore.cli.common import JsonOption, app, command, open_store, out, print_json

__all__: list[str] = []

_COLUMNS = {
    "views": ("name", "kind", "version", "features", "watermark", "last_ingestion"),
    "services": ("name", "version", "features"),
    "datasets": ("name", "rows", "created_at", "feature_refs"),
    "entities": ("name", "version", "applied_at"),
    "sources": ("name", "version", "applied_at"),
}


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        if "status" in value:  # an ingestion run
            return f"{value['status']} at {value['started_at']} ({value['rows_in']} rows)"
        return ", ".join(f"{k}@v{v}" for k, v in value.items())
    return str(value)


@app.command("list")
@command
def list_(
    what: Annotated[str, typer.Argument(help="views, services, datasets, entities or sources.")],
    as_json: JsonOption = False,
) -> None:
    """List what the registry holds: views (versions, watermarks, last ingestion), services
    (their features), datasets (saved training frames and their lineage), entities, sources.

    Example: featurestore list views --json
    """
    if what not in LISTS:
        raise typer.BadParameter(f"choose one of {', '.join(LISTS)}", param_hint="WHAT")
    with open_store() as store:
        rows = listing(store, what)
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"{what} ({len(rows)})", title_justify="left")
    for column in _COLUMNS[what]:
        table.add_column(column)
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in _COLUMNS[what]))
    out.print(table)


@app.command("describe")
@command
def describe_(
    name: Annotated[str, typer.Argument(help="A view, service, entity, source or dataset name.")],
    as_json: JsonOption = False,
) -> None:
    """Show everything the registry knows about one name: its spec, versions, and for a view
    its watermark and latest ingestion runs, for a dataset its lineage.

    Example: featurestore describe driver_trips
    """
    with open_store() as store:
        info = describe(store, name)
    if as_json:
        print_json(info)
        return
    for match in info["matches"]:
        version = f" v{match['version']}" if "version" in match else ""
        out.rule(f"{match['kind']} {name}{version}")
        shown = {k: v for k, v in match.items() if k not in ("kind", "spec")}
        for key, value in shown.items():
            text = json.dumps(value, default=str) if isinstance(value, list | dict) else value
            out.print(f"{key}: {text}", markup=False, soft_wrap=True)
        if "spec" in match:
            out.print("spec:", markup=False)
            out.print_json(data=match["spec"])


@app.command("quarantine")
@command
def quarantine(
    view: Annotated[str, typer.Argument(help="The feature view.")],
    run: Annotated[str | None, typer.Option("--run", help="Only this ingestion run.")] = None,
    limit: Annotated[int, typer.Option(help="Show at most this many rows (table only).")] = 50,
    as_json: JsonOption = False,
) -> None:
    """Show the rows a view's contract refused, each with its reasons (column, check, value)
    and the ingestion run it came from.

    Example: featurestore quarantine driver_trips --run 3f2a9c...
    """
    with open_store() as store:
        rows = store.quarantined(view, run_id=run)
    records = rows.to_dicts()
    if as_json:
        print_json(records)
        return
    if not records:
        where = f" in run {run}" if run else ""
        out.print(f"no quarantined rows for {view}{where}", markup=False)
        return
    data = [c for c in rows.columns if not c.startswith("__")]
    table = Table(
        title=f"{view}: {len(records)} quarantined rows"
        + (f" (first {limit})" if len(records) > limit else ""),
        title_justify="left",
    )
    for column in ("run", "row", *data, "reasons"):
        table.add_column(column)
    for record in records[:limit]:
        reasons = "; ".join(
            f"{r.get('column') or '<batch>'}: {r.get('check')} ({r.get('value')})"
            for r in record.get("__reasons") or []
        )
        table.add_row(
            str(record.get("__run_id", ""))[:8],
            str(record.get("__row")),
            *(_cell(record.get(c)) for c in data),
            reasons,
        )
    out.print(table)


@app.command("report")
@command
def report(
    html: Annotated[
        Path, typer.Option("--html", help="Write the report to this self-contained HTML file.")
    ],
    reference: Annotated[
        str | None,
        typer.Option(
            help="Check drift of the served values against this saved training frame first "
            "(default: show the latest recorded drift report)."
        ),
    ] = None,
) -> None:
    """Write the UI's sections (overview, contracts, skew with its sampled entities, drift,
    performance) into one HTML file that opens without a network: a CI artifact.

    Example: featurestore report --html report.html --reference train_v1
    """
    from featurestore.ui import export_html

    with open_store() as store, out.status("writing the report"):
        text = export_html(store, reference=reference)
    html.parent.mkdir(parents=True, exist_ok=True)
    html.write_text(text, encoding="utf-8")
    out.print(f"wrote {html} ({len(text.encode()) / 1e6:.1f} MB)", markup=False)
