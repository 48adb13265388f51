"""Inventory queries: the servers with their departments and systems, syncs and their changes.

Each sync records what the cloud reported and what changed since the previous one
(added, removed, resized with old and new flavor and size). A later flavor change is how
a rectification is verified, so every change is kept.
"""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..models import Server, Size
from ..records import InventoryChange as Change
from .schema import cloud_servers, departments, inventory_changes, inventory_syncs, servers, systems


def _size_text(s: Size | None) -> str | None:
    return None if s is None else f"{s.vcpus}/{s.ram_gib:g}/{s.disk_gib:g}"


def _size_of(text: str | None) -> Size | None:
    if not text:
        return None
    v, r, d = text.split("/")
    return Size(int(v), float(r), float(d))


def utc_now() -> datetime:
    """When a row was written (bookkeeping, not a business time)."""
    return datetime.now(timezone.utc)


def _ensure_departments(conn: Connection, names: set[str]) -> dict[str, int]:
    have = dict(conn.execute(sa.select(departments.c.name, departments.c.id)).all())
    missing = sorted(names - have.keys())
    if missing:
        conn.execute(departments.insert(), [{"name": n} for n in missing])
        have = dict(conn.execute(sa.select(departments.c.name, departments.c.id)).all())
    return have


def _ensure_systems(conn: Connection, keys: set[tuple[int, str]]) -> dict[tuple[int, str], int]:
    q = sa.select(systems.c.department_id, systems.c.name, systems.c.id)
    have = {(d, n): i for d, n, i in conn.execute(q)}
    missing = sorted(keys - have.keys())
    if missing:
        conn.execute(systems.insert(), [{"department_id": d, "name": n} for d, n in missing])
        have = {(d, n): i for d, n, i in conn.execute(q)}
    return have


def upsert_servers(conn: Connection, inventory: list[Server]) -> None:
    """Record the servers with their departments and systems (created when new)."""
    dept_ids = _ensure_departments(conn, {s.department for s in inventory})
    sys_ids = _ensure_systems(conn, {(dept_ids[s.department], s.system) for s in inventory})
    known = set(conn.execute(sa.select(servers.c.server_id)).scalars())
    now = utc_now()
    rows = []
    for s in inventory:
        d = dept_ids[s.department]
        rows.append(dict(server_id=s.server_id, name=s.name, department_id=d, system_id=sys_ids[(d, s.system)],
                         vcpus=s.size.vcpus, ram_gib=s.size.ram_gib, disk_gib=s.size.disk_gib,
                         delivered_at=s.delivered_at, updated_at=now))
    new = [r for r in rows if r["server_id"] not in known]
    old = [r for r in rows if r["server_id"] in known]
    if new:
        conn.execute(servers.insert(), new)
    if old:
        stmt = servers.update().where(servers.c.server_id == sa.bindparam("sid"))
        conn.execute(stmt, [{**r, "sid": r["server_id"]} for r in old])


def record_sync(conn: Connection, source: str, at: datetime,
                inventory: list[tuple[Server, str | None, str]]) -> list[Change]:
    """Record what the cloud reports now: ``(server, flavor name, status)`` per server. A flavor of
    ``None`` (a CSV inventory names none) keeps the recorded name while the size is the same.

    Returns what changed since the previous sync: servers added, removed (no longer
    listed) and resized (vCPUs, RAM or disk changed). The first sync records only additions.
    """
    upsert_servers(conn, [s for s, _, _ in inventory])
    sync_id = conn.execute(inventory_syncs.insert().values(
        source=source, at=at, servers=len(inventory), added=0, removed=0,
        resized=0)).inserted_primary_key[0]
    before = {r.server_id: r for r in conn.execute(sa.select(cloud_servers))}
    changes: list[Change] = []
    rows_new, rows_upd = [], []
    seen = set()
    for s, flavor, status in inventory:
        seen.add(s.server_id)
        prev = before.get(s.server_id)
        if flavor is None:
            same = prev is not None and Size(prev.vcpus, prev.ram_gib, prev.disk_gib) == s.size
            flavor = prev.flavor if same else f"{s.size.vcpus}C/{s.size.ram_gib:g}G/{s.size.disk_gib:g}G"
        row = {"server_id": s.server_id, "flavor": flavor, "vcpus": s.size.vcpus, "ram_gib": s.size.ram_gib,
               "disk_gib": s.size.disk_gib, "status": status, "present": True, "last_sync_id": sync_id}
        old = before.get(s.server_id)
        if old is None or not old.present:
            changes.append(Change(s.server_id, "added", None, flavor, None, s.size, at))
        else:
            old_size = Size(old.vcpus, old.ram_gib, old.disk_gib)
            if old_size != s.size:
                changes.append(Change(s.server_id, "resized", old.flavor, flavor, old_size, s.size, at))
        (rows_new if old is None else rows_upd).append(row)
    gone = [sid for sid, r in before.items() if r.present and sid not in seen]
    for sid in gone:
        r = before[sid]
        changes.append(Change(sid, "removed", r.flavor, None, Size(r.vcpus, r.ram_gib, r.disk_gib), None, at))
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
             "new_size": _size_text(c.new_size), "at": at} for c in changes])
    kinds = [c.change for c in changes]
    conn.execute(inventory_syncs.update().where(inventory_syncs.c.id == sync_id).values(
        added=kinds.count("added"), removed=kinds.count("removed"), resized=kinds.count("resized")))
    return changes


