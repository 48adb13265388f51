import sqlite3
from datetime import datetime, timedelta, timezone
from decimal import Decimal
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
        return db_inventory.changes_since(conn, server_id, datetime(2000, 1, 1, tzinfo=timezone.utc))


def _ev(cpu=10.0):
    servers = [make_server("a"), make_server("b", dept="市财政局")]
    sums = [make_summary("a", cpu=cpu), make_summary("b", cpu=50)]
    from policies import evaluate_server
    found = [f for s, u in zip(servers, sums) for f in evaluate_server(s, u, AT, Settings(), WorkCalendar())]
    return Evaluation(AT, servers, sums, found)


def test_a_new_store_is_created_at_the_head_and_migrating_again_changes_nothing(store_url):
    st = Store(store_url)
    assert st.version() is None  # opening a store migrates nothing: migrate() does, at start
    assert st.migrate() == migrations.head() == "r0015"
    with st.read() as c:
        tables = set(sa.inspect(c).get_table_names())
        assert c.execute(sa.text("select version_num from alembic_version")).scalars().all() == [migrations.head()]
    assert tables >= {"alembic_version", "departments", "servers", "runs", "findings", "notices", "deliveries",
                      "leader"} and "schema_version" not in tables  # a new store has no pre-Alembic record
    assert Store.open(store_url).version() == migrations.head()


def test_sqlite_is_wal(tmp_path):
    db = tmp_path / "rs.db"
    Store.open(f"sqlite:///{db}")
    assert sqlite3.connect(db).execute("pragma journal_mode").fetchone()[0] == "wal"


def test_times_are_instants_and_money_is_numeric(store_url):
    """The database orders times as instants whatever offset they were written with; money stays exact."""
    from rightsizer.db.schema import findings, inventory_syncs, runs

    st = Store.open(store_url)
    with st.begin() as c:
        for i, at in enumerate(("2026-10-08T09:00:00+08:00", "2026-10-08T02:00:00+00:00",
                                "2026-10-08T08:30:00+08:00")):
            c.execute(inventory_syncs.insert().values(source=f"s{i}", at=at, servers=0, added=0, removed=0,
                                                      resized=0))
        order = c.execute(sa.select(inventory_syncs.c.source).order_by(inventory_syncs.c.at)).scalars().all()
        # 00:30 UTC, 01:00 UTC, 02:00 UTC — as text the +00:00 one would sort first
        assert order == ["s2", "s0", "s1"]
        back = c.execute(sa.select(inventory_syncs.c.at).where(inventory_syncs.c.source == "s1")).scalar()
        assert back == datetime(2026, 10, 8, 2, tzinfo=timezone.utc) and back.tzinfo is not None  # an aware instant
        late = c.execute(sa.select(sa.func.count()).select_from(inventory_syncs)
                         .where(inventory_syncs.c.at > "2026-10-08T00:45:00+00:00")).scalar()
        assert late == 2
        with pytest.raises(sa.exc.StatementError, match="naive"):
            c.execute(inventory_syncs.insert().values(source="x", at="2026-10-08T09:00:00", servers=0, added=0,
                                                      removed=0, resized=0))
    record(st, _ev(cpu=10.0), "t", "digest-1", Settings())
    with st.read() as c:
        kinds = {col["name"]: col["type"] for col in sa.inspect(c).get_columns("findings")}
        saving = c.execute(sa.select(findings.c.monthly_saving_cny)).scalars().first()
        run_at = c.execute(sa.select(runs.c.at)).scalar()
    assert isinstance(saving, Decimal) and saving.as_tuple().exponent == -2  # exact, two places, never a float
    assert run_at == AT and run_at.utcoffset() == timedelta(0)  # the same instant, read back in UTC
    if st.engine.dialect.name == "postgresql":
        assert isinstance(kinds["monthly_saving_cny"], sa.Numeric) and kinds["monthly_saving_cny"].scale == 2
        with st.read() as c:
            assert c.execute(sa.text("select data_type from information_schema.columns where table_name = 'runs' "
                                     "and column_name = 'at'")).scalar() == "timestamp with time zone"


def test_same_run_twice_no_duplicates(store_url):
    st = Store.open(store_url)
    s = Settings()
    ev = _ev()
    record(st, ev, "test", "digest-1", s)
    first = st.counts()
    record(st, ev, "test", "digest-1", s)
    assert st.counts() == first
    assert first["runs"] == 1 and first["servers"] == 2 and first["departments"] == 2


