"""A long name never stops the city (issue 24.6). Nova allows 255 characters for a VM's name: such a name, and a
system and a department of 255 characters, go through ``inventory sync`` and ``evaluate`` into the store (on
SQLite and on PostgreSQL, where a 201-character name used to fail every run); a name longer than the store keeps
is an error naming its file, line and field, and nothing is written."""
from __future__ import annotations

import sqlalchemy as sa

from rightsizer.cli import main
from rightsizer.db import Store

from helpers import AT
from test_evaluate_cli import write_inputs

LONG = "很长的服务器名称" * 31 + "1234567"  # 255 characters


def test_names_of_255_characters_go_in_and_a_longer_one_is_refused_with_its_row(tmp_path, store_url, capsys):
    assert len(LONG) == 255
    inv, samples = write_inputs(tmp_path)
    rows = inv.read_text(encoding="utf-8").splitlines()
    rows[1] = f"idle-1,{LONG},{LONG[:250]}局,{LONG[:251]}系统,4,8,100,2025-01-10T09:00:00+08:00"
    inv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    common = ["--db", store_url]
    assert main(["inventory", "sync", "--csv", str(inv), "--now", AT.isoformat(), *common]) == 0
    assert main(["evaluate", "--inventory", str(inv), "--samples", str(samples), "--at", AT.isoformat(),
                 *common]) == 0
    with Store(store_url).read() as c:
        assert c.execute(sa.text("select name from servers where server_id = 'idle-1'")).scalar() == LONG
        assert c.execute(sa.text("select count(*) from findings where department = :d"),
                         {"d": LONG[:250] + "局"}).scalar() == 1
        runs = c.execute(sa.text("select count(*) from runs")).scalar()
    capsys.readouterr()
    rows[1] = rows[1].replace(LONG, LONG + "X", 1)
    inv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert main(["evaluate", "--inventory", str(inv), "--samples", str(samples), "--at", AT.isoformat(),
                 *common]) == 2
    assert f"{inv}:2: name: 256 characters, more than 255" in capsys.readouterr().err
    with Store(store_url).read() as c:
        assert c.execute(sa.text("select count(*) from runs")).scalar() == runs  # the store as it was
