"""What the pages share: the templates, the session from the cookie or the SSO header, cookies, CSRF."""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from .. import format as fmt
from .. import lifecycle
from ..jobs import accounts
from ..jobs.views import deadline_zh
from ..lifecycle import Forbidden, Viewer

HERE = Path(__file__).parent
COOKIE = "rs_session"
LOGIN_COOKIE = "rs_login"


class State:
    def __init__(self, settings, store, clock):
        self.settings, self.store, self.clock = settings, store, clock


templates = Jinja2Templates(directory=str(HERE / "templates"))
# labels and the actions a page offers come from the lifecycle table; times are printed in the centre's zone
templates.env.globals.update(can=lifecycle.can, label=lifecycle.label, answer_labels=lifecycle.ANSWER_LABELS,
                             label_answer=lambda kind: lifecycle.ANSWER_LABELS[lifecycle.AnswerKind(kind)],
                             deadline=deadline_zh, kind_zh=fmt.KIND_ZH, dim_zh=fmt.DIM_ZH, size_zh=fmt.size_zh,
                             money=fmt.money, date_zh=fmt.date_zh)


def rs(request: Request) -> State:
    return request.app.state.rs


def peer_address(request: Request) -> str:
    """Who opened the connection: the proxy, behind the centre's reverse proxy (what trust is decided on)."""
    return request.client.host if request.client else ""


def client_address(request: Request) -> str:
    """The browser's address: from ``X-Forwarded-For`` only when the peer is one of ``[web] trusted_proxies`` — the
    last hop that is not itself a trusted proxy; else the peer (a header from anyone else is ignored)."""
    import ipaddress

    peer = peer_address(request)
    web = rs(request).settings.web
    if not accounts.trusted(web, peer):
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getlist("x-forwarded-for")).split(",") if h.strip()]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer  # a hop that is not an address: the header cannot be read, the proxy is who we know
        if not accounts.trusted(web, hop):
            return hop
    return peer


def secure(request: Request) -> bool:
    mode = rs(request).settings.web.secure_cookies
    if mode != "auto":
        return mode == "always"
    forwarded = request.headers.get("x-forwarded-proto", "")
    via_proxy = forwarded == "https" and accounts.trusted(rs(request).settings.web, peer_address(request))
    return request.url.scheme == "https" or via_proxy


def current(request: Request) -> accounts.Session | None:
    """The signed-in session: the cookie's, or one started from the trusted proxy's SSO header."""
    sid = request.cookies.get(COOKIE)
    if sid:
        s = accounts.session(rs(request).store, sid, rs(request).clock().timestamp())
        if s is not None:
            return s
    web = rs(request).settings.web
    names = request.headers.getlist(web.sso_header) if web.sso_header else []
    if len(names) > 1:
        return None  # two identity headers: the proxy did not set it alone — refused, never the first or the last
    name = names[0] if names else None
    if name:
        try:
            s = accounts.sso(rs(request).store, web, name, peer_address(request), rs(request).clock())
        except accounts.LoginRefused:
            return None
        if s.id:  # a new session: its cookie goes with the answer (a reused one has none to give)
            request.state.new_session = s
        return s
    return None


def set_session_cookie(request: Request, response: Response, s: accounts.Session) -> None:
    response.set_cookie(COOKIE, s.id, max_age=int(s.expires_at - rs(request).clock().timestamp()), httponly=True,
                        samesite="strict", secure=secure(request), path="/")


def page(request: Request, name: str, context: dict, status: int = 200) -> HTMLResponse:
    s = getattr(request.state, "session", None)
    tz = rs(request).settings.tz
    response = templates.TemplateResponse(request, name, {
        "session": s, "viewer": s.viewer if s else None, "minute": lambda t: fmt.minute(t, tz),
        "day": lambda t: fmt.day(t, tz), **context}, status_code=status)
    new = getattr(request.state, "new_session", None)
    if new is not None:
        set_session_cookie(request, response, new)
    return response


def check_csrf(request: Request, s: accounts.Session, token: str | None) -> None:
    if not token or not hmac.compare_digest(token, s.csrf):
        raise Forbidden("表单已过期或来源不明（CSRF 校验失败），请刷新页面后重试")


def login_token(request: Request) -> tuple[str, bool]:
    """The login form's CSRF token (double-submit, bound to a cookie) and whether it is new."""
    have = request.cookies.get(LOGIN_COOKIE)
    return (have, False) if have else (secrets.token_urlsafe(24), True)


class SignInFirst(Exception):
    """No session: the app answers with the login page (a redirect that comes back here)."""

    def __init__(self, path: str):
        super().__init__(path)
        self.path = path


def signed_in(request: Request) -> accounts.Session:
    s = current(request)
    if s is None:
        raise SignInFirst(request.url.path)
    request.state.session = s
    return s


MEDIA = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "csv": "text/csv; charset=utf-8", "json": "application/json", "pdf": "application/pdf"}


def download(data: bytes, name: str) -> Response:
    """A file to save, named in UTF-8 (Chinese file names survive every browser)."""
    from urllib.parse import quote

    return Response(data, media_type=MEDIA[name.rsplit(".", 1)[1]],
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})


def viewer(request: Request) -> Viewer:
    return request.state.session.viewer
