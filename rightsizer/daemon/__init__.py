"""``rightsizer daemon``: the whole job on its own schedule, under systemd.

Start: read and check the configuration completely (secrets included), migrate the store,
bind ``/metrics``, schedule the jobs of ``[schedule]`` (APScheduler 3, in memory), tell
systemd ``READY=1``, then run once each job whose latest period is not done (catch-up).

* ``WATCHDOG=1`` is sent only while the scheduler's heartbeat is fresh and the store
  answers, so a hung scheduler or a lost store gets the service restarted.
* ``STATUS=`` says the last run and the next.
* SIGHUP: ``RELOADING=1`` (with ``MONOTONIC_USEC``), the new file parsed and checked
  whole, then swapped in at once and the jobs rebuilt — or, on any error, the error logged
  with its key path, the old configuration kept, ``rightsizer_config_last_reload_successful 0``;
  then ``READY=1``. ``[store]`` and ``[daemon] listen`` take effect at restart.
* SIGTERM/SIGINT: ``STOPPING=1``; no new run starts; the relay finishes the send in flight
  and gives its other claims back; a running job gets ``[daemon] stop_seconds`` to finish.
  A job still running then is abandoned: its writes are transactions and its period,
  not recorded as done, runs again at the next start. Exit 0.

Logs go to stderr, one line per event: level, job, notice number, message (journald adds
the time; under journald each line carries its syslog priority). Never a secret.
"""

from __future__ import annotations

from .log import OneLine
from .service import Daemon, run

__all__ = ["Daemon", "OneLine", "run"]
