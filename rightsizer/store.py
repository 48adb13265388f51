"""The embedded store: SQLite (WAL) through SQLAlchemy Core.

PostgreSQL later is a URL change. The schema is versioned: ``MIGRATIONS`` is an
append-only list, applied in order inside one transaction each, and the applied
version is kept in ``schema_version``.

A run is idempotent: its key is a digest of its input, evaluation time and
settings; recording the same run again replaces its summaries and keeps one row
per finding (a finding's identity is server, kind and dimension).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from .models import Finding, Server, Size, UsageSummary

md = sa.MetaData()

schema_version = sa.Table("schema_version", md, sa.Column("version", sa.Integer, nullable=False))

departments = sa.Table(
    "departments", md,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
)

systems = sa.Table(
    "systems", md,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("department_id", sa.ForeignKey("departments.id"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.UniqueConstraint("department_id", "name"),
)

servers = sa.Table(
    "servers", md,
    sa.Column("server_id", sa.String(128), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("department_id", sa.ForeignKey("departments.id"), nullable=False),
    sa.Column("system_id", sa.ForeignKey("systems.id"), nullable=False),
    sa.Column("vcpus", sa.Integer, nullable=False),
    sa.Column("ram_gib", sa.Float, nullable=False),
    sa.Column("disk_gib", sa.Float, nullable=False),
    sa.Column("delivered_at", sa.String(40), nullable=False),
    sa.Column("updated_at", sa.String(40), nullable=False),
)

runs = sa.Table(
    "runs", md,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_key", sa.String(64), nullable=False, unique=True),
    sa.Column("source", sa.String(200), nullable=False),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("started_at", sa.String(40), nullable=False),
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
    sa.Column("department", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("dimension", sa.String(16), nullable=False),  # "" for server-level findings
    sa.Column("status", sa.String(16), nullable=False),  # open | gone
    sa.Column("first_run_id", sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("last_run_id", sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("monthly_saving_cny", sa.String(32), nullable=False),  # Decimal as text: exact
    sa.Column("detail", sa.Text, nullable=False),  # the finding as JSON
    sa.UniqueConstraint("server_id", "kind", "dimension", "first_run_id"),
)
sa.Index("findings_open", findings.c.server_id, findings.c.kind, findings.c.dimension, findings.c.status)


# Inventory syncs: what the cloud said each time, and what changed since the previous sync.
# A later flavor change is how a rectification is verified, so every change is kept.
inventory_syncs = sa.Table(
    "inventory_syncs", md,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("source", sa.String(200), nullable=False),
    sa.Column("at", sa.String(40), nullable=False),
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
    sa.Column("at", sa.String(40), nullable=False),
)
sa.Index("inventory_changes_server", inventory_changes.c.server_id, inventory_changes.c.id)


def _v1(conn: Connection) -> None:
    md.create_all(conn, tables=[departments, systems, servers, runs, summaries, findings])


def _v2(conn: Connection) -> None:
    md.create_all(conn, tables=[inventory_syncs, cloud_servers, inventory_changes])


def _v3(conn: Connection) -> None:
    from .outbox import create_tables  # notices and their outbox live with their logic

    create_tables(conn)


# Append only: a released migration is never edited.
MIGRATIONS: list[Callable[[Connection], None]] = [_v1, _v2, _v3]


@dataclass(frozen=True)
class Change:
    server_id: str
    change: str  # added | removed | resized
    old_flavor: str | None
    new_flavor: str | None
    old_size: Size | None
    new_size: Size | None
    at: str = ""  # when the sync saw it (ISO 8601)


def changes_since(conn: Connection, server_id: str, since: datetime) -> list[Change]:
    """A server's inventory changes seen at or after ``since``, oldest first."""
    q = sa.select(inventory_changes).where(inventory_changes.c.server_id == server_id).order_by(inventory_changes.c.id)
    return [Change(r.server_id, r.change, r.old_flavor, r.new_flavor, _size_of(r.old_size), _size_of(r.new_size),
                   r.at) for r in conn.execute(q) if datetime.fromisoformat(r.at) >= since]


def _size_text(s: Size | None) -> str | None:
    return None if s is None else f"{s.vcpus}/{s.ram_gib:g}/{s.disk_gib:g}"


