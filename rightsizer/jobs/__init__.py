"""Units of work shared by the CLI, the daemon and the web console.

Each job is a function of ``(store, settings, calendar, now, …)`` that returns a small
result (a dataclass or the records of :mod:`rightsizer.records`) and raises the typed errors
of :mod:`rightsizer.errors`. No job prints, parses argv or reads the clock: the caller passes
``now`` (a relay, which runs for a while, takes a clock function); a test scans every module
here for a read of the clock.

* :mod:`.evaluate` — source → summaries → policies → store (the one orchestration of the CLI,
  the daemon and the demo);
* :mod:`.inventory` — an OpenStack or CSV inventory sync, then verification of open notices;
* :mod:`.notices` — issue notices for new findings; the sweep (resolve, verify, remind,
  overdue, escalate), with :mod:`.followup` (verification, reminders, escalation) and
  :mod:`.render` (a notice into its words and stored files);
* :mod:`.relay` — deliver what the outbox holds;
* :mod:`.actions` — every action on notices and exemptions, by a viewer, audited;
* :mod:`.views` — what a viewer may read, and the one view of a notice;
* :mod:`.reports` — finance's monthly report and the evaluation export, and sending them;
* :mod:`.accounts` — console accounts, sessions and API tokens.
"""
