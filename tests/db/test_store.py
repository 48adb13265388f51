import sqlite3
from dataclasses import replace

import pytest
import sqlalchemy as sa

from rightsizer.calendar import WorkCalendar
from rightsizer.db import Store
from rightsizer.db import inventory as db_inventory
from rightsizer.db import migrations
from rightsizer.db import runs as db_runs
from rightsizer.engine import Evaluation
from rightsizer.jobs.evaluate import record
from rightsizer.settings import Settings

from helpers import AT, make_server, make_summary


def _open(st):
    with st.read() as conn:
        return db_runs.open_findings(conn)


def _changes(st, server_id):
    with st.read() as conn:
        return db_inventory.changes(conn, server_id)


def _ev(cpu=10.0):
    servers = [make_server("a"), make_server("b", dept="市财政局")]
    sums = [make_summary("a", cpu=cpu), make_summary("b", cpu=50)]
    from policies import evaluate_server
    found = [f for s, u in zip(servers, sums) for f in evaluate_server(s, u, AT, Settings(), WorkCalendar())]
    return Evaluation(AT, servers, sums, found)


def test_sqlite_is_wal_and_versioned(tmp_path):
    db = tmp_path / "rs.db"
    st = Store(f"sqlite:///{db}")
    assert st.version() == 0  # opening a store migrates nothing: migrate() does, at start
    st.migrate()
    assert st.version() == len(migrations.MIGRATIONS)
    con = sqlite3.connect(db)
    assert con.execute("pragma journal_mode").fetchone()[0] == "wal"
    assert {r[0] for r in con.execute("select name from sqlite_master where type='table'")} >= {
        "schema_version", "departments", "systems", "servers", "runs", "summaries", "findings"}
    # Migrating again applies nothing twice.
    Store.open(f"sqlite:///{db}")
    assert con.execute("select count(*) from schema_version").fetchone()[0] == len(migrations.MIGRATIONS)


def test_a_new_migration_is_applied_once(tmp_path, monkeypatch):
    db = tmp_path / "rs.db"
    Store.open(f"sqlite:///{db}")
    calls = []

    def next_one(conn):
        calls.append(1)
        conn.execute(sa.text("create table extra (x integer)"))

    n = len(migrations.MIGRATIONS)
    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, next_one])
    assert Store.open(f"sqlite:///{db}").version() == n + 1
    assert Store.open(f"sqlite:///{db}").version() == n + 1
    assert calls == [1]


def test_same_run_twice_no_duplicates(tmp_path):
    st = Store.open(f"sqlite:///{tmp_path / 'rs.db'}")
    s = Settings()
    ev = _ev()
    record(st, ev, "test", "digest-1", s)
    first = st.counts()
    record(st, ev, "test", "digest-1", s)
    assert st.counts() == first
    assert first["runs"] == 1 and first["servers"] == 2 and first["departments"] == 2


def test_recurring_finding_keeps_one_row_and_gone_findings_close(tmp_path):
    st = Store.open(f"sqlite:///{tmp_path / 'rs.db'}")
    s = Settings()
    record(st, _ev(cpu=10), "test", "day-1", s)
    record(st, _ev(cpu=12), "test", "day-2", s)  # a new run, the same finding
    assert st.counts()["runs"] == 2
    open_ = _open(st)
    assert [(f["server_id"], f["kind"], f["dimension"]) for f in open_] == [("a", "shrink", "cpu")]
    assert open_[0]["observed"] == 12  # refreshed by the later run
    record(st, _ev(cpu=50), "test", "day-3", s)  # the server got busy: the finding went away
    assert _open(st) == []
    assert st.counts()["findings"] == 1


def test_inventory_changes_are_recorded(tmp_path):
    st = Store.open(f"sqlite:///{tmp_path / 'rs.db'}")
    ev = _ev()
    record(st, ev, "test", "day-1", Settings())
    smaller = replace(ev.servers[0], size=replace(ev.servers[0].size, vcpus=2))
    record(st, Evaluation(AT, [smaller, ev.servers[1]], ev.summaries, []), "test", "day-2", Settings())
    with st.engine.connect() as c:
        assert c.execute(sa.text("select vcpus from servers where server_id='a'")).scalar() == 2


