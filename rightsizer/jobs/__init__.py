"""Units of work shared by the CLI, the daemon and the web console.

Each job is a function of ``(store, settings, calendar, now, …)`` that returns a small
result dataclass and raises the typed errors of :mod:`rightsizer.errors`. No job prints,
parses argv or reads the clock: the caller passes ``now`` (a relay, which runs for a
while, takes a clock function).

* :mod:`.evaluate` — source → summaries → policies → store;
* :mod:`.inventory` — an OpenStack inventory sync, then verification of open notices;
* :mod:`.notices` — issue notices for new findings; the sweep (resolve, verify, remind,
  overdue, escalate);
* :mod:`.relay` — deliver what the outbox holds;
* :mod:`.admin` — operators' actions (ack, withdraw, exempt) and the views they read.
"""
