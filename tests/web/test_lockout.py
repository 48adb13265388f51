"""Lockout is no weapon (issue 24.4). Behind the centre's proxy (10.0.0.0/24 in [web] trusted_proxies) the browser's
address comes from X-Forwarded-For — from the proxy only: five bad sign-ins from one address lock out that
address for that account, not the clerk signing in from another; guesses at one account from many addresses are
slowed, more with each (never a lock for everyone); an operator lifts the limit; and an X-Forwarded-For sent by
anyone else is ignored."""
from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from rightsizer.cli import main
from rightsizer.jobs import accounts
from rightsizer.web.app import create_app

from webcity import NOW, PASSWORD

PROXY = ("10.0.0.5", 40000)


@pytest.fixture
def app(console_city):
    settings, store, _, d = console_city
    yield create_app(settings, store, lambda: NOW)
    for name in ("edu", "health", "czj"):  # the shared city's accounts, as the other tests expect them
        assert main(["users", "unlock", name, "--config", str(d / "rs.toml")]) == 0


@pytest.fixture
def pauses(monkeypatch):
    waited: list[float] = []
    monkeypatch.setattr(accounts, "PAUSE", waited.append)
    return waited


def _login(app, password: str, forwarded: str | None, client=PROXY, name: str = "edu") -> int:
    c = TestClient(app, client=client, follow_redirects=False)
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    c.get("/login", headers=headers)
    return c.post("/login", headers=headers,
                  data={"name": name, "password": password, "csrf": c.cookies.get("rs_login")}).status_code


def test_an_attacker_behind_the_proxy_locks_out_only_himself(app, console_city, pauses):
    settings, _, _, d = console_city
    attacker = "203.0.113.9"
    for _ in range(settings.web.login_max_failures):
        assert _login(app, "wrong guess", f"{attacker}, 10.0.0.7") == 401
    assert _login(app, PASSWORD, attacker) == 429  # the attacker's address is limited for this account
    assert _login(app, PASSWORD, "198.51.100.7") == 303  # the clerk, from her own address, signs in
    assert pauses == [1.0]  # the account under attack is slowed (a second for her), never locked
    assert _login(app, PASSWORD, "198.51.100.7") == 303 and pauses == [1.0]  # signed in: the delay is over


def test_guesses_from_many_addresses_are_slowed_more_each_time_and_an_operator_unlocks(app, console_city, pauses):
    settings, _, _, d = console_city
    n = settings.web.login_max_failures
    for i in range(n + 3):
        assert _login(app, "wrong guess", f"192.0.2.{i + 1}", name="health") == 401
    assert pauses == [1.0, 2.0, 4.0]  # beyond the limit, each guess waits twice as long (at most 30 s)
    assert main(["users", "unlock", "health", "--config", str(d / "rs.toml")]) == 0
    pauses.clear()
    assert _login(app, PASSWORD, "192.0.2.200", name="health") == 303 and pauses == []


def test_x_forwarded_for_from_anyone_but_the_proxy_is_ignored(app, console_city, pauses):
    settings, _, _, _ = console_city
    outsider = ("198.18.0.9", 5000)
    for i in range(settings.web.login_max_failures):  # a different forged address every time: all one address
        assert _login(app, "wrong guess", f"192.0.2.{50 + i}", client=outsider, name="czj") == 401
    assert _login(app, PASSWORD, "192.0.2.99", client=outsider, name="czj") == 429