def test_inventory_sync_detects_added_resized_removed_and_rolls_back_on_failure(tmp_path):
    from rightsizer.models import Size
    from rightsizer.db.inventory import Change

    def sync(source, at, inventory):
        with st.begin() as conn:
            return db_inventory.record_sync(conn, source, at, inventory)

    st = Store.open(f"sqlite:///{tmp_path / 'rs.db'}")
    a, b = make_server("a", vcpus=8, ram=16), make_server("b", vcpus=4, ram=8)
    first = sync("openstack:gov", AT, [(a, "s8.16g", "ACTIVE"), (b, "s4.8g", "ACTIVE")])
    assert {(c.server_id, c.change) for c in first} == {("a", "added"), ("b", "added")}
    assert sync("openstack:gov", AT, [(a, "s8.16g", "ACTIVE"), (b, "s4.8g", "ACTIVE")]) == []
    a2 = make_server("a", vcpus=4, ram=8)  # the department shrank it
    third = sync("openstack:gov", AT, [(a2, "s4.8g", "ACTIVE")])
    assert third == [Change("a", "resized", "s8.16g", "s4.8g", Size(8, 16.0, 200.0), Size(4, 8.0, 200.0)),
                     Change("b", "removed", "s4.8g", None, Size(4, 8.0, 200.0), None)]
    assert [c.change for c in _changes(st, "a")] == ["added", "resized"]
    # A sync that fails half-way records nothing, so no server looks removed or resized.
    before = st.counts()
    bad = make_server("c", dept=None)  # NOT NULL department: the insert fails
    with pytest.raises(sa.exc.IntegrityError):
        sync("openstack:gov", AT, [(a2, "s4.8g", "ACTIVE"), (bad, "x", "ACTIVE")])
    assert st.counts() == before


def test_notice_numbers_come_from_one_atomic_statement_and_a_rollback_gives_its_number_back(tmp_path):
    from rightsizer.db import notices as db_notices

    url = f"sqlite:///{tmp_path / 'rs.db'}"
    st, other = Store.open(url), Store(url)
    with st.begin() as conn:
        assert [db_notices.next_seq(conn, "平大数据调", 2026) for _ in range(3)] == [1, 2, 3]
    with pytest.raises(RuntimeError):
        with other.begin() as conn:  # a second engine on the same file, as another process would be
            assert db_notices.next_seq(conn, "平大数据调", 2026) == 4
            raise RuntimeError("the issue failed")
    with other.begin() as conn:
        assert db_notices.next_seq(conn, "平大数据调", 2026) == 4  # rolled back: 4 was never used
        assert db_notices.next_seq(conn, "平大数据调", 2027) == 1  # per year


def test_migration_7_gives_each_existing_finding_its_saving_and_a_later_change_adds_a_value(tmp_path):
    from datetime import timedelta

    db = tmp_path / "rs.db"
    st = Store.open(f"sqlite:///{db}")
    record(st, _ev(cpu=10.0), "t", "digest-1", Settings())
    con = sqlite3.connect(db)
    # a store made by the release of issue 12: version 6, no finding_values (nor the console's tables)
    for table in ("finding_values", "users", "web_sessions", "api_tokens", "login_failures", "audit",
                  "exemption_requests", "item_answers"):
        con.execute(f"drop table {table}")
    con.execute("delete from schema_version where version > 6")
    con.commit()
    assert Store.open(f"sqlite:///{db}").version() == len(migrations.MIGRATIONS) == 8
    want = con.execute("select id, first_run_id, monthly_saving_cny from findings order by id").fetchall()
    assert want and con.execute("select finding_id, run_id, monthly_saving_cny from finding_values "
                                "order by finding_id").fetchall() == want
    # a later run that prices a finding differently adds a value; one that does not, adds nothing
    later = replace(_ev(cpu=4.0), at=AT + timedelta(days=1))
    record(st, later, "t", "digest-2", Settings())
    changed = con.execute("select count(*) from finding_values v join findings f on f.id = v.finding_id "
                          "where v.run_id != f.first_run_id").fetchone()[0]
    assert changed > 0  # CPU 4 % asks for a smaller size than 10 %: a new saving
    again = replace(_ev(cpu=4.0), at=AT + timedelta(days=2))
    record(st, again, "t", "digest-3", Settings())
    assert con.execute("select count(*) from finding_values v join findings f on f.id = v.finding_id "
                       "where v.run_id != f.first_run_id").fetchone()[0] == changed
    savings = dict(con.execute("select id, monthly_saving_cny from findings where status = 'open'").fetchall())
    latest = dict(con.execute("select finding_id, monthly_saving_cny from finding_values v where run_id = "
                              "(select max(run_id) from finding_values w where w.finding_id = v.finding_id)"))
    assert {k: latest[k] for k in savings} == savings  # the newest value is the finding's own
