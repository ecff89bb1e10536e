"""The UI's pages: each is registered once and served at ``/ui/<slug>`` and exported by
``featurestore report --html``.

A page is a template under ``featurestore/ui/templates`` plus a function that reads what it
shows from the store. Adding a page (policies, rollouts) is one :func:`register_page` call in
the module that owns its data; the navigation, the server route and the export pick it up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from featurestore.errors import DefinitionError

if TYPE_CHECKING:
    from featurestore.store import FeatureStore

__all__ = ["PAGES", "Page", "Params", "pages", "register_page"]

Params = Mapping[str, str]
"""The page's query parameters (``?view=driver_trips``)."""


@dataclass(frozen=True)
class Page:
    """One page of the UI.

    Attributes:
        slug: its path under ``/ui/`` (``""`` is the overview at ``/ui``).
        title: the navigation label and heading.
        template: the template of its body, rendered with ``c`` = what ``build`` returned,
            ``base`` = the UI's URL prefix (None in an exported file, which has no server to
            link to) and ``charts`` = whether Plotly is on the page.
        build: reads the page's data from the store (called in a worker thread).
        order: position in the navigation.
        export: whether ``featurestore report --html`` includes it.
    """

    slug: str
    title: str
    template: str
    build: Callable[[FeatureStore, Params], dict[str, Any]]
    order: int = 100
    export: bool = True


PAGES: dict[str, Page] = {}


def register_page(page: Page) -> Page:
    """Add ``page`` to the UI (a page of the same slug is replaced: reloading a module is fine).

    Raises:
        DefinitionError: the slug is not a lowercase path segment.
    """
    if page.slug and not page.slug.replace("-", "").replace("_", "").isalnum():
        raise DefinitionError(f"UI page slug {page.slug!r} must be letters, digits, - or _")
    PAGES[page.slug] = page
    return page


def pages() -> list[Page]:
    """Every registered page, in navigation order (the built-in ones are loaded first)."""
    import featurestore.ui.sections  # noqa: F401  (registers the built-in pages)

    return sorted(PAGES.values(), key=lambda p: (p.order, p.slug))
