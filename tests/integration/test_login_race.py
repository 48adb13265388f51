"""The login limit holds against guesses sent at once (issue 24.3), over real HTTP to uvicorn, on SQLite and on
PostgreSQL: 30 wrong passwords, all in parallel, against a limit of 5 — at most 5 are checked (the attempt is
counted before the password is), every other one is refused as limited, and so is the right password after them;
no more than 5 attempts are recorded, and no more than two argon2 checks ever run at once (each takes 64 MiB)."""
from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from rightsizer.db import Store
from rightsizer.settings import load_settings

from helpers import with_stdin
from servers import uvicorn_serving

PASSWORD = "correct horse battery"


@pytest.fixture
def served(tmp_path, store_url):
    from rightsizer.web.app import create_app

    cfg = tmp_path / "rs.toml"
    cfg.write_text(f'[store]\nurl = "{store_url}"\n[web]\nlogin_max_failures = 5\nlogin_window_seconds = 900\n',
                   encoding="utf-8")
    assert with_stdin(PASSWORD + "\n", ["users", "add", "ops", "--role", "operator", "--config", str(cfg)]) == 0
    settings = load_settings(cfg)
    store = Store.open(settings.store.resolved_url())
    with uvicorn_serving(create_app(settings, store)) as base:
        yield base, store


def _attempt(base: str, password: str) -> int:
    with httpx.Client(base_url=base, follow_redirects=False, timeout=120) as c:
        csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)
        return c.post("/login", data={"name": "ops", "password": password, "csrf": csrf, "next": "/"}).status_code


def test_thirty_guesses_at_once_are_five_checks(served, monkeypatch):
    import sqlalchemy as sa
    from argon2 import PasswordHasher

    base, store = served
    running, most, lock = [0], [0], threading.Lock()
    real_verify, real_hash = PasswordHasher.verify, PasswordHasher.hash

    def counted(real):
        def call(self, *a, **kw):  # how many argon2 computations run at once (each takes 64 MiB)
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            try:
                return real(self, *a, **kw)
            finally:
                with lock:
                    running[0] -= 1
        return call

    monkeypatch.setattr(PasswordHasher, "verify", counted(real_verify))
    monkeypatch.setattr(PasswordHasher, "hash", counted(real_hash))
    guesses = [f"wrong guess {i:02d}" for i in range(30)]
    barrier = threading.Barrier(len(guesses))

    def go(pw: str) -> int:
        barrier.wait()  # all at once, as an attacker's script sends them
        return _attempt(base, pw)

    with ThreadPoolExecutor(len(guesses)) as pool:
        codes = list(pool.map(go, guesses))
    checked = [c for c in codes if c == 401]  # 401: the password was checked and wrong
    assert 1 <= len(checked) <= 5 and codes.count(429) == len(codes) - len(checked), codes
    assert _attempt(base, PASSWORD) == 429  # the right password, once the limit is reached, is refused as well
    with store.read() as conn:
        recorded = conn.execute(sa.text("select count(*) from login_failures where key = 'user:ops'")).scalar()
    assert recorded <= 5
    assert most[0] <= 2  # bounded, whatever arrives at once
