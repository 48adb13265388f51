"""Active/standby on a real PostgreSQL: two daemons issuing and delivering to a real aiosmtpd and a webhook;
the leader SIGKILLed, then (the next leader) its leader connection cut in PostgreSQL. ``bench/failover.py``
is the scenario (more rounds for docs/PERFORMANCE.md)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench import failover  # noqa: E402
from rightsizer.db import Store  # noqa: E402
from rightsizer.db import leader  # noqa: E402
from rightsizer.db.schema import departments  # noqa: E402


def test_the_standby_takes_over_after_a_kill_and_a_cut_and_nothing_is_lost_or_sent_twice_more(tmp_path):
    r = failover.run(tmp_path / "failover", rounds=2, departments=12, seed=7)
    assert r["modes"] == ["kill", "cut"], r
    assert r["max_takeover_seconds"] <= 30, r
    assert r["fallen_leader_exit_status"] == [-9, 1], r  # a cut leader notices it lost the lock and stops
    assert r["final_exit_status"] == [0, 0], r
    assert r["notices"] == r["departments_with_one_notice"] == 12, r
    assert r["numbers_used_twice"] == 0 and r["notices_not_delivered"] == 0 and r["messages_dead"] == 0, r
    assert r["messages_queued"] == 24 and r["lost"] == 0 and r["max_copies"] <= 2, r
    assert r["tracebacks_in_log"] == 0, r


def test_an_old_leader_writes_nothing_once_a_new_one_raised_the_epoch(pg_cluster):
    url = pg_cluster.fresh()
    old, new = Store.open(url), Store(url)
    a, b = leader.Lock(url), leader.Lock(url)
    try:
        assert a.try_acquire() and not b.try_acquire()  # one leader at a time
        with old.begin() as c:
            old.epoch = leader.raise_epoch(c, "old:1")
        with old.begin() as c:  # the leader writes while its epoch is current
            c.execute(departments.insert().values(name="市档案馆"))
        a.close()  # its session ends (a crash, a cut): PostgreSQL frees the lock
        assert b.try_acquire() and b.held()
        with new.begin() as c:
            new.epoch = leader.raise_epoch(c, "new:2")
        assert new.epoch == old.epoch + 1
        with pytest.raises(leader.Fenced, match="no longer the leader"):
            with old.begin() as c:
                c.execute(departments.insert().values(name="市财政局"))
        with new.begin() as c:
            c.execute(departments.insert().values(name="市教育和体育局"))
        with new.read() as c:
            assert set(c.execute(sa.select(departments.c.name)).scalars()) == {"市档案馆", "市教育和体育局"}
            assert leader.current(c).holder == "new:2"
        assert not a.held()
    finally:
        a.close()
        b.close()


def test_two_relay_processes_on_postgresql_never_send_one_delivery_at_the_same_time(pg_cluster, tmp_path):
    """Two `rightsizer deliver` processes on one PostgreSQL store, a webhook that takes 20 ms per message and
    records when each arrived and finished: every delivery sent once, no two sends of one at once."""
    import subprocess
    from datetime import datetime, timedelta, timezone

    from rightsizer.db import outbox

    url = pg_cluster.fresh()
    store = Store.open(url)
    at = datetime(2026, 10, 9, 9, tzinfo=timezone(timedelta(hours=8)))
    with store.begin() as c:
        for i in range(120):
            outbox.queue(c, None, "alert", "ops", f"alert:relay-{i}:ops", f"alert {i}", {"text": str(i)}, at)
    from bench.chaos import Receiver

    hook = Receiver(delay=0.02)  # 20 ms a message; records when each arrived and was answered
    cfg = tmp_path / "rs.toml"
    cfg.write_text(f'[notices]\noperator_channels = ["ops"]\nlease_seconds = 60\n'
                   f'[[notifiers]]\nname = "ops"\ntype = "webhook"\nurl = "http://127.0.0.1:{hook.port}/ops"\n',
                   encoding="utf-8")
    from daemonproc import RIGHTSIZER

    try:
        procs = [subprocess.Popen([RIGHTSIZER, "deliver", "--config", str(cfg), "--db", url, "--now",
                                   (at + timedelta(minutes=1)).isoformat()], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outs = [p.communicate(timeout=120) for p in procs]
    finally:
        hook.server.shutdown()
    spans = hook.spans
    assert [p.returncode for p in procs] == [0, 0], outs
    keys = sorted(k for k, _, _ in spans)
    assert keys == sorted(f"alert:relay-{i}:ops" for i in range(120))  # each once: none lost, none twice
    by_relay = [int(o.split("sent ")[1].split(",")[0]) for o, _ in outs]
    assert sum(by_relay) == 120 and min(by_relay) > 0, outs  # both relays worked, side by side


def test_status_and_metrics_say_leader_or_standby(pg_cluster, tmp_path):
    import urllib.request
    from datetime import datetime

    from daemonproc import WORKDAY, DaemonProc, NotifySocket, wait_until
    from rightsizer import demo
    from rightsizer.jobs.evaluate import window_end
    from rightsizer.settings import Settings

    s = Settings()
    depts = demo.write_city(tmp_path, 12, 7, window_end(datetime.fromisoformat(WORKDAY), s), departments=2)
    routing = '[[notifiers]]\nname = "im"\ntype = "console"\n' + "".join(
        f'[departments."{d}"]\nchannels = ["im"]\n' for d in depts)
    config = demo.daemon_config(tmp_path, routing, store_url=pg_cluster.fresh())
    socks = [NotifySocket(tmp_path / f"notify-{i}") for i in range(2)]
    first = DaemonProc(config, tmp_path / "a.log", socks[0])
    try:
        socks[0].wait_for(r"READY=1")
        second = DaemonProc(config, tmp_path / "b.log", socks[1])
        socks[1].wait_for(r"READY=1")
        assert any("leader (epoch 1)" in m for m in socks[0].all()), socks[0].all()
        assert any("STATUS=standby" in m for m in socks[1].all()), socks[1].all()

        def metric(d: DaemonProc, name: str) -> float:
            with urllib.request.urlopen(f"http://127.0.0.1:{d.port()}/metrics", timeout=5) as r:
                line = next(x for x in r.read().decode().splitlines() if x.startswith(name + " "))
            return float(line.split()[1])

        assert (metric(first, "rightsizer_leader"), metric(second, "rightsizer_leader")) == (1, 0)
        with urllib.request.urlopen(f"http://127.0.0.1:{second.port()}/healthz", timeout=5) as r:
            assert r.status == 200 and b"standby" in r.read()  # a waiting standby is healthy (no watchdog kill)
        assert first.stop() == 0  # a clean stop frees the lock at once
        i = socks[1].wait_for(r"took over, leader \(epoch 2\)", timeout=30)
        assert i > 0
        wait_until(lambda: metric(second, "rightsizer_leader") == 1, 10, "the new leader's gauge")
        assert metric(second, "rightsizer_leader_epoch") == 2
        assert second.stop() == 0
    finally:
        for d in ("first", "second"):
            if d in locals():
                locals()[d].kill()
        for sock in socks:
            sock.close()
