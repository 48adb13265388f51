"""Upgrading a store made by the previous release (schema_version 8, times and money as text) with Alembic,
on SQLite (batch mode) and PostgreSQL: nothing lost, every time the same instant, every amount the same;
and a store of an even older release first takes its own steps."""
from __future__ import annotations

import base64
import json
import sqlite3
from datetime import datetime

import pytest
import sqlalchemy as sa

import previous
from rightsizer.db import Store, migrations
from rightsizer.db import documents as db_documents
from rightsizer.db import schema as t


@pytest.fixture(scope="module")
def old_code(tmp_path_factory):
    return previous.checkout(tmp_path_factory.mktemp("previous-release"))


def _raw(url: str) -> dict[str, list[tuple]]:
    """Every row of every table as the database holds it, through no type of ours."""
    eng = sa.create_engine(url)
    with eng.connect() as c:
        names = [n for n in sa.inspect(c).get_table_names() if n not in ("alembic_version",)]
        out = {n: [tuple(r) for r in c.execute(sa.text(f"select * from {n}")).all()] for n in names}
    eng.dispose()
    return out


def _instant(v):
    if v in (None, ""):
        return None
    return (v if isinstance(v, datetime) else datetime.fromisoformat(v)).timestamp()


FILES = ("pdf_b64", "pdf_name", "xlsx_b64", "xlsx_name")  # moved into notice_documents by r0011


def test_the_previous_releases_store_upgrades_without_loss(old_code, store_url, tmp_path):
    previous.make_store(old_code, store_url, tmp_path / "work")
    before = _raw(store_url)
    st = Store(store_url)
    assert st.version() == "legacy-8"
    assert before["notices"] and before["deliveries"] and before["notice_items"] and before["exemptions"]
    assert any(r for r in before["notice_items"] if "rectified" in r)  # the resize was verified by the old code
    assert st.migrate() == "r0015"
    after_raw = _raw(store_url)
    assert {n: len(rows) for n, rows in after_raw.items() if n in before} == \
        {n: len(rows) for n, rows in before.items()}  # every row is still there
    # every time is the same instant and every amount the same money, read through the new types
    typed = {type(c.type) for tbl in t.md.tables.values() for c in tbl.columns}
    assert {t.Instant, t.Money, t.Day} <= typed
    with st.read() as c:
        for table in t.md.sorted_tables:
            if table.name not in before or not before[table.name] or not table.primary_key.columns:
                continue
            cols = [col.name for col in table.columns]
            pk = [col.name for col in table.primary_key.columns]
            old = {tuple(r[cols.index(k)] for k in pk): dict(zip(cols, r)) for r in before[table.name]}
            for row in c.execute(sa.select(table)).mappings():
                was = old[tuple(row[k] for k in pk)]
                for col in table.columns:
                    new, then = row[col.name], was[col.name]
                    if isinstance(col.type, t.Instant):
                        assert _instant(new) == _instant(then), (table.name, col.name, then, new)
                    elif isinstance(col.type, t.Money):
                        assert (new is None and then in (None, "")) or float(new) == float(then)
                    elif isinstance(col.type, t.Day):
                        assert (new.isoformat() if new else None) == (then or None), (table.name, col.name)
                    elif (table.name, col.name) == ("deliveries", "body"):  # the files left the body, nothing else
                        old_body = json.loads(then)
                        assert json.loads(new) == {k: v for k, v in old_body.items() if k not in FILES}
                        if old_body.get("pdf_b64"):
                            (doc,) = [d for d in db_documents.of_delivery(c, row["id"]) if d.kind == "pdf"]
                            assert doc.content == base64.b64decode(old_body["pdf_b64"])
                            assert doc.name == old_body["pdf_name"] and doc.notice_id == row["notice_id"]
                    elif not isinstance(col.type, sa.Float):
                        assert new == then, (table.name, col.name)
    # the upgraded store goes on working: the old notices are listed and swept by today's code
    from rightsizer.cli import main

    assert main(["notices", "list", "--db", store_url, "--format", "json"]) == 0
    assert Store.open(store_url).version() == "r0015"


def test_a_store_of_the_release_of_issue_12_takes_its_own_steps_then_alembic(old_code, tmp_path):
    """Migration 7's promise still holds on the way up: each existing finding gets its saving as a value."""
    db = tmp_path / "rs.db"
    previous.make_store(old_code, f"sqlite:///{db}", tmp_path / "work")
    con = sqlite3.connect(db)
    for table in ("finding_values", "users", "web_sessions", "api_tokens", "login_failures", "audit",
                  "exemption_requests", "item_answers"):
        con.execute(f"drop table {table}")
    con.execute("delete from schema_version where version > 6")
    con.commit()
    assert Store(f"sqlite:///{db}").version() == "legacy-6"
    assert Store.open(f"sqlite:///{db}").version() == migrations.head()
    assert [v for v, in con.execute("select version from schema_version order by version")] == list(range(1, 9))
    want = con.execute("select id, first_run_id, monthly_saving_cny from findings order by id").fetchall()
    assert want and con.execute("select finding_id, run_id, monthly_saving_cny from finding_values "
                                "order by finding_id").fetchall() == want


def test_a_value_that_does_not_parse_stops_the_upgrade_and_leaves_the_store_as_it_was(old_code, store_url,
                                                                                       tmp_path):
    previous.make_store(old_code, store_url, tmp_path / "work")
    eng = sa.create_engine(store_url)
    with eng.begin() as c:
        c.execute(sa.text("update notice_events set at = 'the day after' where id = 1"))
    eng.dispose()
    before = _raw(store_url)
    with pytest.raises(Exception, match="the day after"):
        Store(store_url).migrate()
    assert _raw(store_url) == before and Store(store_url).version() == "legacy-8"
