"""The UI's pieces without a browser: notebook views of reports, the page registry, the
plotly.js the export inlines."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import polars as pl

from featurestore.parity import drift_report, performance_report
from featurestore.parity.skew import FeatureSkew, SkewReport
from featurestore.reports import IngestReport
from featurestore.ui import Page, pages, register_page
from featurestore.ui.pages import PAGES
from featurestore.ui.render import inline_plotly_js, plotly_js_path


def test_reports_show_as_html_tables_in_notebooks() -> None:
    ingest = IngestReport(
        run_id="r1",
        view="trips",
        source="data.parquet",
        status="quarantined",
        started_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        rows_in=10,
        rows_written=8,
        rows_quarantined=2,
        violations=[{"column": "fare", "check": "ge(0)", "failures": 2, "examples": [-1.0]}],
    )
    html = ingest._repr_html_()
    assert "<table" in html and "quarantined" in html and "fare: ge(0) × 2" in html
    skew = SkewReport(
        checked_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        samples=5,
        features=[
            FeatureSkew(
                **dict.fromkeys(("missing_online", "missing_offline", "mismatch", "outdated"), 0),
                **dict.fromkeys(("both_null", "online_null", "offline_null"), 0),
                **dict.fromkeys(("mean_abs_diff", "max_abs_diff", "smape")),
                view="v",
                feature="f",
                total=5,
                match=3,
                stale=2,
                examples=[],
            )
        ],
    )
    html = skew._repr_html_()
    assert "v:f" in html and "stale" in html and "<a " not in html  # no server to link to
    g = np.random.default_rng(1)
    drift = drift_report(
        pl.DataFrame({"x": g.normal(0, 1, 500)}),
        pl.DataFrame({"x": g.normal(2, 1, 500)}),
        reference_name="train",
        current_name="now",
    )
    assert "drifted: psi" in drift._repr_html_()
    feedback = pl.DataFrame(
        {
            "timestamp": pl.datetime_range(
                dt.datetime(2026, 1, 1), dt.datetime(2026, 1, 3), "1h", time_zone="UTC", eager=True
            ),
        }
    ).with_columns(pl.Series("prediction", g.random(49)), pl.Series("label", g.integers(0, 2, 49)))
    html = performance_report(feedback, window=dt.timedelta(days=1))._repr_html_()
    assert "roc_auc" in html and html.count("<tr>") >= 3
    for html in (ingest._repr_html_(), drift._repr_html_()):
        assert "<script" not in html and "http" not in html


def test_a_registered_page_joins_the_navigation() -> None:
    page = Page("custom", "Custom", "pages/overview.html", lambda store, params: {}, order=999)
    before = [p.slug for p in pages()]
    try:
        register_page(page)
        assert [p.slug for p in pages()] == [*before, "custom"]
    finally:
        PAGES.pop("custom", None)
    assert [p.slug for p in pages()] == before


def test_plotly_js_comes_from_the_installed_package_with_links_escaped() -> None:
    assert plotly_js_path().is_file() and plotly_js_path().stat().st_size > 1_000_000
    inline = inline_plotly_js()
    assert not re.search(r"https?://", inline)
    assert len(inline) > len(plotly_js_path().read_text()) - 1  # only escapes were added
