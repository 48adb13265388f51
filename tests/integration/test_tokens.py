"""A leaked token can be stopped (issue 24.7), over real HTTP to uvicorn: ``tokens list`` shows each token's name,
role, department, creation, last use and expiry — never its secret; ``tokens revoke`` stops one at once; a token
past its ``--expires`` day stops by itself; one made ``--user`` for an account dies with ``users disable``."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from rightsizer.cli import main
from rightsizer.db import Store
from rightsizer.settings import load_settings

from helpers import with_stdin
from servers import uvicorn_serving

TZ = ZoneInfo("Asia/Shanghai")
PASSWORD = "correct horse battery"


@pytest.fixture
def api(tmp_path):
    from rightsizer.web.app import create_app

    cfg = tmp_path / "rs.toml"
    cfg.write_text(f'[store]\nstate_dir = "{tmp_path}"\n', encoding="utf-8")
    common = ["--config", str(cfg)]
    assert with_stdin(PASSWORD + "\n", ["users", "add", "clerk", "--role", "department", "--department", "市档案馆",
                                         *common]) == 0
    clock = [datetime(2026, 12, 1, 9, tzinfo=TZ)]
    settings = load_settings(cfg)
    app = create_app(settings, Store.open(settings.store.resolved_url()), lambda: clock[0])
    with uvicorn_serving(app) as base:
        yield base, common, clock


def _token(capsys, *argv) -> str:
    capsys.readouterr()
    assert main(["tokens", "add", *argv]) == 0
    return capsys.readouterr().out.strip()


def test_list_revoke_expire_and_die_with_the_account(api, capsys):
    base, common, clock = api
    ops = _token(capsys, "ops-api", "--role", "operator", *common, "--now", "2026-12-01T09:00:00+08:00")
    short = _token(capsys, "short-api", "--role", "finance", "--expires", "2026-12-02", *common,
                   "--now", "2026-12-01T09:00:00+08:00")
    clerk = _token(capsys, "clerk-api", "--user", "clerk", *common)

    def status(token: str) -> int:  # 401: the token does not work; else it does (finance may not read notices: 403)
        return httpx.get(f"{base}/api/v1/notices", headers={"Authorization": f"Bearer {token}"}).status_code

    assert status(ops) == status(clerk) == 200 and status(short) == 403
    assert main(["tokens", "list", *common, "--now", "2026-12-01T10:00:00+08:00"]) == 0
    listed = capsys.readouterr().out
    for t in (ops, short, clerk):
        assert t not in listed  # never the secret
    assert "clerk-api" in listed and "市档案馆" in listed and "2026-12-02" in listed and "active" in listed
    assert "2026-12-01 09:00" in listed  # last used (the API's clock)
    assert main(["tokens", "revoke", "ops-api", *common]) == 0
    assert status(ops) == 401 and status(short) == 403
    clock[0] = datetime(2026, 12, 3, 9, tzinfo=TZ)  # the day after its last day
    assert status(short) == 401
    assert main(["users", "disable", "clerk", *common]) == 0
    assert status(clerk) == 401
    capsys.readouterr()
    assert main(["tokens", "list", *common, "--now", "2026-12-03T09:00:00+08:00"]) == 0
    states = {line.split()[0]: line.split()[-1] for line in capsys.readouterr().out.splitlines()[2:]}
    assert states == {"clerk-api": "revoked", "ops-api": "revoked", "short-api": "expired"}
    assert main(["tokens", "revoke", "nobody", *common]) == 2


def test_the_console_lists_and_revokes_tokens_for_operators_only(api, capsys):
    import re

    base, common, _ = api
    assert with_stdin(PASSWORD + "\n", ["users", "add", "ops", "--role", "operator", *common]) == 0
    token = _token(capsys, "pull-api", "--role", "finance", *common)

    def signed_in(name: str) -> httpx.Client:
        c = httpx.Client(base_url=base, follow_redirects=False)
        csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)
        assert c.post("/login", data={"name": name, "password": PASSWORD, "csrf": csrf, "next": "/"}).status_code == 303
        return c

    clerk = signed_in("clerk")
    assert clerk.get("/tokens").status_code == 403
    clerk.close()
    ops = signed_in("ops")
    page = ops.get("/tokens").text
    assert "pull-api" in page and token not in page and "有效" in page
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assert ops.post("/tokens/revoke", data={"csrf": "forged", "name": "pull-api"}).status_code == 403
    assert ops.post("/tokens/revoke", data={"csrf": csrf, "name": "pull-api"}).status_code == 303
    assert "已撤销" in ops.get("/tokens").text
    ops.close()
    assert httpx.get(f"{base}/api/v1/notices", headers={"Authorization": f"Bearer {token}"}).status_code == 401
