"""Rendering pages: one page for the server, every page into one self-contained file, and one
report for a notebook."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import featurestore
from featurestore.ui.pages import Page, Params, pages
from featurestore.ui.render import STATIC, inline_plotly_js, render

if TYPE_CHECKING:
    from featurestore.store import FeatureStore

__all__ = ["REPORT_TEMPLATES", "export_html", "render_page", "report_html"]

#: The template of each kind of report value (``_repr_html_``) and the variable it reads.
REPORT_TEMPLATES = {
    "ingest": "reports/runs.html",
    "skew": "reports/skew.html",
    "drift": "reports/drift.html",
    "performance": "reports/performance.html",
}


def _layout(
    store: FeatureStore,
    title: str,
    base: str | None,
    nav: list[dict[str, Any]] | None,
    inline: dict[str, str] | None,
) -> dict[str, Any]:
    """What ``layout.html`` reads: a page with charts, linked to the server or self-contained."""
    footer = f"featurestore {featurestore.__version__}"
    return {"title": title, "base": base, "nav": nav, "inline": inline, "charts": True} | {
        "project": store.project,
        "footer": footer,
    }


def render_page(
    store: FeatureStore, page: Page, context: Mapping[str, Any], *, base: str, **extra: Any
) -> str:
    """One page of the server's UI (``context`` is what ``page.build`` returned)."""
    nav = [
        {"href": f"{base}/{p.slug}" if p.slug else base, "title": p.title, "active": p is page}
        for p in pages()
    ]
    return render(
        "page.html", **_layout(store, page.title, base, nav, None), page=page, c=context, **extra
    )


def export_html(
    store: FeatureStore,
    *,
    reference: str | None = None,
    now: dt.datetime | None = None,
) -> str:
    """Every exported page in one HTML file that needs no network: CSS, plotly.js and the
    figures are inside it, and it links nowhere.

    Args:
        store: the store to report on.
        reference: run a drift check of the served values against this saved training frame
            first (it is recorded like any drift check); None shows the latest recorded one.
        now: the time written in the file.
    """
    if reference is not None:
        store.drift(reference=reference)
    params: dict[str, Params] = {
        "skew": {"entities": "1"},
        "drift": {"reference": reference} if reference else {},
    }
    sections = [
        {"page": page, "context": page.build(store, params.get(page.slug, {}))}
        for page in pages()
        if page.export
    ]
    inline = {
        "css": (STATIC / "ui.css").read_text(encoding="utf-8"),
        "js": (STATIC / "ui.js").read_text(encoding="utf-8"),
        "plotly": inline_plotly_js(),
    }
    return render(
        "export.html",
        **_layout(store, f"report: {store.project}", None, None, inline),
        sections=sections,
        written_at=now or dt.datetime.now(dt.UTC),
    )


def report_html(kind: str, report: Mapping[str, Any]) -> str:
    """A report value as HTML for a notebook: the UI's table of it, styled, without charts."""
    from featurestore.ui.sections.skew import classes_of

    context: dict[str, Any] = {"report": report, "base": None, "charts": False}
    if kind == "ingest":
        context["runs"] = [report]
    if kind == "skew":
        context["classes"] = classes_of(list(report.get("features", [])))
    return render("repr.html", template=REPORT_TEMPLATES[kind], **context)
