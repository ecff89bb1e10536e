"""Small things an operator notices: ``/docs`` and ``/redoc`` work with no internet (their
assets are served by the server itself), ``/metrics`` has the process's own metrics, and
requests are labelled by route template, never by raw path."""

from __future__ import annotations

import re

import httpx
from server_helpers import Served
from test_metrics import samples, value


def _asset_urls(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)\s*[=:]\s*['"]([^'"]+)['"]""", html)


def test_docs_and_redoc_load_their_assets_from_the_server(served: Served) -> None:
    for page, needed in (
        ("/docs", ("swagger-ui-bundle.js", "swagger-ui.css")),
        ("/redoc", ("redoc.standalone.js",)),
    ):
        reply = httpx.get(served.url + page, timeout=30)
        assert reply.status_code == 200, page
        html = reply.text
        assert "cdn." not in html and "googleapis" not in html, html
        urls = _asset_urls(html)
        assert all(u.startswith("/") for u in urls), urls  # nothing from another host
        for name in needed:
            (url,) = [u for u in urls if u.endswith(name)]
            asset = httpx.get(served.url + url, timeout=30)
            assert asset.status_code == 200, url
            assert len(asset.content) > 10_000, url  # the real build, not a stub
        assert "/openapi.json" in html
    assert httpx.get(served.url + "/openapi.json", timeout=30).status_code == 200


def test_metrics_have_process_metrics(served: Served) -> None:
    metrics = samples(served.url)
    names = {name for name, _ in metrics}
    assert {
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
        "process_start_time_seconds",
    } <= names
    assert value(metrics, "process_resident_memory_bytes") > 10_000_000


def test_requests_are_labelled_by_route_template(served: Served) -> None:
    before = samples(served.url)
    for slug in ("no-such-page-1", "no-such-page-2"):
        httpx.get(served.url + f"/ui/{slug}", timeout=30)
    for path in ("/no/such/path/1", "/no/such/path/2"):
        assert httpx.get(served.url + path, timeout=30).status_code == 404
    after = samples(served.url)
    endpoints = {dict(labels).get("endpoint") for name, labels in after if labels}
    assert not any("no-such" in str(e) or "/no/such" in str(e) for e in endpoints), endpoints
    counted = "featurestore_requests_total"
    ui = [
        (labels, n - before.get((name, labels), 0.0))
        for (name, labels), n in after.items()
        if name == counted and dict(labels)["endpoint"] == "/ui/{slug}"
    ]
    assert sum(n for _, n in ui) == 2, ui
    unmatched = value(after, counted, endpoint="unmatched", status="404") - value(
        before, counted, endpoint="unmatched", status="404"
    )
    assert unmatched == 2