def test_recurring_finding_keeps_one_row_and_gone_findings_close(store_url):
    st = Store.open(store_url)
    s = Settings()
    record(st, _ev(cpu=10), "test", "day-1", s)
    record(st, _ev(cpu=12), "test", "day-2", s)  # a new run, the same finding
    assert st.counts()["runs"] == 2
    open_ = _open(st)
    assert [(f.server_id, f.kind, f.dimension) for f in open_] == [("a", "shrink", "cpu")]
    assert open_[0].observed == 12  # refreshed by the later run
    record(st, _ev(cpu=50), "test", "day-3", s)  # the server got busy: the finding went away
    assert _open(st) == []
    assert st.counts()["findings"] == 1


def test_a_saving_that_did_not_change_is_not_recorded_again(store_url):
    """Each finding's saving over time has a row per change, not per run (the store gives Decimal, the run
    computes text: they are compared as money)."""
    from rightsizer.db.schema import finding_values

    st = Store.open(store_url)
    for day in ("day-1", "day-2", "day-3"):
        record(st, _ev(cpu=10), "test", day, Settings())
    with st.read() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(finding_values)).scalar() == 1


def test_inventory_changes_are_recorded(store_url):
    st = Store.open(store_url)
    ev = _ev()
    record(st, ev, "test", "day-1", Settings())
    smaller = replace(ev.servers[0], size=replace(ev.servers[0].size, vcpus=2))
    record(st, Evaluation(AT, [smaller, ev.servers[1]], ev.summaries, []), "test", "day-2", Settings())
    with st.engine.connect() as c:
        assert c.execute(sa.text("select vcpus from servers where server_id='a'")).scalar() == 2


def test_inventory_sync_detects_added_resized_removed_and_rolls_back_on_failure(store_url):
    from rightsizer.models import Size
    from rightsizer.records import InventoryChange as Change

    def sync(source, at, inventory):
        with st.begin() as conn:
            return db_inventory.record_sync(conn, source, at, inventory)

    st = Store.open(store_url)
    a, b = make_server("a", vcpus=8, ram=16), make_server("b", vcpus=4, ram=8)
    first = sync("openstack:gov", AT, [(a, "s8.16g", "ACTIVE"), (b, "s4.8g", "ACTIVE")])
    assert {(c.server_id, c.change) for c in first} == {("a", "added"), ("b", "added")}
    assert sync("openstack:gov", AT, [(a, "s8.16g", "ACTIVE"), (b, "s4.8g", "ACTIVE")]) == []
    a2 = make_server("a", vcpus=4, ram=8)  # the department shrank it
    third = sync("openstack:gov", AT, [(a2, "s4.8g", "ACTIVE")])
    assert third == [Change("a", "resized", "s8.16g", "s4.8g", Size(8, 16.0, 200.0), Size(4, 8.0, 200.0), AT),
                     Change("b", "removed", "s4.8g", None, Size(4, 8.0, 200.0), None, AT)]
    assert [c.change for c in _changes(st, "a")] == ["added", "resized"]
    # A sync that fails half-way records nothing, so no server looks removed or resized.
    before = st.counts()
    bad = make_server("c", dept=None)  # NOT NULL department: the insert fails
    with pytest.raises(sa.exc.IntegrityError):
        sync("openstack:gov", AT, [(a2, "s4.8g", "ACTIVE"), (bad, "x", "ACTIVE")])
    assert st.counts() == before


def test_notice_numbers_come_from_one_atomic_statement_and_a_rollback_gives_its_number_back(store_url):
    from rightsizer.db import notices as db_notices

    st, other = Store.open(store_url), Store(store_url)
    with st.begin() as conn:
        assert [db_notices.next_seq(conn, "平大数据调", 2026) for _ in range(3)] == [1, 2, 3]
    with pytest.raises(RuntimeError):
        with other.begin() as conn:  # a second engine on the same file, as another process would be
            assert db_notices.next_seq(conn, "平大数据调", 2026) == 4
            raise RuntimeError("the issue failed")
    with other.begin() as conn:
        assert db_notices.next_seq(conn, "平大数据调", 2026) == 4  # rolled back: 4 was never used
        assert db_notices.next_seq(conn, "平大数据调", 2027) == 1  # per year


