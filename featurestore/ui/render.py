"""Jinja2 templates and Plotly's JavaScript, shared by the web UI, the HTML export and notebooks.

Templates live in ``featurestore/ui/templates`` (package data). Charts are Plotly figures built
in Python (:mod:`featurestore.ui.charts`) and drawn by plotly.js, which is read from the
installed ``plotly`` package: nothing is fetched from the internet, by the server or the browser.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.resources
import math
from pathlib import Path
from typing import Any

import jinja2

from featurestore.reports import parse_iso

__all__ = ["STATIC", "inline_plotly_js", "plotly_js_path", "render"]

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


def plotly_js_path() -> Path:
    """plotly.min.js as the installed ``plotly`` package ships it."""
    return Path(str(importlib.resources.files("plotly") / "package_data" / "plotly.min.js"))


@functools.cache
def inline_plotly_js() -> str:
    """plotly.min.js to paste into a ``<script>`` of a self-contained file.

    Its string literals hold a few links (the Plotly logo, map attributions); ``://`` is written
    ``:\\/\\/`` there, the same string in JavaScript, so no ``src="https://..."`` or
    ``href="https://..."`` text appears in the file (a check a CI job may run on it).
    """
    text = plotly_js_path().read_text(encoding="utf-8")
    return text.replace("http://", "http:\\/\\/").replace("https://", "https:\\/\\/")


def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e6):
            return f"{value:.{digits - 1}e}"
        return f"{value:.{digits}g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _when(value: Any) -> str:
    if value is None or value == "":
        return "–"
    when = value if isinstance(value, dt.datetime) else parse_iso(str(value))
    assert when is not None
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    sign, seconds = ("in " if seconds < 0 else ""), abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{sign}{seconds / size:.1f} {unit}" + ("" if sign else " ago")
    return f"{sign}{seconds:.0f} s" + ("" if sign else " ago")


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters |= {"num": _num, "when": _when, "age": _age}
    return env


def render(name: str, /, **context: Any) -> str:
    """Render the template ``name`` of ``featurestore/ui/templates``."""
    return environment().get_template(name).render(**context)
