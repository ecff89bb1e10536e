"""``GET /docs`` (Swagger UI) and ``GET /redoc`` (ReDoc) from assets served by this server.

FastAPI's own pages load their JavaScript and CSS from a CDN, so they are blank where the
server has no internet access (a private network, an air-gapped cluster). The assets come from
the ``fastapi-offline`` package, which ships Swagger UI's and ReDoc's builds as package data: it
is kept up to date with FastAPI (its releases follow FastAPI's), ships both UIs (the
``swagger-ui-bundle`` package has Swagger UI alone, last released years ago) and has no
dependency but FastAPI. Only its static folder is used: its app factory returns a plain
``FastAPI``, and the server is a subclass of its own.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

__all__ = ["ASSETS", "STATIC_PATH", "install_docs"]

#: where the assets are served
STATIC_PATH = "/docs-assets"
#: the package's folder of Swagger UI and ReDoc builds
ASSETS = Path(fastapi_offline.__file__).parent / "static"


def install_docs(app: FastAPI) -> None:
    """Serve ``/docs`` and ``/redoc`` with local assets. ``app`` must be built with
    ``docs_url=None, redoc_url=None`` (FastAPI's CDN pages off)."""
    openapi_url = app.openapi_url or "/openapi.json"
    redirect_url = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"
    app.mount(STATIC_PATH, StaticFiles(directory=ASSETS), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}{redirect_url}",
            swagger_js_url=f"{root}{STATIC_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{STATIC_PATH}/favicon.png",
            swagger_ui_parameters=app.swagger_ui_parameters,
        )

    @app.get(redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{STATIC_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{STATIC_PATH}/favicon.png",
            with_google_fonts=False,
        )
