"""Relays, sweeps and evaluations side by side on one store (issue 9, points 7-9).

Each test reproduces what an unlucky operator met: overlapping relays sending twice,
attempts burned by claims, "database is locked" from a sweep that held the store while
rendering. Everything runs against a real SQLite file in WAL mode; the overlapping relays
also against a real PostgreSQL.
"""
from __future__ import annotations

import sqlite3
import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from notifiers.base import SendResult
from notifiers.render import render
from rightsizer.calendar import WorkCalendar
from rightsizer.cli import main
from rightsizer.db import Store, schema
from rightsizer.db import outbox as db_outbox
from rightsizer.errors import StoreError
from rightsizer.jobs import notices, relay

from helpers import AT
from test_outbox import EDU, HEALTH, LOW, Clock, Recorder, run, settings


def _issue_many(store, s, n_servers=30):
    """Notices for two departments, plus the centre's copies: 2 + 2 deliveries per... (see count)."""
    run(store, s, [(f"e{i}", EDU, LOW) for i in range(n_servers)] + [(f"h{i}", HEALTH, LOW) for i in range(n_servers)])
    notices.issue(store, s, AT)


def _deliveries(store):
    with store.read() as c:
        return c.execute(sa.select(schema.deliveries).order_by(schema.deliveries.c.id)).all()


def _many_deliveries(store, s, n=60):
    """``n`` pending alert deliveries (cheap rows: the relay treats them like any other)."""
    with store.begin() as c:
        for i in range(n):
            db_outbox.queue(c, None, "alert", "ops", f"alert:test-{i}:ops", f"alert {i}", {"text": str(i)}, AT)


# -- point 7: overlapping relays ------------------------------------------------------------------


def test_a_relay_that_stalls_past_its_lease_is_taken_over_and_sends_nothing_more(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'rs.db'}")
    s = settings()
    _many_deliveries(store, s, 60)
    clock = Clock(AT)
    sent_by = {"A": [], "B": []}

    class Stalling(Recorder):
        """Relay A's channel: its first send hangs past the lease, and relay B starts meanwhile."""

        def send(self, msg):
            sent_by["A"].append(msg.key)
            if len(sent_by["A"]) == 1:
                clock.t = AT + timedelta(seconds=s.notices.lease_seconds + 1)  # A's lease runs out
                b = Recorder("ops")
                report_b = relay.deliver(store, s, WorkCalendar(), clock, notifiers={"ops": b})
                sent_by["B"] += [m.key for m in b.sent]
                assert report_b.sent == 60  # B took over everything, including A's claimed batch
            return SendResult(True, detail="ok")

    report_a = relay.deliver(store, s, WorkCalendar(), clock, notifiers={"ops": Stalling("ops")})
    assert report_a.taken_over and report_a.sent == 0
    assert len(sent_by["A"]) == 1  # A sent nothing after it lost its claim
    # the only duplicate is the message in flight when A stalled; everything else went exactly once
    assert sorted(sent_by["B"]) == sorted(f"alert:test-{i}:ops" for i in range(60))
    rows = _deliveries(store)
    assert {r.status for r in rows} == {"sent"} and {r.claim_token for r in rows} == {""}


def test_two_relays_at_once_send_every_delivery_exactly_once(store_url):
    db = store_url  # SQLite's guarded update, PostgreSQL's FOR UPDATE SKIP LOCKED
    s = settings()
    store = Store.open(db)
    _many_deliveries(store, s, 200)
    got: list[str] = []
    lock = threading.Lock()

    class Slow(Recorder):
        def send(self, msg):
            time.sleep(0.002)  # long enough for the relays to interleave
            with lock:
                got.append(msg.key)
            return SendResult(True, detail="ok")

    errors = []

    def relay_run():
        try:
            relay.deliver(Store(db), s, WorkCalendar(), Clock(AT), notifiers={"ops": Slow("ops")}, limit=1000)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=relay_run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sorted(got) == sorted(f"alert:test-{i}:ops" for i in range(200))  # 0 lost, 0 duplicated


