"""Issue 24, point 8 — the smaller defects, each as the attacker or the careless admin meets it: a store URL with
an '@' in its password or a word for a port, weak passwords, two SSO headers, a cache keeping a department's page,
an id too large for the database, a note the size of a file, and a browser signed in as two people at once."""
from __future__ import annotations

import io
import re
import sys

import pytest
from starlette.testclient import TestClient

from rightsizer.cli import main
from rightsizer.web.app import create_app

from webcity import NOW, PASSWORD
from test_console import csrf_of, ids, signed_in
from test_reports import EDU


@pytest.fixture
def app(console_city):
    settings, store, _, _ = console_city
    return create_app(settings, store, lambda: NOW)


@pytest.mark.parametrize("url, said", [
    ("postgresql+psycopg://rs:pa@ss-secret-word@db.example/rs", "percent-encode an '@'"),
    ("postgresql+psycopg://rs@db.example:five432/rs", "port is not a number"),
])
def test_a_bad_store_url_never_shows_the_password_and_is_no_traceback(url, said, capsys):
    assert main(["store", "migrate", "--db", url]) == 1
    err = capsys.readouterr().err
    assert said in err and "secret" not in err and "ss-" not in err and "Traceback" not in err


@pytest.mark.parametrize("password, said", [
    ("operator-zhang-2026", "account's name"), ("aaaaaaaaaaaa", "repeated"), ("ababababababab", "repeated"),
    ("1234567890", "common"), ("Password123", "common"),
])
def test_weak_passwords_are_refused(tmp_path, capsys, password, said):
    old, sys.stdin = sys.stdin, io.StringIO(password + "\n")
    try:
        rc = main(["users", "add", "operator-zhang", "--role", "operator", "--db", str(tmp_path / "rs.db")])
    finally:
        sys.stdin = old
    assert rc == 2 and said in capsys.readouterr().err


def test_two_sso_headers_are_refused(app):
    def proxy():  # the trusted proxy, a request without a session cookie
        return TestClient(app, client=("10.0.0.5", 40000), follow_redirects=False)

    assert proxy().get("/", headers={"X-Remote-User": "ops"}).status_code == 200
    two = proxy().get("/", headers=[("X-Remote-User", "edu"), ("X-Remote-User", "ops")])
    assert two.status_code == 303 and two.headers["location"].startswith("/login")


def test_authenticated_pages_and_files_are_not_cached(app):
    edu = signed_in(app, "edu")
    for path in ("/", f"/departments/{EDU}", "/notices", "/reports/monthly?month=2026-10&format=xlsx"):
        r = edu.get(path)
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store", path


def test_an_id_too_large_for_the_database_is_not_found(app, console_city):
    ops = signed_in(app, "ops")
    for path in ("/notices/99999999999999999999", "/notices/2147483648", "/notices/2147483648/pdf"):
        assert ops.get(path).status_code == 404, path
    r = ops.post("/exemptions/requests/99999999999999999999/decide",
                 data={"csrf": csrf_of(ops), "decision": "reject", "note": ""})
    assert r.status_code == 404


def test_a_note_the_size_of_a_file_is_refused(app, console_city):
    edu = signed_in(app, "edu")
    nid = ids(console_city, EDU)["notice"]
    r = edu.post(f"/notices/{nid}/ack", data={"csrf": csrf_of(edu, f"/notices/{nid}"), "note": "长" * 5000})
    assert r.status_code == 400 and "说明过长" in r.text


def test_signing_in_as_someone_else_ends_the_first_session(app):
    c = signed_in(app, "edu")
    first = c.cookies.get("rs_session") or next(v for k, v in c.cookies.items())
    csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)
    assert c.post("/login", data={"name": "czj", "password": PASSWORD, "csrf": csrf, "next": "/"}).status_code == 303
    stale = TestClient(app, client=("127.0.0.1", 50000), follow_redirects=False)
    stale.cookies.set("rs_session", first)
    assert stale.get("/notices").status_code == 303  # the department's session is over


def test_failed_logins_logouts_and_downloads_are_audited(app, console_city):
    import sqlalchemy as sa

    _, store, _, _ = console_city
    c = TestClient(app, client=("127.0.0.88", 1), follow_redirects=False)
    c.get("/login")
    assert c.post("/login", data={"name": "ops", "password": "not it at all", "csrf": c.cookies.get("rs_login")}
                  ).status_code == 401
    fin = signed_in(app, "czj")
    assert fin.get("/reports/monthly?month=2026-10&format=xlsx").status_code == 200
    assert fin.get("/reports/evaluation?year=2026&quarter=4&format=csv").status_code == 200
    edu = signed_in(app, "edu")
    nid = ids(console_city, EDU)["notice"]
    assert edu.get(f"/notices/{nid}/pdf").status_code == 200
    assert edu.post("/logout", data={"csrf": csrf_of(edu)}).status_code == 303
    with store.read() as conn:
        rows = conn.execute(sa.text("select actor, action, target from audit order by id desc limit 20")).all()
    got = {(a, act, t) for a, act, t in rows}
    assert ("ops", "login.failed", "from 127.0.0.88") in got
    assert ("czj", "download", "monthly 2026-10.xlsx") in got and ("czj", "download", "evaluation 2026Q4.csv") in got
    assert ("edu", "logout", "edu") in got
    assert any(a == "edu" and act == "download" and t.endswith(" pdf") for a, act, t in got)


def test_requests_through_the_proxy_without_a_cookie_share_one_sso_session(app, console_city):
    import sqlalchemy as sa

    _, store, _, _ = console_city

    def count() -> int:
        with store.read() as conn:
            return conn.execute(sa.text('select count(*) from web_sessions where "user" = \'health\' '
                                        "and via = 'sso'")).scalar()

    before = count()
    for _ in range(5):
        proxy = TestClient(app, client=("10.0.0.5", 40000), follow_redirects=False)
        assert proxy.get("/notices", headers={"X-Remote-User": "health"}).status_code == 200
    assert count() - before <= 1  # one session, however many requests come without its cookie


def test_a_slash_in_the_password_is_not_taken_for_a_bad_port(capsys):
    assert main(["store", "migrate", "--db", "postgresql+psycopg://rs:ab/cd-secret@127.0.0.1:1/rs"]) == 1
    err = capsys.readouterr().err
    assert "port is not a number" not in err and "secret" not in err and "Traceback" not in err


@pytest.mark.parametrize("name", ["核对https://evil.example/y", "WWW.EVIL.EXAMPLE", "[x](mailto:a@evil.example)",
                                  "<a href=//evil.example>点</a>", "![](http://evil.example/p.png)"])
def test_md_safe_leaves_no_link_for_a_robot_to_render(name):
    from rightsizer.format import md_safe

    out = md_safe(name)
    assert "://" not in out and "www." not in out.lower() and "](" not in out and "<a" not in out
    assert "mailto:" not in out.lower()