def changes_since(conn: Connection, server_id: str, since: datetime) -> list[Change]:
    """A server's inventory changes seen at or after ``since``, oldest first."""
    q = sa.select(inventory_changes).where(inventory_changes.c.server_id == server_id,
                                           inventory_changes.c.at >= since).order_by(inventory_changes.c.id)
    return [Change(r.server_id, r.change, r.old_flavor, r.new_flavor, _size_of(r.old_size), _size_of(r.new_size),
                   r.at) for r in conn.execute(q)]


def removed_at(conn: Connection, server_id: str) -> datetime | None:
    """When the cloud dropped the server, if it is gone now (``None`` while the cloud lists it, or never synced)."""
    present = conn.execute(sa.select(cloud_servers.c.present).where(cloud_servers.c.server_id == server_id)).scalar()
    if present is None or present:
        return None
    return conn.execute(sa.select(inventory_changes.c.at).where(
        inventory_changes.c.server_id == server_id, inventory_changes.c.change == "removed")
        .order_by(inventory_changes.c.id.desc()).limit(1)).scalar()


def last_resized(conn: Connection) -> dict[str, datetime]:
    """Server id -> when a sync last saw it resized."""
    q = sa.select(inventory_changes.c.server_id, inventory_changes.c.at).where(inventory_changes.c.change == "resized") \
        .order_by(inventory_changes.c.id)
    return dict(conn.execute(q).all())


def current_sizes(conn: Connection) -> dict[str, Size]:
    """Server id -> its size at the last sync that listed it."""
    q = sa.select(cloud_servers).where(cloud_servers.c.present.is_(True))
    return {r.server_id: Size(r.vcpus, r.ram_gib, r.disk_gib) for r in conn.execute(q)}


# -- the servers as the console and the reports read them ----------------------------------------------------------

def _server_query():
    return (sa.select(servers.c.server_id, servers.c.name, departments.c.name.label("department"),
                      systems.c.name.label("system"), servers.c.vcpus, servers.c.ram_gib, servers.c.disk_gib,
                      servers.c.delivered_at)
            .join(departments, departments.c.id == servers.c.department_id)
            .join(systems, systems.c.id == servers.c.system_id))


def server_rows(conn: Connection, department: str | None, limit: int | None = None, offset: int = 0) -> list:
    """Servers (of ``department``, or the whole city) by department, system and name."""
    q = _server_query().order_by(departments.c.name, systems.c.name, servers.c.name)
    if department is not None:
        q = q.where(departments.c.name == department)
    if limit is not None:
        q = q.limit(limit).offset(offset)
    return conn.execute(q).all()


def server_row(conn: Connection, server_id: str, department: str | None):
    """One server, or ``None`` (also when it is another department's than ``department``)."""
    q = _server_query().where(servers.c.server_id == server_id)
    if department is not None:
        q = q.where(departments.c.name == department)
    return conn.execute(q).first()


def report_rows(conn: Connection) -> dict[str, tuple[list[str], list[tuple]]]:
    """What the reports read of the inventory, as ``(columns, rows)``: ``servers`` with their department and
    system; ``removals`` (server_id, at) of servers the cloud no longer lists; ``resizes`` (server_id, at, old_size,
    new_size), oldest first."""
    removals = (sa.select(inventory_changes.c.server_id, sa.func.max(inventory_changes.c.at).label("at"))
                .join(cloud_servers, cloud_servers.c.server_id == inventory_changes.c.server_id)
                .where(inventory_changes.c.change == "removed", cloud_servers.c.present.is_(False))
                .group_by(inventory_changes.c.server_id))
    resizes = (sa.select(inventory_changes.c.server_id, inventory_changes.c.at, inventory_changes.c.old_size,
                         inventory_changes.c.new_size)
               .where(inventory_changes.c.change == "resized").order_by(inventory_changes.c.id))
    return {"servers": _rows(conn, _server_query()), "removals": _rows(conn, removals), "resizes": _rows(conn, resizes)}


def _rows(conn: Connection, q) -> tuple[list[str], list[tuple]]:
    result = conn.execute(q)
    return list(result.keys()), [tuple(r) for r in result]