# -- point 8: an attempt counts when a send is tried ------------------------------------------------


def test_claims_by_killed_relays_burn_no_attempt(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'rs.db'}")
    s = settings()  # max_attempts = 3
    _many_deliveries(store, s, 50)
    t = AT
    for kill in range(5):  # five relays claim a batch each and die before sending
        with store.begin() as c:
            db_outbox.claim(c, t.timestamp(), s.notices.lease_seconds, 1000, f"dead-relay-{kill}")
        t += timedelta(seconds=s.notices.lease_seconds + 1)
    assert {r.attempts for r in _deliveries(store)} == {0}
    # then one transient failure each (an SMTP 451): retried, not dead-lettered
    flaky = Recorder("ops", [SendResult(False, True, "451 try again later")] * 50)
    rep = relay.deliver(store, s, WorkCalendar(), Clock(t), notifiers={"ops": flaky})
    assert rep.retried == 50 and rep.dead == 0
    assert {r.attempts for r in _deliveries(store)} == {1}
    rep = relay.deliver(store, s, WorkCalendar(), Clock(t + timedelta(hours=2)), notifiers={"ops": Recorder("ops")})
    assert rep.sent == 50


def test_a_rate_limit_deferral_is_not_an_attempt(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'rs.db'}")
    s = settings()
    _many_deliveries(store, s, 3)
    with store.begin() as c:
        (first,) = db_outbox.claim(c, AT.timestamp(), 300, 1, "t1")
        assert db_outbox.start_attempt(c, first.id, "t1", AT.timestamp() + 300)
        assert not db_outbox.start_attempt(c, first.id, "someone-else", AT.timestamp() + 300)
    assert [r.attempts for r in _deliveries(store)] == [1, 0, 0]


# -- point 9: no "database is locked" ---------------------------------------------------------------


def test_rendering_holds_no_lock_so_another_command_writes_meanwhile(tmp_path, monkeypatch):
    db = f"sqlite:///{tmp_path / 'rs.db'}"
    store = Store.open(db)
    s = settings()
    run(store, s, [(f"e{i}", EDU, LOW) for i in range(3)] + [(f"h{i}", HEALTH, LOW) for i in range(3)])
    other = Store(db, busy_seconds=0.2)  # would fail at once if the sweep held the write lock
    writes = []

    def slow_render(notice, follows, items, st):
        with other.begin() as c:  # e.g. an evaluate or a relay recording a result, mid-render
            db_outbox.queue(c, None, "alert", "ops", f"alert:during-{notice.number}:ops", "x", {"text": "x"}, AT)
        writes.append(notice.number)
        return render(notice, follows, items, st)

    monkeypatch.setattr("notifiers.render.render", slow_render)
    notices.sweep(store, s, WorkCalendar(), AT)
    assert len(writes) == 2


def test_a_command_waits_for_a_busy_store_then_goes_on(tmp_path, capsys, monkeypatch):
    from rightsizer.db import store as store_module
    from test_evaluate_cli import write_inputs

    inv, samples = write_inputs(tmp_path)
    db = tmp_path / "rs.db"
    assert main(["evaluate", "--inventory", str(inv), "--samples", str(samples), "--at", AT.isoformat(),
                 "--db", str(db)]) == 0
    holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # another process's long write transaction
    waits = []

    class Clock:  # the store's own clock, with its back-off seen: the other writer finishes while it waits
        monotonic = staticmethod(time.monotonic)

        @staticmethod
        def sleep(seconds):
            waits.append(seconds)
            if len(waits) == 1:
                holder.execute("COMMIT")

    monkeypatch.setattr(store_module, "time", Clock)
    assert main(["sweep", "--db", str(db), "--now", AT.isoformat()]) == 0  # waited, then worked
    assert waits and "issued" in capsys.readouterr().out  # it found the store busy, backed off, went on
    holder.close()


