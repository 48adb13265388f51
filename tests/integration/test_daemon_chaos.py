"""Chaos: the real daemon SIGKILLed 50 times at random moments while it issues notices and delivers them to
a real SMTP server (aiosmtpd) and a local webhook; then left to finish. ``bench/chaos_daemon.py`` is the
scenario (run it with more kills for docs/PERFORMANCE.md)."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench import chaos_daemon  # noqa: E402


def test_fifty_sigkills_lose_nothing_reuse_no_number_and_send_nothing_it_did_not_count(tmp_path):
    r = chaos_daemon.run(tmp_path / "chaos", kills=50, departments=16, seed=50)
    assert r["crashed"] == 0 and r["final_exit_status"] == 0, r
    assert r["notices"] == r["departments_with_one_notice"] == 16, r  # one notice per department, never two
    assert r["numbers_used_twice"] == 0, r
    assert r["notices_not_delivered"] == 0 and r["messages_dead"] == 0, r
    assert r["messages_queued"] == 32 and r["lost"] == 0, r  # each department's notice and the centre's copy
    # at least once: a copy more only where a kill fell between a send and its record, each one an attempt the
    # store counted before sending, with the same key (how many such kills there are is the dice's, not the code's)
    assert r["copies_beyond_attempts"] == 0 and r["duplicated"] <= r["kills"], r
    assert r["periods_completed_twice"] == 0, r
    assert r["tracebacks_in_log"] == 0, r
    assert r["drain_seconds"] is not None, r
