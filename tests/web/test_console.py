"""The console through its HTTP interface (Starlette's TestClient): sign-in, roles, no leaks across
departments on any route or endpoint, CSRF, tokens, single sign-on and the login rate limit."""
from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from rightsizer.db import inventory as db_inventory
from rightsizer.db import notices as db_notices
from rightsizer.web.app import create_app

from webcity import NOW, PASSWORD
from test_reports import ARCH, EDU, HEALTH


@pytest.fixture
def app(console_city):
    settings, store, _, _ = console_city
    return create_app(settings, store, lambda: NOW)


def signed_in(app, name: str, client=("127.0.0.1", 50000)) -> TestClient:
    c = TestClient(app, client=client, follow_redirects=False)
    page = c.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    r = c.post("/login", data={"name": name, "password": PASSWORD, "csrf": csrf, "next": "/"})
    assert r.status_code == 303, r.text
    return c


def csrf_of(c: TestClient, path: str = "/") -> str:
    return re.search(r'name="csrf" value="([^"]+)"', c.get(path).text).group(1)


def ids(console_city, department: str) -> dict:
    _, store, _, _ = console_city
    with store.read() as conn:
        servers = [r.server_id for r in db_inventory.server_rows(conn, department)]
        notices = [r.id for r in db_notices.listing(conn, department)]
    return {"server": servers[0], "notice": notices[0]}


def test_each_role_signs_in_and_sees_its_own(app, console_city):
    ops = signed_in(app, "ops")
    page = ops.get("/")
    assert page.status_code == 200 and "总览" in page.text and EDU in page.text and HEALTH in page.text
    assert "本月至今浪费" in page.text and "<svg" in page.text
    edu = signed_in(app, "edu")
    page = edu.get("/")
    assert EDU in page.text and HEALTH not in page.text and ARCH not in page.text
    assert edu.get(f"/departments/{EDU}").status_code == 200
    fin = signed_in(app, "czj")
    assert fin.get("/").status_code == 200 and HEALTH in fin.get("/").text
    assert fin.get("/reports/monthly?month=2026-10&format=json").json()["month"] == "2026-10"
    assert fin.get("/notices").status_code == 403  # finance reads the reports, not the notices


def test_unauthenticated_requests_get_the_login_page_or_401(app, console_city):
    c = TestClient(app, follow_redirects=False)
    other = ids(console_city, HEALTH)
    for path in ("/", f"/departments/{EDU}", f"/servers/{other['server']}", "/notices",
                 f"/notices/{other['notice']}", "/exemptions", "/reports", "/reports/monthly?month=2026-10",
                 "/audit"):
        r = c.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), path
    for path in ("/api/v1/servers", "/api/v1/findings", "/api/v1/notices", f"/api/v1/notices/{other['notice']}",
                 "/api/v1/reports/monthly?month=2026-10"):
        assert c.get(path).status_code == 401, path
    assert c.get("/api/v1/servers", headers={"Authorization": "Bearer rsz_not-a-token"}).status_code == 401


def test_a_department_gets_404_for_anything_of_another_department_on_every_route(app, console_city):
    edu = signed_in(app, "edu")
    other = ids(console_city, HEALTH)
    csrf = csrf_of(edu)
    with console_city[1].read() as conn:
        item = db_notices.items(conn, other["notice"])[0].id
    gets = [f"/departments/{HEALTH}", f"/servers/{other['server']}", f"/notices/{other['notice']}",
            f"/notices/{other['notice']}/pdf"]
    for path in gets:
        r = edu.get(path)
        assert r.status_code == 404, path
        assert other["server"] not in r.text and HEALTH not in r.text.replace(f"/departments/{HEALTH}", "")
    posts = [(f"/notices/{other['notice']}/ack", {}), (f"/notices/{other['notice']}/items/{item}/answer",
                                                       {"kind": "objection", "note": "x"}),
             ("/exemptions/request", {"server_id": other["server"], "reason": "x", "until": "2026-12-31"})]
    for path, data in posts:
        assert edu.post(path, data={"csrf": csrf, **data}).status_code == 404, path
    # the report: a department asking for the city gets its own, never another's
    data = edu.get("/reports/monthly?month=2026-10&format=json").json()
    assert [d["department"] for d in data["departments"]] == [EDU]
    # the pages of its own scope list nothing of another
    for path in ("/notices", "/exemptions", "/"):
        assert HEALTH not in edu.get(path).text, path
    # every GET route with a parameter is covered above
    from rightsizer.web import pages

    routes = {r.path for r in pages.router.routes if "GET" in r.methods and "{" in r.path}
    assert routes == {"/departments/{name}", "/servers/{server_id}", "/notices/{notice_id}",
                      "/notices/{notice_id}/pdf"}


