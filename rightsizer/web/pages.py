"""The console's pages: server-rendered Chinese HTML; every form posts the session's CSRF token."""

from __future__ import annotations

import threading
import time
from datetime import date

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from ..errors import NotFoundError, UsageError
from ..format import money
from ..jobs import accounts, actions, reports, views
from ..lifecycle import RECTIFY_KINDS, Viewer
from ..reports import Month, MonthlyReport, svg, writers
from .common import (COOKIE, LOGIN_COOKIE, download, check_csrf, client_address, login_token, page, rs, secure,
                  set_session_cookie, signed_in, viewer)

router = APIRouter()
_CACHE: dict[tuple, tuple[float, object]] = {}
TTL = 60.0  # seconds a month's figures are reused by the pages (the reports recompute from the store)


_LOCKS: dict[tuple, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _cached(key: tuple, make):
    """``make()`` at most once per TTL and key: while one request recomputes, the others get the previous
    value (or, the first time, wait for it) — no stampede of identical computations."""
    hit = _CACHE.get(key)
    if hit is not None and time.monotonic() - hit[0] < TTL:
        return hit[1]
    with _LOCKS_GUARD:
        lock = _LOCKS.setdefault(key, threading.Lock())
    if hit is not None and not lock.acquire(blocking=False):
        return hit[1]  # someone is refreshing it: the minute-old figures meanwhile
    if hit is None:
        lock.acquire()
    try:
        fresh = _CACHE.get(key)
        if fresh is not None and time.monotonic() - fresh[0] < TTL:
            return fresh[1]
        value = make()
        _CACHE[key] = (time.monotonic(), value)
        return value
    finally:
        lock.release()


def _city_month(request: Request, month: Month) -> MonthlyReport:
    """The city's report of ``month`` as of now, computed once a minute for every viewer; each viewer gets
    only its scope out of it (:func:`_month_view`)."""
    state = rs(request)
    now = state.clock()
    return _cached(("monthly", str(month), now.date()), lambda: reports.monthly(
        state.store, state.settings, month, now))


def _month_view(city: MonthlyReport, viewer: Viewer):
    """(department rows, totals, 12-month trend) of the city's report that ``viewer`` may see: a department
    its own only; the centre and finance the city."""
    if viewer.scope is None:
        return city.departments, city.totals, city.trend
    from ..reports.monthly import for_department

    return for_department(city, viewer.scope)


def _floats(values) -> list[float | None]:
    """A chart's values: an amount not known (a month not monitored) stays ``None``, a gap — never 0."""
    return [None if x is None else float(x) for x in values]


def _safe_next(target: str | None) -> str:
    return target if target and target.startswith("/") and not target.startswith("//") else "/"


# -- sign-in -------------------------------------------------------------------------------------------------

@router.get("/login")
def login_form(request: Request, next: str = "/"):
    token, new = login_token(request)
    response = page(request, "login.html", {"csrf": token, "next": _safe_next(next), "error": ""})
    if new:
        response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=secure(request), path="/")
    return response


@router.post("/login")
def login(request: Request, name: str = Form(""), password: str = Form(""), csrf: str = Form(""),
          next: str = Form("/")):
    token = request.cookies.get(LOGIN_COOKIE)
    if not token or not csrf or csrf != token:
        return page(request, "login.html", {"csrf": token or "", "next": _safe_next(next),
                                            "error": "表单已过期，请重新登录"}, status=403)
    state = rs(request)
    try:
        s = accounts.login(state.store, state.settings.web, name, password, client_address(request), state.clock())
    except accounts.LoginRefused as exc:
        return page(request, "login.html", {"csrf": token, "next": _safe_next(next), "error": str(exc)},
                    status=429 if exc.limited else 401)
    old = request.cookies.get(COOKIE)
    if old:  # signing in (as anyone) ends the browser's previous session: it is never left open behind the new one
        accounts.logout(state.store, old)
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_session_cookie(request, response, s)
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(request: Request, csrf: str = Form("")):
    s = signed_in(request)
    check_csrf(request, s, csrf)
    accounts.logout(rs(request).store, s.id, s.viewer, rs(request).clock())
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


# -- overview, departments, servers --------------------------------------------------------------------------