def _size_of(text: str | None) -> Size | None:
    if not text:
        return None
    v, r, d = text.split("/")
    return Size(int(v), float(r), float(d))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Store:
    def __init__(self, url: str):
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = sa.create_engine(url)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self.migrate()

    def migrate(self) -> int:
        with self.engine.begin() as conn:
            schema_version.create(conn, checkfirst=True)
            current = conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar() or 0
            for version, step in enumerate(MIGRATIONS[current:], start=current + 1):
                step(conn)
                conn.execute(schema_version.insert().values(version=version))
            return len(MIGRATIONS)

    def version(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar() or 0

    # -- writing a run --------------------------------------------------------------------

    def record_run(self, run_key: str, source: str, at: datetime, inventory: list[Server],
                   sums: list[UsageSummary], found: list[Finding]) -> int:
        """Write inventory, summaries and findings of one run in one transaction; return the run id."""
        with self.engine.begin() as conn:
            dept_ids = self._ensure_departments(conn, {s.department for s in inventory})
            sys_ids = self._ensure_systems(conn, {(dept_ids[s.department], s.system) for s in inventory})
            self._upsert_servers(conn, inventory, dept_ids, sys_ids)
            run_id = conn.execute(sa.select(runs.c.id).where(runs.c.run_key == run_key)).scalar()
            row = dict(run_key=run_key, source=source, at=at.isoformat(), started_at=_now(),
                       servers=len(inventory), findings=len(found))
            if run_id is None:
                run_id = conn.execute(runs.insert().values(**row)).inserted_primary_key[0]
            else:
                conn.execute(runs.update().where(runs.c.id == run_id).values(**row))
                conn.execute(summaries.delete().where(summaries.c.run_id == run_id))
            if sums:
                conn.execute(summaries.insert(), [_summary_row(run_id, s) for s in sums])
            self._merge_findings(conn, run_id, {s.server_id for s in inventory}, found)
            return run_id

    def _ensure_departments(self, conn: Connection, names: set[str]) -> dict[str, int]:
        have = dict(conn.execute(sa.select(departments.c.name, departments.c.id)).all())
        missing = sorted(names - have.keys())
        if missing:
            conn.execute(departments.insert(), [{"name": n} for n in missing])
            have = dict(conn.execute(sa.select(departments.c.name, departments.c.id)).all())
        return have

    def _ensure_systems(self, conn: Connection, keys: set[tuple[int, str]]) -> dict[tuple[int, str], int]:
        q = sa.select(systems.c.department_id, systems.c.name, systems.c.id)
        have = {(d, n): i for d, n, i in conn.execute(q)}
        missing = sorted(keys - have.keys())
        if missing:
            conn.execute(systems.insert(), [{"department_id": d, "name": n} for d, n in missing])
            have = {(d, n): i for d, n, i in conn.execute(q)}
        return have

    def _upsert_servers(self, conn, inventory: list[Server], dept_ids, sys_ids) -> None:
        known = set(conn.execute(sa.select(servers.c.server_id)).scalars())
        now = _now()
        rows = []
        for s in inventory:
            d = dept_ids[s.department]
            rows.append(dict(server_id=s.server_id, name=s.name, department_id=d, system_id=sys_ids[(d, s.system)],
                             vcpus=s.size.vcpus, ram_gib=s.size.ram_gib, disk_gib=s.size.disk_gib,
                             delivered_at=s.delivered_at.isoformat(), updated_at=now))
        new = [r for r in rows if r["server_id"] not in known]
        old = [r for r in rows if r["server_id"] in known]
        if new:
            conn.execute(servers.insert(), new)
        if old:
            stmt = servers.update().where(servers.c.server_id == sa.bindparam("sid"))
            conn.execute(stmt, [{**r, "sid": r["server_id"]} for r in old])

    def _merge_findings(self, conn: Connection, run_id: int, evaluated: set[str], found: list[Finding]) -> None:
        q = sa.select(findings.c.id, findings.c.server_id, findings.c.kind, findings.c.dimension).where(
            findings.c.status == "open")
        open_rows = {(r.server_id, r.kind, r.dimension): r.id for r in conn.execute(q)}
        seen = set()
        inserts, updates = [], []
        for f in found:
            key = f.key
            seen.add(key)
            row = dict(monthly_saving_cny=str(f.monthly_saving_cny), detail=json.dumps(f.to_json(), ensure_ascii=False,
                                                                                         default=_json_default),
                       department=f.department, last_run_id=run_id)
            if key in open_rows:
                updates.append({**row, "fid": open_rows[key]})
            else:
                inserts.append({**row, "server_id": key[0], "kind": key[1], "dimension": key[2], "status": "open",
                                "first_run_id": run_id})
        gone = [i for k, i in open_rows.items() if k[0] in evaluated and k not in seen]
        if inserts:
            conn.execute(findings.insert(), inserts)
        if updates:
            conn.execute(findings.update().where(findings.c.id == sa.bindparam("fid")), updates)
        for lo in range(0, len(gone), 500):
            conn.execute(findings.update().where(findings.c.id.in_(gone[lo:lo + 500])).values(status="gone",
                                                                                               last_run_id=run_id))

    # -- inventory syncs ---------------------------------------------------------------------

    def sync_inventory(self, source: str, at: datetime, inventory: list[tuple[Server, str, str]]) -> list[Change]:
        """Record what the cloud reports now: ``(server, flavor name, status)`` per server.

        Returns what changed since the previous sync of ``source``: servers added, removed
        (no longer listed) and resized (vCPUs, RAM or disk changed). All in one transaction:
        a sync that fails records nothing. The first sync of a store records only additions.
        """
        with self.engine.begin() as conn:
            servers_only = [s for s, _, _ in inventory]
            dept_ids = self._ensure_departments(conn, {s.department for s in servers_only})
            sys_ids = self._ensure_systems(conn, {(dept_ids[s.department], s.system) for s in servers_only})
            self._upsert_servers(conn, servers_only, dept_ids, sys_ids)
            sync_id = conn.execute(inventory_syncs.insert().values(
                source=source, at=at.isoformat(), servers=len(inventory), added=0, removed=0,
                resized=0)).inserted_primary_key[0]
            before = {r.server_id: r for r in conn.execute(sa.select(cloud_servers))}
            changes: list[Change] = []
            rows_new, rows_upd = [], []
            seen = set()
            for s, flavor, status in inventory:
                seen.add(s.server_id)
                row = {"server_id": s.server_id, "flavor": flavor, "vcpus": s.size.vcpus, "ram_gib": s.size.ram_gib,
                       "disk_gib": s.size.disk_gib, "status": status, "present": True, "last_sync_id": sync_id}
                old = before.get(s.server_id)
                if old is None or not old.present:
                    changes.append(Change(s.server_id, "added", None, flavor, None, s.size))
                else:
                    old_size = Size(old.vcpus, old.ram_gib, old.disk_gib)
                    if old_size != s.size:
                        changes.append(Change(s.server_id, "resized", old.flavor, flavor, old_size, s.size))
                (rows_new if old is None else rows_upd).append(row)
            gone = [sid for sid, r in before.items() if r.present and sid not in seen]
            for sid in gone:
                r = before[sid]
                changes.append(Change(sid, "removed", r.flavor, None, Size(r.vcpus, r.ram_gib, r.disk_gib), None))
            if rows_new:
                conn.execute(cloud_servers.insert(), rows_new)
            if rows_upd:
                conn.execute(cloud_servers.update().where(cloud_servers.c.server_id == sa.bindparam("sid")),
                             [{**r, "sid": r["server_id"]} for r in rows_upd])
            for lo in range(0, len(gone), 500):
                conn.execute(cloud_servers.update().where(cloud_servers.c.server_id.in_(gone[lo:lo + 500]))
                             .values(present=False, last_sync_id=sync_id))
            if changes:
                conn.execute(inventory_changes.insert(), [
                    {"sync_id": sync_id, "server_id": c.server_id, "change": c.change, "old_flavor": c.old_flavor,
                     "new_flavor": c.new_flavor, "old_size": _size_text(c.old_size),
                     "new_size": _size_text(c.new_size), "at": at.isoformat()} for c in changes])
            kinds = [c.change for c in changes]
            conn.execute(inventory_syncs.update().where(inventory_syncs.c.id == sync_id).values(
                added=kinds.count("added"), removed=kinds.count("removed"), resized=kinds.count("resized")))
            return changes

    def changes(self, server_id: str | None = None) -> list[Change]:
        """Every recorded inventory change, oldest first (optionally of one server)."""
        q = sa.select(inventory_changes).order_by(inventory_changes.c.id)
        if server_id is not None:
            q = q.where(inventory_changes.c.server_id == server_id)
        with self.engine.connect() as conn:
            return [Change(r.server_id, r.change, r.old_flavor, r.new_flavor, _size_of(r.old_size),
                           _size_of(r.new_size)) for r in conn.execute(q)]

    # -- reading ----------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
                    for t in (departments, systems, servers, runs, summaries, findings, inventory_syncs,
                              cloud_servers, inventory_changes)}

    def open_findings(self) -> list[dict]:
        with self.engine.connect() as conn:
            q = sa.select(findings.c.detail).where(findings.c.status == "open").order_by(findings.c.id)
            return [json.loads(d) for d in conn.execute(q).scalars()]


def _json_default(o):
    if isinstance(o, datetime):
        return o.isoformat()
    return str(o)


def _summary_row(run_id: int, s: UsageSummary) -> dict:
    return dict(run_id=run_id, server_id=s.server_id, coverage=s.coverage, days_of_data=s.days_of_data,
                cpu_p95_pct=s.cpu_p95_pct, cpu_max_pct=s.cpu_max_pct, memory_peak_pct=s.memory_peak_pct,
                memory_max_pct=s.memory_max_pct, disk_latest_pct=s.disk_latest_pct, disk_max_pct=s.disk_max_pct,
                recent_cpu_p95_pct=s.recent_cpu_p95_pct,
                detail=json.dumps(s.to_json()))


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()