def test_api_tokens_are_scoped_and_finance_cannot_write(console_city, app):
    _, _, tokens, _ = console_city
    c = TestClient(app)
    auth = lambda who: {"Authorization": f"Bearer {tokens[who]}"}  # noqa: E731
    other = ids(console_city, HEALTH)
    mine = c.get("/api/v1/servers", headers=auth("edu")).json()
    assert mine and {s["department"] for s in mine} == {EDU}
    assert c.get(f"/api/v1/servers/{other['server']}", headers=auth("edu")).status_code == 404
    assert c.get(f"/api/v1/notices/{other['notice']}", headers=auth("edu")).status_code == 404
    assert {f["department"] for f in c.get("/api/v1/findings", headers=auth("edu")).json()} == {EDU}
    assert c.post(f"/api/v1/notices/{other['notice']}/ack", json={}, headers=auth("edu")).status_code == 404
    assert c.get(f"/api/v1/notices/{other['notice']}", headers=auth("ops")).status_code == 200
    assert c.post(f"/api/v1/notices/{other['notice']}/ack", json={}, headers=auth("czj")).status_code == 403
    assert c.get("/api/v1/servers", headers=auth("czj")).status_code == 403
    report = c.get("/api/v1/reports/monthly?month=2026-10", headers=auth("czj")).json()
    assert {d["department"] for d in report["departments"]} == {EDU, ARCH, HEALTH}
    csv = c.get("/api/v1/reports/monthly?month=2026-10&format=csv", headers=auth("edu"))
    assert csv.content.startswith(b"\xef\xbb\xbf") and HEALTH not in csv.content.decode("utf-8-sig")
    spec = c.get("/api/v1/openapi.json").json()
    assert {"/servers", "/findings", "/notices", "/notices/{notice_id}", "/reports/monthly"} <= set(spec["paths"])


def test_a_form_without_the_csrf_token_is_refused(app, console_city):
    edu = signed_in(app, "edu")
    mine = ids(console_city, EDU)
    for data in ({}, {"csrf": "forged"}):
        r = edu.post(f"/notices/{mine['notice']}/ack", data=data)
        assert r.status_code == 403 and "CSRF" in r.text
    r = edu.post("/exemptions/request", data={"server_id": mine["server"], "reason": "x", "until": "2026-12-31"})
    assert r.status_code == 403
    assert TestClient(app, follow_redirects=False).post("/login", data={"name": "ops", "password": PASSWORD}
                                                        ).status_code == 403  # the login form's own token


def test_cookies_are_httponly_strict_and_secure_behind_https(app):
    c = TestClient(app, client=("10.0.0.9", 1), follow_redirects=False)
    c.get("/login")
    csrf = c.cookies.get("rs_login")
    r = c.post("/login", data={"name": "ops", "password": PASSWORD, "csrf": csrf},
               headers={"X-Forwarded-Proto": "https"})
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" in cookie
    plain = signed_in(app, "ops")  # not behind the HTTPS proxy: no Secure (the cookie would never come back)
    assert plain.cookies.get("rs_session")


def test_header_sso_only_from_a_configured_proxy(app):
    outside = TestClient(app, client=("192.0.2.7", 1), follow_redirects=False)
    r = outside.get("/", headers={"X-Remote-User": "ops"})
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    proxy = TestClient(app, client=("10.0.0.5", 1), follow_redirects=False)
    r = proxy.get("/", headers={"X-Remote-User": "edu"})
    assert r.status_code == 200 and EDU in r.text and "rs_session" in r.headers["set-cookie"]
    fresh = TestClient(app, client=("10.0.0.5", 1), follow_redirects=False)
    assert fresh.get("/", headers={"X-Remote-User": "nobody"}).status_code == 303  # no such account here


def test_the_login_rate_limit_holds_across_copies(console_city):
    settings, store, _, _ = console_city
    one, two = create_app(settings, store, lambda: NOW), create_app(settings, store, lambda: NOW)
    addr = ("127.0.0.77", 1)
    for k in range(settings.web.login_max_failures):
        c = TestClient(one if k % 2 else two, client=addr, follow_redirects=False)
        c.get("/login")
        r = c.post("/login", data={"name": "health", "password": "wrong", "csrf": c.cookies.get("rs_login")})
        assert r.status_code == 401 and "用户名或密码错误" in r.text
    c = TestClient(one, client=addr, follow_redirects=False)
    c.get("/login")
    r = c.post("/login", data={"name": "health", "password": PASSWORD, "csrf": c.cookies.get("rs_login")})
    assert r.status_code == 429 and "次数过多" in r.text  # even the right password, until the window passes


def test_every_notice_link_opens_the_notice_page(app, console_city):
    import json

    _, store, _, _ = console_city
    with store.read() as conn:
        bodies = conn.exec_driver_sql("select notice_id, body from deliveries where purpose = 'notice'").all()
    assert bodies
    edu = signed_in(app, "edu")
    ops = signed_in(app, "ops")
    for notice_id, body in bodies:
        link = json.loads(body)["link"]
        assert link == f"http://127.0.0.1:8080/notices/{notice_id}"
        path = link.removeprefix("http://127.0.0.1:8080")
        page = ops.get(path)
        assert page.status_code == 200 and "通知原文" in page.text
    own = ids(console_city, EDU)["notice"]
    assert edu.get(f"/notices/{own}").status_code == 200


def test_operator_approves_a_requested_exemption_and_the_audit_log_has_both(app, console_city):
    edu = signed_in(app, "edu")
    server = ids(console_city, EDU)["server"]
    r = edu.post("/exemptions/request", data={"csrf": csrf_of(edu), "server_id": server, "reason": "考试季系统",
                                              "until": "2026-12-31"})
    assert r.status_code == 303
    ops = signed_in(app, "ops")
    page = ops.get("/exemptions")
    rid = re.findall(r'/exemptions/requests/(\d+)/decide', page.text)[0]
    assert edu.post(f"/exemptions/requests/{rid}/decide", data={"csrf": csrf_of(edu), "decision": "approve"}
                    ).status_code == 403  # a department cannot approve its own request
    r = ops.post(f"/exemptions/requests/{rid}/decide", data={"csrf": csrf_of(ops), "decision": "approve",
                                                             "note": "同意"})
    assert r.status_code == 303
    assert "已批准" in edu.get("/exemptions").text and server in edu.get("/exemptions").text
    audit = ops.get("/audit").text
    assert "exemption.request" in audit and "exemption.approve" in audit
    assert edu.get("/audit").status_code == 403
