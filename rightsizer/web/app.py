"""``rightsizer web``: the console (FastAPI + Jinja2 pages + vendored htmx) and its JSON API.

Stateless: sessions, the login rate limit and the audit log live in the store, so any number of
copies can run behind the centre's reverse proxy. Who may see what is decided in the query
layer (:mod:`rightsizer.jobs.views`, :mod:`rightsizer.jobs.actions`); the pages only render what it returns. Another
department's server, notice, report or request is a 404, like one that does not exist.

Every form carries the session's CSRF token (the login form a cookie-bound one); cookies are
HttpOnly and SameSite=Strict, Secure behind HTTPS. The API under ``/api/v1/`` takes bearer tokens
(``rightsizer tokens add``) scoped like accounts; its OpenAPI description is ``/api/v1/openapi.json``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from ..db import Store
from ..errors import NotFoundError, StateError, UsageError
from ..lifecycle import Forbidden
from ..settings import Settings
from . import api, pages
from .common import HERE, SignInFirst, State, page


def create_app(settings: Settings, store: Store, clock: Callable[[], datetime] | None = None) -> FastAPI:
    app = FastAPI(title="rightsizer", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.rs = State(settings, store, clock or (lambda: datetime.now(settings.tz)))
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(pages.router)
    app.mount("/api/v1", api.create_api(app.state.rs))

    @app.exception_handler(SignInFirst)
    async def _sign_in(request: Request, exc: SignInFirst):
        return RedirectResponse("/login?next=" + exc.path, status_code=303)

    @app.exception_handler(NotFoundError)
    async def _not_found(request: Request, exc: NotFoundError):
        # the same answer for what does not exist and what belongs to another department
        return page(request, "error.html", {"title": "未找到", "message": "没有找到，或不在您的查看范围内"}, status=404)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden):
        return page(request, "error.html", {"title": "无权访问", "message": str(exc)}, status=403)

    @app.exception_handler(StateError)
    async def _state(request: Request, exc: StateError):
        return page(request, "error.html", {"title": "无法执行", "message": str(exc)}, status=409)

    @app.exception_handler(UsageError)
    async def _usage(request: Request, exc: UsageError):
        return page(request, "error.html", {"title": "输入有误", "message": str(exc)}, status=400)

    @app.middleware("http")
    async def _headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if not request.url.path.startswith("/static/"):  # a department's page or file is not kept by a cache
            response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("Content-Security-Policy",
                                    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'")
        return response

    return app


