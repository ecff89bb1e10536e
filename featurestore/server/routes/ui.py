"""``/ui``: the web UI (DESIGN.md §14), pages rendered by :mod:`featurestore.ui`.

Mounted when ``serving.ui`` is true (the default). With tokens configured every page needs the
``read`` scope, given as an ``Authorization: Bearer`` header or, for a browser, through the
sign-in form, which keeps the token in an HttpOnly, SameSite=Strict cookie scoped to ``/ui``.
Static files (CSS, the UI's script, plotly.js from the installed ``plotly`` package) hold no
data and are open. Pages send a Content-Security-Policy that lets them load nothing from
another origin.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from featurestore.errors import AuthError, FeatureStoreError, NotFoundError
from featurestore.limits import clip
from featurestore.server.auth import check_token
from featurestore.store import FeatureStore
from featurestore.ui import render_page
from featurestore.ui.pages import PAGES, pages
from featurestore.ui.render import STATIC, plotly_js_path, render

__all__ = ["BASE", "COOKIE", "router"]

BASE = "/ui"
COOKIE = "featurestore_token"
_MAX_FORM = 8192
_STATIC = {"ui.css": "text/css", "ui.js": "text/javascript"}
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

router = APIRouter(prefix=BASE, tags=["ui"], include_in_schema=False)


def _html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=_HEADERS)


def _simple(request: Request, template: str, code: int, /, **context: object) -> HTMLResponse:
    store: FeatureStore = request.app.state.store
    shared = {"base": BASE, "nav": None, "charts": False, "inline": None, "footer": ""}
    body = render(template, **shared, project=store.project, **context)
    return _html(body, code)


def _error(request: Request, exc: FeatureStoreError, title: str) -> HTMLResponse:
    code = exc.status_code
    return _simple(request, "error.html", code, title=title, status=code, detail=clip(exc.message))


def _authorize(request: Request) -> None:
    """The read scope, from the header or the sign-in cookie (when tokens are configured)."""
    header = request.headers.get("authorization")
    if header is None and request.cookies.get(COOKIE):
        header = f"Bearer {request.cookies[COOKIE]}"
    check_token(request.app.state.tokens, header, "read", request.url.path)


def _next_path(value: str | None) -> str:
    # only a path of the UI: never an open redirect to another site
    if value and value.startswith(BASE) and not value.startswith("//"):
        return value
    return BASE


@router.get("/static/plotly.min.js")
async def plotly_js() -> FileResponse:
    """plotly.js from the installed ``plotly`` package."""
    return FileResponse(plotly_js_path(), media_type="text/javascript")


@router.get("/static/{name}")
async def static(name: str) -> FileResponse:
    """The UI's stylesheet and script."""
    if name not in _STATIC:
        raise NotFoundError(f"no static file {name!r}")
    return FileResponse(STATIC / name, media_type=_STATIC[name])


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    """The sign-in form (a bearer token with the read scope)."""
    return _simple(
        request,
        "login.html",
        200,
        title="Sign in",
        message="This feature server asks for a token.",
        next=_next_path(next),
    )


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    """Check the token and keep it in a cookie for the UI's pages."""
    body = await request.body()
    form = parse_qs(body[:_MAX_FORM].decode("utf-8", "replace"), max_num_fields=4)
    token = (form.get("token") or [""])[0].strip()
    next = (form.get("next") or [BASE])[0]
    try:
        check_token(request.app.state.tokens, f"Bearer {token}", "read", BASE)
    except AuthError as exc:
        return _simple(
            request,
            "login.html",
            exc.status_code,
            title="Sign in",
            message=clip(exc.message),
            next=_next_path(next),
        )
    response = RedirectResponse(_next_path(next), status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        path=BASE,
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/logout")
async def logout() -> Response:
    """Forget the sign-in cookie."""
    response = RedirectResponse(f"{BASE}/login", status_code=303)
    response.delete_cookie(COOKIE, path=BASE)
    return response


@router.get("", response_class=HTMLResponse)
@router.get("/{slug}", response_class=HTMLResponse)
async def page(request: Request, slug: str = "") -> HTMLResponse:
    """One page of the UI (see :func:`featurestore.ui.pages`)."""
    pages()  # the built-in pages register on first use
    found = PAGES.get(slug)
    try:
        _authorize(request)
        if found is None:
            raise NotFoundError(f"the UI has no page {slug!r}")
        store: FeatureStore = request.app.state.store
        params = dict(request.query_params)
        context = await run_in_threadpool(found.build, store, params)
        body = await run_in_threadpool(render_page, store, found, context, base=BASE)
    except AuthError as exc:
        if exc.status_code == 401:
            path = _next_path(str(request.url.path))
            return _simple(
                request, "login.html", 401, title="Sign in", message=clip(exc.message), next=path
            )
        return _error(request, exc, "Forbidden")
    except FeatureStoreError as exc:
        return _error(request, exc, "Error")
    return _html(body)
