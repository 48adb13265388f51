import sqlite3
from dataclasses import replace

import pytest
import sqlalchemy as sa

from rightsizer import store as store_mod
from rightsizer.calendar import WorkCalendar
from rightsizer.engine import Evaluation, record
from rightsizer.settings import Settings
from rightsizer.store import Store

from helpers import AT, make_server, make_summary


def _ev(cpu=10.0):
    servers = [make_server("a"), make_server("b", dept="市财政局")]
    sums = [make_summary("a", cpu=cpu), make_summary("b", cpu=50)]
    from policies import evaluate_server
    found = [f for s, u in zip(servers, sums) for f in evaluate_server(s, u, AT, Settings(), WorkCalendar())]
    return Evaluation(AT, servers, sums, found)


def test_sqlite_is_wal_and_versioned(tmp_path):
    db = tmp_path / "rs.db"
    st = Store(f"sqlite:///{db}")
    assert st.version() == len(store_mod.MIGRATIONS)
    con = sqlite3.connect(db)
    assert con.execute("pragma journal_mode").fetchone()[0] == "wal"
    assert {r[0] for r in con.execute("select name from sqlite_master where type='table'")} >= {
        "schema_version", "departments", "systems", "servers", "runs", "summaries", "findings"}
    # Opening again applies nothing twice.
    Store(f"sqlite:///{db}")
    assert con.execute("select count(*) from schema_version").fetchone()[0] == len(store_mod.MIGRATIONS)


def test_a_new_migration_is_applied_once(tmp_path, monkeypatch):
    db = tmp_path / "rs.db"
    Store(f"sqlite:///{db}")
    calls = []

    def next_one(conn):
        calls.append(1)
        conn.execute(sa.text("create table extra (x integer)"))

    n = len(store_mod.MIGRATIONS)
    monkeypatch.setattr(store_mod, "MIGRATIONS", [*store_mod.MIGRATIONS, next_one])
    assert Store(f"sqlite:///{db}").version() == n + 1
    assert Store(f"sqlite:///{db}").version() == n + 1
    assert calls == [1]


def test_same_run_twice_no_duplicates(tmp_path):
    st = Store(f"sqlite:///{tmp_path / 'rs.db'}")
    s = Settings()
    ev = _ev()
    record(st, ev, "test", "digest-1", s)
    first = st.counts()
    record(st, ev, "test", "digest-1", s)
    assert st.counts() == first
    assert first["runs"] == 1 and first["servers"] == 2 and first["departments"] == 2


def test_recurring_finding_keeps_one_row_and_gone_findings_close(tmp_path):
    st = Store(f"sqlite:///{tmp_path / 'rs.db'}")
    s = Settings()
    record(st, _ev(cpu=10), "test", "day-1", s)
    record(st, _ev(cpu=12), "test", "day-2", s)  # a new run, the same finding
    assert st.counts()["runs"] == 2
    open_ = st.open_findings()
    assert [(f["server_id"], f["kind"], f["dimension"]) for f in open_] == [("a", "shrink", "cpu")]
    assert open_[0]["observed"] == 12  # refreshed by the later run
    record(st, _ev(cpu=50), "test", "day-3", s)  # the server got busy: the finding went away
    assert st.open_findings() == []
    assert st.counts()["findings"] == 1


def test_inventory_changes_are_recorded(tmp_path):
    st = Store(f"sqlite:///{tmp_path / 'rs.db'}")
    ev = _ev()
    record(st, ev, "test", "day-1", Settings())
    smaller = replace(ev.servers[0], size=replace(ev.servers[0].size, vcpus=2))
    record(st, Evaluation(AT, [smaller, ev.servers[1]], ev.summaries, []), "test", "day-2", Settings())
    with st.engine.connect() as c:
        assert c.execute(sa.text("select vcpus from servers where server_id='a'")).scalar() == 2


def test_inventory_sync_detects_added_resized_removed_and_rolls_back_on_failure(tmp_path):
    from rightsizer.models import Size
    from rightsizer.store import Change

    st = Store(f"sqlite:///{tmp_path / 'rs.db'}")
    a, b = make_server("a", vcpus=8, ram=16), make_server("b", vcpus=4, ram=8)
    first = st.sync_inventory("openstack:gov", AT, [(a, "s8.16g", "ACTIVE"), (b, "s4.8g", "ACTIVE")])
    assert {(c.server_id, c.change) for c in first} == {("a", "added"), ("b", "added")}
    assert st.sync_inventory("openstack:gov", AT, [(a, "s8.16g", "ACTIVE"), (b, "s4.8g", "ACTIVE")]) == []
    a2 = make_server("a", vcpus=4, ram=8)  # the department shrank it
    third = st.sync_inventory("openstack:gov", AT, [(a2, "s4.8g", "ACTIVE")])
    assert third == [Change("a", "resized", "s8.16g", "s4.8g", Size(8, 16.0, 200.0), Size(4, 8.0, 200.0)),
                     Change("b", "removed", "s4.8g", None, Size(4, 8.0, 200.0), None)]
    assert [c.change for c in st.changes("a")] == ["added", "resized"]
    # A sync that fails half-way records nothing, so no server looks removed or resized.
    before = st.counts()
    bad = make_server("c", dept=None)  # NOT NULL department: the insert fails
    with pytest.raises(sa.exc.IntegrityError):
        st.sync_inventory("openstack:gov", AT, [(a2, "s4.8g", "ACTIVE"), (bad, "x", "ACTIVE")])
    assert st.counts() == before