@router.get("/")
def overview(request: Request):
    signed_in(request)
    v = viewer(request)
    state = rs(request)
    month = Month.of(state.clock().astimezone(state.settings.tz).date())
    rows, t, trend_rows = _month_view(_city_month(request, month), v)
    d = rows.sort_values("waste", ascending=False, key=lambda c: c.map(lambda x: -1 if x is None else x))
    bars = svg.bars(list(d.index), _floats(d["waste"]), f"{month.label()}至今 各部门资源浪费（元）")
    trend = svg.lines([x.split("年")[1] for x in trend_rows["label"]],
                      {"浪费": _floats(trend_rows["waste"]), "已实现节约": _floats(trend_rows["realised"])},
                      "近12个月资源浪费与节约（元）")
    kpis = [("本月至今浪费", f"¥{money(t['waste'])}"), ("月末浪费速率", f"¥{money(t['run_rate'])}/月"),
            ("本月已实现节约", f"¥{money(t['realised'])}"), ("本年已实现节约", f"¥{money(t['realised_ytd'])}"),
            ("未结通知", str(t["open_at_end"])), ("逾期未结", str(t["overdue_open_at_end"]))]
    return page(request, "overview.html", {"title": "总览", "kpis": kpis, "bars": bars, "trend": trend,
                                           "rows": d.reset_index().to_dict("records"), "money": money,
                                           "month": month})


@router.get("/departments/{name}")
def department(request: Request, name: str):
    signed_in(request)
    v = viewer(request)
    store = rs(request).store
    servers = views.servers(store, v, department=name)
    if not servers:
        raise NotFoundError(f"没有部门 {name}")
    found: dict[str, list] = {}
    savings: dict = {}
    for _, f in views.findings(store, v, department=name):
        found.setdefault(f.server_id, []).append(f)
        if f.kind in RECTIFY_KINDS:  # what rectifying saves; expansion advice costs, and is not a saving
            savings[f.server_id] = savings.get(f.server_id, 0) + f.monthly_saving_cny
    return page(request, "department.html", {"title": name, "name": name, "servers": servers, "found": found,
                                             "savings": savings})


