"""Lockout is no weapon (issue 24.4). Behind the centre's proxy (10.0.0.0/24 in [web] trusted_proxies) the browser's
address comes from X-Forwarded-For — from the proxy only: five bad sign-ins from one address lock out that
address for that account, not the clerk signing in from another; guesses at one account from many addresses are
slowed — each must wait 1, 2, 4 … seconds after the last (answered 429 at once: no thread sleeps), never a lock
for everyone; a name cannot forge another account's key; an operator lifts the limit; and an X-Forwarded-For
sent by anyone else is ignored. The console's clock is injected: waiting is moving it."""
from __future__ import annotations

from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from rightsizer.cli import main
from rightsizer.web.app import create_app

from webcity import NOW, PASSWORD

PROXY = ("10.0.0.5", 40000)


@pytest.fixture
def clock():
    return [NOW]


@pytest.fixture
def app(console_city, clock):
    settings, store, _, d = console_city
    yield create_app(settings, store, lambda: clock[0])
    for name in ("edu", "health", "czj"):  # the shared city's accounts, as the other tests expect them
        assert main(["users", "unlock", name, "--config", str(d / "rs.toml")]) == 0


def _login(app, password: str, forwarded: str | None, client=PROXY, name: str = "edu") -> int:
    c = TestClient(app, client=client, follow_redirects=False)
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    c.get("/login", headers=headers)
    return c.post("/login", headers=headers,
                  data={"name": name, "password": password, "csrf": c.cookies.get("rs_login")}).status_code


def test_an_attacker_behind_the_proxy_locks_out_only_himself(app, console_city, clock):
    settings, _, _, d = console_city
    attacker = "203.0.113.9"
    for _ in range(settings.web.login_max_failures):
        assert _login(app, "wrong guess", f"{attacker}, 10.0.0.7") == 401
    clock[0] += timedelta(seconds=5)
    assert _login(app, PASSWORD, attacker) == 429  # the attacker's address is limited for this account
    assert _login(app, PASSWORD, "198.51.100.7") == 303  # the clerk, from her own address, signs in


def test_a_name_cannot_forge_another_accounts_key(app, console_city, clock):
    settings, _, _, _ = console_city
    for k in range(settings.web.login_max_failures):  # names made to look like edu's keys: other accounts' keys
        assert _login(app, "wrong guess", f"198.51.100.{10 + k}", name="edu@198.51.100.30") == 401
        assert _login(app, "wrong guess", f"198.51.100.{20 + k}", name="198.51.100.30/edu") == 401
    assert _login(app, PASSWORD, "198.51.100.30") == 303  # edu, from that very address, is not limited


def test_guesses_from_many_addresses_are_slowed_more_each_time_and_an_operator_unlocks(app, console_city, clock):
    settings, _, _, d = console_city
    n = settings.web.login_max_failures
    for i in range(n):
        assert _login(app, "wrong guess", f"192.0.2.{i + 1}", name="health") == 401
    for k, wait in enumerate((1, 2, 4)):  # beyond the limit each try waits twice as long after the last one
        assert _login(app, "wrong guess", f"192.0.2.{50 + k}", name="health") == 429
        clock[0] += timedelta(seconds=wait - 0.5)
        assert _login(app, "wrong guess", f"192.0.2.{60 + k}", name="health") == 429  # not yet
        clock[0] += timedelta(seconds=0.5)
        assert _login(app, "wrong guess", f"192.0.2.{70 + k}", name="health") == 401  # its turn: checked
    assert _login(app, PASSWORD, "192.0.2.200", name="health") == 429  # even the right password must wait
    assert main(["users", "unlock", "health", "--config", str(d / "rs.toml")]) == 0
    assert _login(app, PASSWORD, "192.0.2.200", name="health") == 303


def test_x_forwarded_for_from_anyone_but_the_proxy_is_ignored(app, console_city):
    settings, _, _, _ = console_city
    outsider = ("198.18.0.9", 5000)
    for i in range(settings.web.login_max_failures):  # a different forged address every time: all one address
        assert _login(app, "wrong guess", f"192.0.2.{50 + i}", client=outsider, name="czj") == 401
    assert _login(app, PASSWORD, "192.0.2.99", client=outsider, name="czj") == 429
