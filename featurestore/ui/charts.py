"""Plotly figures of the UI, built from report dicts; each returns the figure as JSON-ready data
that ``static/ui.js`` hands to ``Plotly.newPlot``.

Only Plotly draws: these functions choose traces and layout, never shapes by hand.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

__all__ = [
    "CLASS_COLORS",
    "bars",
    "class_bars",
    "contract_runs",
    "drift_histogram",
    "lines_over_time",
    "performance_lines",
    "proportions_over_time",
]

Figure = dict[str, Any]

CLASS_COLORS = {
    "match": "#2e7d32",
    "stale": "#f9a825",
    "missing_online": "#ef6c00",
    "missing_offline": "#8e24aa",
    "mismatch": "#c62828",
    "outdated": "#6d4c41",
}


def _done(fig: go.Figure, title: str, height: int = 320, **layout: Any) -> Figure:
    fig.update_layout(
        title={"text": title, "x": 0, "font": {"size": 14}},
        template="plotly_white",
        height=height,
        margin={"l": 50, "r": 20, "t": 60, "b": 60},
        legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02, "yanchor": "bottom"},
        **layout,
    )
    data: Figure = json.loads(pio.to_json(fig, validate=False))
    return data


def bars(title: str, labels: Sequence[str], values: Sequence[float | None], name: str) -> Figure:
    """One bar per label."""
    return _done(go.Figure(go.Bar(x=list(labels), y=list(values), name=name)), title)


def contract_runs(runs: Sequence[dict[str, Any]]) -> Figure:
    """Rows written and quarantined per ingestion run, over time (oldest left)."""
    ordered = sorted(runs, key=lambda r: r["started_at"])
    x = [r["started_at"] for r in ordered]
    text = [f"{r['view']} ({r['status']})" for r in ordered]
    fig = go.Figure(
        [
            go.Bar(x=x, y=[r["rows_written"] for r in ordered], name="written", text=text),
            go.Bar(
                x=x,
                y=[r["rows_quarantined"] for r in ordered],
                name="quarantined",
                marker_color="#c62828",
            ),
        ]
    )
    return _done(fig, "ingestion runs over time", barmode="stack", yaxis_title="rows")


def class_bars(title: str, x: Sequence[str], counts: Mapping[str, Sequence[int]]) -> Figure:
    """Stacked bars of skew classes (one trace per class) over ``x``."""
    fig = go.Figure(
        [
            go.Bar(x=list(x), y=list(values), name=cls, marker_color=CLASS_COLORS.get(cls))
            for cls, values in counts.items()
        ]
    )
    return _done(fig, title, barmode="stack", yaxis_title="served values")


def lines_over_time(
    title: str, series: Mapping[str, tuple[Sequence[Any], Sequence[float | None]]], y_title: str
) -> Figure:
    """One line per name: ``{name: (times, values)}``."""
    fig = go.Figure(
        [
            go.Scatter(x=list(x), y=list(y), name=name, mode="lines+markers")
            for name, (x, y) in series.items()
        ]
    )
    return _done(fig, title, yaxis_title=y_title)


def drift_histogram(feature: dict[str, Any]) -> Figure | None:
    """The reference and current proportions PSI compared, bin by bin (None without data)."""
    hist = feature.get("histogram")
    if not hist:
        return None
    if "categories" in hist:
        labels = [str(c) for c in hist["categories"]]
    else:
        edges = [e for e in hist["edges"]]
        fmt = [("–" if e is None else f"{e:.4g}") for e in edges]
        labels = (
            [f"< {fmt[0]}"] + [f"{a} – {b}" for a, b in itertools.pairwise(fmt)] + [f">= {fmt[-1]}"]
            if fmt
            else ["all"]
        )
    fig = go.Figure(
        [
            go.Bar(x=labels, y=hist["reference"], name="reference", marker_color="#1565c0"),
            go.Bar(x=labels, y=hist["current"], name="current", marker_color="#ef6c00"),
        ]
    )
    verdict = (
        "insufficient data"
        if feature.get("insufficient_data")
        else ("drifted: " + ", ".join(feature["flags"]) if feature.get("drifted") else "no drift")
    )
    return _done(
        fig,
        f"{feature['feature']}: {verdict}",
        height=280,
        barmode="group",
        yaxis_title="share",
    )


def performance_lines(
    windows: Sequence[dict[str, Any]], alarms: Sequence[dict[str, Any]]
) -> Figure:
    """Each metric per window over time, with a dashed line where a detector fired."""
    names = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "mae", "rmse")
    x = [w["start"] for w in windows]
    traces = [
        go.Scatter(x=x, y=[w.get(m) for w in windows], name=m, mode="lines+markers")
        for m in names
        if any(w.get(m) is not None for w in windows)
    ]
    fig = go.Figure(traces)
    for alarm in alarms:
        if alarm.get("timestamp"):
            fig.add_vline(
                x=alarm["timestamp"],
                line_dash="dash",
                line_color="#c62828",
                annotation_text=alarm["detector"],
                annotation_position="top",
            )
    return _done(fig, "performance per window (dashed: a detector fired)", height=360)


def proportions_over_time(title: str, windows: Sequence[dict[str, Any]], key: str) -> Figure | None:
    """Class shares (or quantiles, for a regression) of ``key`` per window, over time."""
    rows = [(w["start"], w[key]) for w in windows if w.get(key)]
    if not rows:
        return None
    names = list(dict.fromkeys(name for _, dist in rows for name in dist))
    quantiles = all(n.startswith("p") and n[1:].isdigit() for n in names)
    traces = []
    for name in names:
        y = []
        for _, dist in rows:
            total = sum(v for v in dist.values()) or 1
            y.append(dist.get(name) if quantiles else (dist.get(name, 0) / total))
        traces.append(
            go.Scatter(
                x=[t for t, _ in rows],
                y=y,
                name=str(name),
                mode="lines+markers",
                stackgroup=None if quantiles else "share",
            )
        )
    return _done(go.Figure(traces), title, yaxis_title="value" if quantiles else "share")
