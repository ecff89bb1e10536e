"""The web UI (``/ui`` in the feature server), the self-contained HTML export
(``featurestore report --html``) and the notebook view of reports (``_repr_html_``).

All three render the same Jinja2 templates; charts are Plotly figures drawn by the plotly.js
the installed ``plotly`` package ships (never a CDN). Pages are registered with
:func:`register_page`.
"""

from featurestore.ui.export import export_html, render_page, report_html
from featurestore.ui.pages import PAGES, Page, pages, register_page

__all__ = ["PAGES", "Page", "export_html", "pages", "register_page", "render_page", "report_html"]
