"""Every table of the store, on one ``MetaData``.

Times are :class:`~.types.Instant` (``timestamp with time zone`` on PostgreSQL, fixed-width
UTC on SQLite), money :class:`~.types.Money` (``NUMERIC(14,2)``), dates :class:`~.types.Day`;
epoch-second floats stay where the relay and the console count seconds. A change here needs
an Alembic revision in ``rightsizer/db/revisions/versions`` (the newest: ``r0011``, a notice's
files in ``notice_documents``).
"""

from __future__ import annotations

import sqlalchemy as sa

from .types import Day, Instant, Money

md = sa.MetaData()

schema_version = sa.Table("schema_version", md, sa.Column("version", sa.Integer, nullable=False))

departments = sa.Table(
    "departments", md,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
)

systems = sa.Table(
    "systems", md,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("department_id", sa.ForeignKey("departments.id"), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.UniqueConstraint("department_id", "name"),
)

servers = sa.Table(
    "servers", md,
    sa.Column("server_id", sa.String(128), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("department_id", sa.ForeignKey("departments.id"), nullable=False),
    sa.Column("system_id", sa.ForeignKey("systems.id"), nullable=False),
    sa.Column("vcpus", sa.Integer, nullable=False),
    sa.Column("ram_gib", sa.Float, nullable=False),
    sa.Column("disk_gib", sa.Float, nullable=False),
    sa.Column("delivered_at", Instant(), nullable=False),
    sa.Column("updated_at", Instant(), nullable=False),
)

runs = sa.Table(
    "runs", md,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_key", sa.String(64), nullable=False, unique=True),
    sa.Column("source", sa.String(200), nullable=False),
    sa.Column("at", Instant(), nullable=False),
    sa.Column("started_at", Instant(), nullable=False),
    sa.Column("servers", sa.Integer, nullable=False),
    sa.Column("findings", sa.Integer, nullable=False),
)

summaries = sa.Table(
    "summaries", md,
    sa.Column("run_id", sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("server_id", sa.String(128), primary_key=True),
    sa.Column("coverage", sa.Float, nullable=False),
    sa.Column("days_of_data", sa.Float, nullable=False),
    sa.Column("cpu_p95_pct", sa.Float),
    sa.Column("cpu_max_pct", sa.Float),
    sa.Column("memory_peak_pct", sa.Float),
    sa.Column("memory_max_pct", sa.Float),
    sa.Column("disk_latest_pct", sa.Float),
    sa.Column("disk_max_pct", sa.Float),
    sa.Column("recent_cpu_p95_pct", sa.Float),
    sa.Column("detail", sa.Text, nullable=False),  # the whole summary as JSON
)

findings = sa.Table(
    "findings", md,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("server_id", sa.String(128), nullable=False),
    sa.Column("department", sa.Text, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("dimension", sa.String(16), nullable=False),  # "" for server-level findings
    sa.Column("status", sa.String(16), nullable=False),  # open | gone
    sa.Column("first_run_id", sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("last_run_id", sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("monthly_saving_cny", Money(), nullable=False),  # Decimal as text: exact
    sa.Column("detail", sa.Text, nullable=False),  # the finding as JSON
    sa.UniqueConstraint("server_id", "kind", "dimension", "first_run_id"),
)
sa.Index("findings_open", findings.c.server_id, findings.c.kind, findings.c.dimension, findings.c.status)

# A finding's monthly saving as it was from each run on (migration 7): a row when it first appears and one
# each time a run changes it, so a past month's waste is priced as it was then, not at today's figure.
finding_values = sa.Table(
    "finding_values", md,
    sa.Column("finding_id", sa.ForeignKey("findings.id"), primary_key=True),
    sa.Column("run_id", sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("monthly_saving_cny", Money(), nullable=False),
)


# Inventory syncs: what the cloud said each time, and what changed since the previous sync.
# A later flavor change is how a rectification is verified, so every change is kept.
inventory_syncs = sa.Table(
    "inventory_syncs", md,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("source", sa.String(200), nullable=False),
    sa.Column("at", Instant(), nullable=False),
    sa.Column("servers", sa.Integer, nullable=False),
    sa.Column("added", sa.Integer, nullable=False),
    sa.Column("removed", sa.Integer, nullable=False),
    sa.Column("resized", sa.Integer, nullable=False),
)

cloud_servers = sa.Table(  # the last state the cloud reported per server
    "cloud_servers", md,
    sa.Column("server_id", sa.String(128), primary_key=True),
    sa.Column("flavor", sa.String(200), nullable=False),
    sa.Column("vcpus", sa.Integer, nullable=False),
    sa.Column("ram_gib", sa.Float, nullable=False),
    sa.Column("disk_gib", sa.Float, nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("present", sa.Boolean, nullable=False),
    sa.Column("last_sync_id", sa.ForeignKey("inventory_syncs.id"), nullable=False),
)

inventory_changes = sa.Table(
    "inventory_changes", md,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sync_id", sa.ForeignKey("inventory_syncs.id"), nullable=False),
    sa.Column("server_id", sa.String(128), nullable=False),
    sa.Column("change", sa.String(16), nullable=False),  # added | removed | resized
    sa.Column("old_flavor", sa.String(200)),
    sa.Column("new_flavor", sa.String(200)),
    sa.Column("old_size", sa.String(100)),  # "vcpus/ram_gib/disk_gib"
    sa.Column("new_size", sa.String(100)),
    sa.Column("at", Instant(), nullable=False),
)
sa.Index("inventory_changes_server", inventory_changes.c.server_id, inventory_changes.c.id)


# -- notices and their outbox ------------------------------------------------------------

notice_seq = sa.Table(
    "notice_seq", md,
    sa.Column("prefix", sa.String(100), primary_key=True),
    sa.Column("year", sa.Integer, primary_key=True),
    sa.Column("last", sa.Integer, nullable=False),
)

notices = sa.Table(
    "notices", md,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("number", sa.String(100), nullable=False, unique=True),
    sa.Column("department", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("follows_id", sa.ForeignKey("notices.id")),  # a follow-up of this open notice
    sa.Column("issued_at", Instant(), nullable=False),
    sa.Column("delivered_at", Instant()),
    sa.Column("due_date", Day()),  # empty while the calendar cannot say (held)
    sa.Column("hold_reason", sa.Text),
)

notice_items = sa.Table(
    "notice_items", md,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("notice_id", sa.ForeignKey("notices.id"), nullable=False),
    sa.Column("finding_id", sa.ForeignKey("findings.id"), nullable=False, index=True),
    sa.Column("server_id", sa.String(128), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("dimension", sa.String(16), nullable=False),
    # open | advice (an expansion: no deadline, never unrectified) | rectified | resolved | exempted | withdrawn
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("closed_at", Instant()),
    sa.Column("realised_saving_cny", Money()),  # Decimal as text, for a verified rectification
    sa.Column("evidence", sa.Text),  # what the inventory showed
)

notice_events = sa.Table(
    "notice_events", md,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("notice_id", sa.ForeignKey("notices.id"), nullable=False),
    sa.Column("at", Instant(), nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("from_status", sa.String(16)),
    sa.Column("to_status", sa.String(16), nullable=False),
    sa.Column("note", sa.Text, nullable=False),  # what happened, for the centre (English, with details)
)

# -- what each event says to the department, in Chinese (revision r0012; events before it have none) --------
notice_event_notes = sa.Table(
    "notice_event_notes", md,
    sa.Column("event_id", sa.ForeignKey("notice_events.id"), primary_key=True),
    sa.Column("note_zh", sa.Text, nullable=False),
)

deliveries = sa.Table(
    "deliveries", md,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("notice_id", sa.ForeignKey("notices.id")),  # None for operator alerts
    sa.Column("purpose", sa.String(16), nullable=False),  # notice | cc | alert
    sa.Column("channel", sa.String(100), nullable=False),
    sa.Column("recipients", sa.Text, nullable=False),  # JSON list (email); [] for IM robots
    sa.Column("idempotency_key", sa.String(200), nullable=False, unique=True),
    sa.Column("message_id", sa.String(200), nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),  # JSON: text, markdown, html, link
    # draft (written with its notice, rendered after) | pending | sent | dead | withdrawn
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),  # sends tried (counted when tried, not when claimed)
    sa.Column("next_attempt_at", sa.Float, nullable=False),  # epoch seconds
    sa.Column("lease_until", sa.Float, nullable=False),  # 0 = not claimed
    sa.Column("last_error", sa.Text, nullable=False),
    sa.Column("sent_at", Instant()),
    sa.Column("sent_ts", sa.Float),  # epoch seconds of sent_at: the rate limits count from it
    # the claim that holds the row: a relay records a result only while it still owns it (migration 4)
    sa.Column("claim_token", sa.String(32), nullable=False, server_default=""),
)
sa.Index("deliveries_due", deliveries.c.status, deliveries.c.next_attempt_at)
sa.Index("deliveries_sent", deliveries.c.channel, deliveries.c.sent_ts)
DELIVERIES_CLAIM = sa.Index("deliveries_claim", deliveries.c.claim_token)

# -- a notice's rendered files, stored once (revision r0011) -------------------------------------------------------

notice_documents = sa.Table(  # the PDF as signed and the server list: written once, referred to by deliveries
    "notice_documents", md,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("notice_id", sa.ForeignKey("notices.id"), index=True),  # None: a report's file (finance's xlsx)
    sa.Column("kind", sa.String(16), nullable=False),  # pdf | xlsx
    sa.Column("version", sa.Integer, nullable=False),  # 1, then 2 when the notice is rendered again
    sa.Column("name", sa.Text, nullable=False),  # the file name a department sees
    sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("created_at", Instant(), nullable=False),
    sa.UniqueConstraint("notice_id", "kind", "version", name="notice_documents_version"),
)

delivery_documents = sa.Table(  # what a delivery attaches, in order (the PDF first, then the server list)
    "delivery_documents", md,
    sa.Column("delivery_id", sa.ForeignKey("deliveries.id"), primary_key=True),
    sa.Column("document_id", sa.ForeignKey("notice_documents.id"), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
)

exemptions = sa.Table(  # e.g. a disaster-recovery standby, a system busy only in exam season
    "exemptions", md,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("scope", sa.String(16), nullable=False),  # server | system
    sa.Column("target", sa.Text, nullable=False),  # server id, or system name
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("approver", sa.Text, nullable=False),
    sa.Column("expires_on", Day(), nullable=False),  # last day it holds
    sa.Column("created_at", Instant(), nullable=False),
    sa.Column("revoked_at", Instant()),  # `notices unexempt` (migration 5)
    sa.Column("revoked_by", sa.Text),
)

# -- whose system an exemption of a system is (revision r0014): a system is a department's, its name is not
# unique across the city. An exemption of a system written before r0014 has none and holds for the name.
exemption_departments = sa.Table(
    "exemption_departments", md,
    sa.Column("exemption_id", sa.ForeignKey("exemptions.id"), primary_key=True),
    sa.Column("department", sa.Text, nullable=False),
)

job_runs = sa.Table(  # the daemon's scheduled periods (migration 6): a period with an "ok" row is done
    "job_runs", md,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("job", sa.String(32), nullable=False),  # inventory | evaluate | sweep | deliver | …
    sa.Column("period", Instant(), nullable=False),  # the scheduled time the run belongs to (ISO)
    sa.Column("started", Instant(), nullable=False),
    sa.Column("finished", Instant()),  # empty: running, or the process died (the period runs again)
    sa.Column("outcome", sa.String(16), nullable=False),  # running | ok | failed
    sa.Column("detail", sa.Text, nullable=False),  # what it did, or the error (never a secret)
    sa.Column("pid", sa.Integer, nullable=False),
)
JOB_RUNS_PERIOD = sa.Index("job_runs_period", job_runs.c.job, job_runs.c.period)


# -- the web console (migration 8) -------------------------------------------------------------------------

users = sa.Table(  # local accounts: argon2 hashes only
    "users", md,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),  # operator | department | finance
    sa.Column("department", sa.Text),  # the department of a department user
    sa.Column("password_hash", sa.Text, nullable=False),  # "" for a single-sign-on-only account
    sa.Column("disabled", sa.Boolean, nullable=False),
    sa.Column("created_at", Instant(), nullable=False),
)

web_sessions = sa.Table(  # server-side sessions: the cookie holds a random id, the store its hash
    "web_sessions", md,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("user", sa.Text, nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("department", sa.Text),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("via", sa.String(16), nullable=False),  # password | sso
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)

api_tokens = sa.Table(  # bearer tokens for systems that pull: shown once, stored hashed
    "api_tokens", md,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("department", sa.Text),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("disabled", sa.Boolean, nullable=False),
    sa.Column("created_at", Instant(), nullable=False),
)

# -- a token's terms (revision r0015): until when, for whose account, last used ------------------------------------
api_token_terms = sa.Table(
    "api_token_terms", md,
    sa.Column("token_id", sa.ForeignKey("api_tokens.id"), primary_key=True),
    sa.Column("expires_on", Day()),  # the last day it works (None: until revoked)
    sa.Column("user", sa.Text),  # the account it was made for: it dies with the account
    sa.Column("last_used_at", Instant()),
)

login_failures = sa.Table(  # the login rate limit, shared by every copy of the console
    "login_failures", md,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("key", sa.Text, nullable=False, index=True),  # "user:NAME" and "ip:ADDR"
    sa.Column("at", sa.Float, nullable=False),
)

audit = sa.Table(  # every action of the console: who, when, what, before and after
    "audit", md,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", Instant(), nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("department", sa.Text),  # whose data it touched
    sa.Column("before", sa.Text, nullable=False),
    sa.Column("after", sa.Text, nullable=False),
)

exemption_requests = sa.Table(  # a department asks; an operator approves (an exemption) or rejects
    "exemption_requests", md,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("department", sa.Text, nullable=False),
    sa.Column("server_id", sa.String(128), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("until", Day(), nullable=False),
    sa.Column("requested_by", sa.Text, nullable=False),
    sa.Column("requested_at", Instant(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending | approved | rejected
    sa.Column("decided_by", sa.Text),
    sa.Column("decided_at", Instant()),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Column("exemption_id", sa.ForeignKey("exemptions.id")),
)

item_answers = sa.Table(  # a department's answer to one item of a notice
    "item_answers", md,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("item_id", sa.ForeignKey("notice_items.id"), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),  # done ("已整改，待核验") | objection
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("at", Instant(), nullable=False),
)


# -- active/standby daemons (revision r0010) -----------------------------------------------------------------

leader = sa.Table(  # the fencing epoch: a new leader raises it; a write of an old leader finds it moved and stops
    "leader", md,
    sa.Column("role", sa.String(32), primary_key=True),  # "daemon"
    sa.Column("epoch", sa.Integer, nullable=False),
    sa.Column("holder", sa.String(200), nullable=False),  # host:pid of the leader that raised it
    sa.Column("since", Instant(), nullable=False),
)