@router.get("/servers/{server_id}")
def server(request: Request, server_id: str):
    s = signed_in(request)
    state = rs(request)
    data = views.server(state.store, viewer(request), server_id, state.clock().astimezone(state.settings.tz).date())
    hist = data.history
    labels = [h.at.astimezone(state.settings.tz).strftime("%m-%d") for h in hist]
    step = max(1, len(labels) // 12)
    chart = svg.lines([x if i % step == 0 else "" for i, x in enumerate(labels)],
                      {"CPU P95 %": [h.cpu_p95_pct for h in hist],
                       "内存周期峰值 %": [h.memory_peak_pct for h in hist]},
                      "各次评估的 CPU P95 与内存周期峰值（%）", unit="%") if hist else ""
    p = state.settings.policy
    return page(request, "server.html", {"title": data.server.name, "server": data.server, "findings": data.findings,
                                         "chart": chart, "policy": p, "csrf": s.csrf, "st": data.status,
                                         "tz": state.settings.tz,
                                         "today": state.clock().astimezone(state.settings.tz).date().isoformat()})


# -- notices -------------------------------------------------------------------------------------------------

@router.get("/notices")
def notices(request: Request):
    signed_in(request)
    rows = views.notices(rs(request).store, viewer(request), newest_first=True)
    return page(request, "notices.html", {"title": "整改通知", "rows": rows})


@router.get("/notices/{notice_id}")
def notice(request: Request, notice_id: int):
    s = signed_in(request)
    p = views.notice(rs(request).store, viewer(request), notice_id)
    return page(request, "notice.html", {"title": p.notice.number, "p": p, "csrf": s.csrf})


@router.get("/notices/{notice_id}/pdf")
def notice_pdf(request: Request, notice_id: int):
    signed_in(request)
    p = views.notice(rs(request).store, viewer(request), notice_id)
    if p.pdf is None:
        raise NotFoundError("该通知没有 PDF")
    accounts.audit_download(rs(request).store, viewer(request), rs(request).clock(), f"{p.notice.number} pdf",
                            p.notice.department)
    return download(p.pdf.content, p.pdf.name)


def _act(request: Request, csrf: str) -> Viewer:
    """The viewer of a form that carries the session's CSRF token."""
    check_csrf(request, signed_in(request), csrf)
    return viewer(request)


@router.post("/notices/{notice_id}/ack")
def notice_ack(request: Request, notice_id: int, csrf: str = Form(""), note: str = Form("")):
    v = _act(request, csrf)
    actions.ack(rs(request).store, v, rs(request).clock(), notice_id, note)
    return RedirectResponse(f"/notices/{notice_id}", status_code=303)


@router.post("/notices/{notice_id}/items/{item_id}/answer")
def item_answer(request: Request, notice_id: int, item_id: int, csrf: str = Form(""), kind: str = Form(""),
                note: str = Form("")):
    v = _act(request, csrf)
    actions.answer(rs(request).store, v, rs(request).clock(), notice_id, item_id, kind, note)
    return RedirectResponse(f"/notices/{notice_id}", status_code=303)


@router.post("/notices/{notice_id}/withdraw")
def notice_withdraw(request: Request, notice_id: int, csrf: str = Form(""), note: str = Form("")):
    v = _act(request, csrf)
    actions.withdraw(rs(request).store, v, rs(request).clock(), notice_id, note)
    return RedirectResponse(f"/notices/{notice_id}", status_code=303)


@router.post("/notices/{notice_id}/resend")
def notice_resend(request: Request, notice_id: int, csrf: str = Form("")):
    v = _act(request, csrf)
    actions.resend(rs(request).store, v, rs(request).clock(), notice_id)
    return RedirectResponse(f"/notices/{notice_id}", status_code=303)


# -- exemptions ----------------------------------------------------------------------------------------------

@router.get("/exemptions")
def exemptions(request: Request):
    s = signed_in(request)
    rows, reqs = views.exemptions(rs(request).store, viewer(request))
    return page(request, "exemptions.html", {"title": "豁免", "rows": rows, "reqs": reqs, "csrf": s.csrf})


@router.post("/exemptions/request")
def exemption_request(request: Request, csrf: str = Form(""), server_id: str = Form(""), reason: str = Form(""),
                      until: str = Form("")):
    v = _act(request, csrf)
    try:
        day = date.fromisoformat(until)
    except ValueError:
        raise UsageError(f"豁免期限 {until!r} 不是日期（YYYY-MM-DD）") from None
    actions.request_exemption(rs(request).store, v, rs(request).clock(), server_id, reason, day)
    return RedirectResponse("/exemptions", status_code=303)


@router.post("/exemptions/requests/{request_id}/decide")
def exemption_decide(request: Request, request_id: int, csrf: str = Form(""), decision: str = Form(""),
                     note: str = Form("")):
    v = _act(request, csrf)
    if decision not in ("approve", "reject"):
        raise UsageError("decision: approve or reject")
    actions.decide(rs(request).store, v, rs(request).clock(), request_id, decision == "approve", note)
    return RedirectResponse("/exemptions", status_code=303)


# -- reports and the audit log -------------------------------------------------------------------------------

@router.get("/reports")
def reports_page(request: Request):
    signed_in(request)
    now = rs(request).clock().astimezone(rs(request).settings.tz)
    seen = reports.evaluated_months(rs(request).store, rs(request).settings)  # only months with data
    months = [m for m in (Month.of(now.date()).shift(-k) for k in range(0, 13)) if m in seen]
    return page(request, "reports.html", {"title": "报告", "months": months, "year": now.year})


@router.get("/reports/monthly")
def report_monthly(request: Request, month: str = "", format: str = "html"):
    signed_in(request)
    v = viewer(request)
    try:
        m = Month.parse(month) if month else Month.of(rs(request).clock().date()).shift(-1)
    except ValueError:
        raise UsageError(f"month: {month!r} 不是月份（YYYY-MM）") from None
    if format not in writers.MONTHLY_FORMATS:
        raise UsageError(f"format: {format!r}")
    r = _cached(("monthly", str(m), v.scope, rs(request).clock().date()), lambda: reports.monthly(
        rs(request).store, rs(request).settings, m, rs(request).clock(), v.scope))
    data = writers.monthly(r, format)
    accounts.audit_download(rs(request).store, v, rs(request).clock(), f"monthly {m}.{format}", v.scope)
    if format == "html":
        return Response(data, media_type="text/html; charset=utf-8")
    return download(data, f"{m}-云资源浪费报告{'-' + v.scope if v.scope else ''}.{format}")


@router.get("/tokens")
def tokens_page(request: Request):
    s = signed_in(request)
    state = rs(request)
    rows = accounts.tokens(state.store, viewer(request))
    return page(request, "tokens.html", {"title": "接口令牌", "rows": rows, "csrf": s.csrf, "tz": state.settings.tz,
                                         "today": state.clock().astimezone(state.settings.tz).date()})


@router.post("/tokens/revoke")
def token_revoke(request: Request, csrf: str = Form(""), name: str = Form("")):
    v = _act(request, csrf)
    accounts.revoke_token(rs(request).store, rs(request).clock(), name, v)
    return RedirectResponse("/tokens", status_code=303)


@router.get("/audit")
def audit(request: Request):
    signed_in(request)
    rows = views.audit_log(rs(request).store, viewer(request))
    return page(request, "audit.html", {"title": "审计日志", "rows": rows})



@router.get("/reports/evaluation")
def report_evaluation(request: Request, year: int, quarter: int | None = None, format: str = "xlsx"):
    signed_in(request)
    v = viewer(request)
    if v.role == "department":
        raise NotFoundError("绩效评价由中心和财政局查看")
    if format not in writers.EVALUATION_FORMATS or (quarter is not None and not 1 <= quarter <= 4):
        raise UsageError("format: xlsx or csv; quarter: 1-4")
    state = rs(request)
    e = reports.evaluation(state.store, state.settings, year, quarter, state.clock())
    accounts.audit_download(state.store, v, state.clock(), f"evaluation {year}{'Q' + str(quarter) if quarter else ''}"
                            f".{format}", None)
    return download(writers.evaluation(e, format), f"{year}{'Q' + str(quarter) if quarter else ''}-绩效评价.{format}")
