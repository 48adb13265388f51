"""A system exemption is one department's (issue 24.5). Two departments each have a system named 门户网站:
``notices exempt --system 门户网站`` is refused with both named; with ``--department`` it holds for that
department's system only — the other department's idle portal still gets its notice — and only that department
sees it on its 豁免 page (and on its server's page)."""
from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from rightsizer.cli import main
from rightsizer.db import Store
from rightsizer.settings import load_settings
from rightsizer.web.app import create_app

from helpers import AT, notices_of, twin_server
from test_evaluate_cli import write_inputs
from webcity import PASSWORD, _with_stdin

ARCHIVE, EDU = "市档案馆", "市教育和体育局"


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    d = tmp_path_factory.mktemp("system-exemption")
    inv, samples = write_inputs(d)
    twin_server(inv, samples, f"idle-2,旧门户,{EDU},门户网站,4,8,100,2025-01-10T09:00:00+08:00", like="idle-1")
    cfg = d / "rs.toml"
    cfg.write_text(f'[store]\nstate_dir = "{d}"\n[[notifiers]]\nname = "console"\ntype = "console"\n'
                   + "".join(f'[departments."{x}"]\nchannels = ["console"]\n' for x in (ARCHIVE, EDU)), encoding="utf-8")
    common = ["--config", str(cfg)]
    assert main(["evaluate", "--inventory", str(inv), "--samples", str(samples), "--at", AT.isoformat(), *common]) == 0
    for name, dept in (("arch", ARCHIVE), ("edu", EDU)):
        assert _with_stdin(PASSWORD + "\n", ["users", "add", name, "--role", "department", "--department", dept,
                                             *common]) == 0
    return cfg, common


def test_an_ambiguous_system_is_refused_and_a_named_one_holds_for_its_department_only(city, capsys):
    cfg, common = city
    exempt = ["notices", "exempt", "--system", "门户网站", "--reason", "灾备演练期间保留", "--approver", "中心 王五",
              "--until", "2026-12-31", "--now", "2026-11-21T09:00:00+08:00", *common]
    capsys.readouterr()
    assert main(exempt) == 2
    err = capsys.readouterr().err
    assert "有 2 个部门都有" in err and ARCHIVE in err and EDU in err and "--department" in err
    assert main([*exempt, "--department", ARCHIVE]) == 0
    assert main(["sweep", "--now", "2026-11-23T09:00:00+08:00", *common]) == 0
    settings = load_settings(cfg)
    store = Store.open(settings.store.resolved_url())
    items = {it.server_id for n in notices_of(store) for it in _items(store, n.id)}
    assert "idle-2" in items and "idle-1" not in items  # the education bureau's portal is told; the archive's not

    app = create_app(settings, store, lambda: AT.replace(day=24))
    for user, sees in (("arch", True), ("edu", False)):
        c = TestClient(app, client=("127.0.0.1", 50000), follow_redirects=False)
        csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)
        assert c.post("/login", data={"name": user, "password": PASSWORD, "csrf": csrf, "next": "/"}).status_code == 303
        page = c.get("/exemptions").text
        assert ("灾备演练期间保留" in page) is sees, user
        sid = "idle-1" if user == "arch" else "idle-2"
        state = re.search(r'<p id="server-state"[^>]*>(.*?)</p>', c.get(f"/servers/{sid}").text, re.S).group(1)
        assert ("已豁免" in state) is sees, (user, state)


def _items(store, notice_id):
    from rightsizer.db import notices as db_notices

    with store.read() as conn:
        return db_notices.items(conn, notice_id)
