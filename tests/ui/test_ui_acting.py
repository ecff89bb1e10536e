"""The policies and rollouts pages with data: the recsys_feedback_loop example's decision log
(no retrain after week 1, a retrain after week 5) and its canary with the arms compared; rendered
without a browser (the page builders, the exported report) and in headless Chromium."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_ui_browser import Tab, drawn_charts, tab  # noqa: F401  (the fixture)
from ui_helpers import UiServer

from featurestore import FeatureStore
from featurestore.ui.export import export_html, render_page
from featurestore.ui.pages import PAGES, pages

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from examples.recsys_feedback_loop import run as recsys  # noqa: E402


@pytest.fixture(scope="module")
def recsys_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example's work folder after its run (embedded stores)."""
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("FEATURESTORE_")}
    try:
        folder = tmp_path_factory.mktemp("acting") / "recsys"
        recsys.run(folder, quiet=True)
    finally:
        os.environ.update(saved)
    return folder


@pytest.fixture
def store(recsys_repo: Path) -> Iterator[FeatureStore]:
    with FeatureStore(recsys_repo) as opened:
        yield opened


def test_the_pages_render_the_decisions_and_the_arms(store: FeatureStore) -> None:
    assert {"policies", "rollouts"} <= {p.slug for p in pages()}
    policies = PAGES["policies"].build(store, {})
    assert [d["retrain"] for d in policies["decisions"]] == [True, False]  # newest first
    assert policies["retrains"] == 1 and len(policies["figures"]) == 1
    html = render_page(store, PAGES["policies"], policies, base="/ui")
    assert "recs_retrain v1" in html and "prediction_drift" in html and "retrain</span>" in html

    rollouts = PAGES["rollouts"].build(store, {})
    (record,) = rollouts["rollouts"]
    assert (record["view"], record["stage"], record["status"]) == (
        "user_taste",
        "canary",
        "running",
    )
    arms = {a["arm"]: a for a in rollouts["latest"]["arms"]}
    assert arms["candidate"]["distinct_predictions"] > arms["current"]["distinct_predictions"]
    assert len(rollouts["figures"]) == 2  # diversity and outcome per arm (no shadow ran)
    html = render_page(store, PAGES["rollouts"], rollouts, base="/ui")
    assert "version 1 &rarr; 2" in html and "no shadow samples" in html
    assert "Performance per arm" in html and "<td>candidate</td>" in html

    exported = export_html(store)
    assert "Rollouts" in exported and "Policies" in exported and "recs_retrain" in exported


def test_the_pages_draw_their_charts_in_a_browser(
    recsys_repo: Path,
    tmp_path: Path,
    tab: Tab,  # noqa: F811  (the fixture imported above)
) -> None:
    with UiServer(recsys_repo, tmp_path / "server.log") as server:
        for slug, text in (("policies", "2 decisions, 1 to retrain"), ("rollouts", "candidate")):
            response = tab.goto(f"{server.url}/ui/{slug}")
            assert response.status == 200
            total, drawn = drawn_charts(tab)
            assert total >= 1 and drawn == total, (slug, total, drawn)
            assert text in tab.page.locator("main").inner_text()
        assert tab.errors == []