def test_a_store_busy_for_too_long_is_a_clear_message_and_nothing_half_done(tmp_path, capsys):
    from test_evaluate_cli import write_inputs

    inv, samples = write_inputs(tmp_path)
    db = tmp_path / "rs.db"
    cfg = tmp_path / "rs.toml"
    cfg.write_text("[store]\nbusy_seconds = 0.5\n", encoding="utf-8")
    common = ["--config", str(cfg), "--db", str(db)]
    assert main(["evaluate", "--inventory", str(inv), "--samples", str(samples), "--at", AT.isoformat(),
                 *common]) == 0
    before = Store(f"sqlite:///{db}").counts()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        assert main(["sweep", *common, "--now", AT.isoformat()]) == 1
        err = capsys.readouterr().err
        assert "the store is busy: another rightsizer command has held its write lock for more than 0.5 s" in err
        assert "Traceback" not in err
    finally:
        holder.execute("COMMIT")
        holder.close()
    assert Store(f"sqlite:///{db}").counts() == before
    with pytest.raises(StoreError):  # the job layer raises it; the CLI turns it into exit 1
        blocker = sqlite3.connect(db, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            with Store(f"sqlite:///{db}", busy_seconds=0.1).begin():
                pass
        finally:
            blocker.execute("COMMIT")
            blocker.close()


def test_drafts_of_a_command_that_stopped_before_rendering_are_rendered_by_the_next(tmp_path, monkeypatch):
    store = Store.open(f"sqlite:///{tmp_path / 'rs.db'}")
    s = settings()
    run(store, s, [("e1", EDU, LOW)])

    def killed(*a):
        raise SystemExit("killed while rendering")

    with monkeypatch.context() as m, pytest.raises(SystemExit):
        m.setattr("notifiers.render.render", killed)
        notices.sweep(store, s, WorkCalendar(), AT)
    assert {r.status for r in _deliveries(store)} == {"draft"}
    # an inventory-sync sweep (no new notices) finishes them as well
    notices.sweep(store, s, WorkCalendar(), AT, issue_new=False, deadlines=False)
    rows = _deliveries(store)
    assert {r.status for r in rows} == {"pending"} and all("〔2026〕1号" in r.subject for r in rows)
    rec = {n: Recorder(n) for n in ("edu-im", "centre", "ops")}
    assert relay.deliver(store, s, WorkCalendar(), Clock(AT), notifiers=rec).sent == 2


def test_a_v3_store_gains_claim_tokens_and_revocable_exemptions(tmp_path):
    import previous

    db = tmp_path / "rs.db"
    previous.make_store(previous.checkout(tmp_path / "prev"), f"sqlite:///{db}", tmp_path / "work")
    con = sqlite3.connect(db)
    con.execute("DROP INDEX deliveries_claim")
    con.execute("ALTER TABLE deliveries DROP COLUMN claim_token")  # as a store made before issue 9
    con.execute("ALTER TABLE exemptions DROP COLUMN revoked_at")  # and before issue 10
    con.execute("ALTER TABLE exemptions DROP COLUMN revoked_by")
    for table in ("job_runs", "finding_values", "users", "web_sessions", "api_tokens", "login_failures", "audit",
                  "exemption_requests", "item_answers"):  # nor the tables of issues 12-14
        con.execute(f"DROP TABLE {table}")
    con.execute("DELETE FROM schema_version WHERE version >= 4")
    con.commit()
    con.close()
    store = Store.open(f"sqlite:///{db}")
    from rightsizer.db import migrations
    assert store.version() == migrations.head()  # v4-v8 by their own steps, then Alembic
    with store.read() as c:
        assert "claim_token" in {col["name"] for col in sa.inspect(c).get_columns("deliveries")}
        assert {"revoked_at", "revoked_by"} <= {col["name"] for col in sa.inspect(c).get_columns("exemptions")}
