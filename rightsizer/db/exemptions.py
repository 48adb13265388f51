"""Exemptions: a server or a whole system kept out of notices until a date, with reason and approver."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .schema import exemptions, servers, systems


def add(conn: Connection, scope: str, target: str, reason: str, approver: str, expires_on: str,
        created_at: str) -> int:
    if scope not in ("server", "system"):
        raise ValueError("scope is server or system")
    return conn.execute(exemptions.insert().values(scope=scope, target=target, reason=reason, approver=approver,
                                                   expires_on=expires_on, created_at=created_at)
                        ).inserted_primary_key[0]


def get(conn: Connection, exemption_id: int):
    return conn.execute(sa.select(exemptions).where(exemptions.c.id == exemption_id)).first()


def revoke(conn: Connection, exemption_id: int, at: str, by: str) -> None:
    conn.execute(exemptions.update().where(exemptions.c.id == exemption_id).values(revoked_at=at, revoked_by=by))


def server_known(conn: Connection, server_id: str) -> bool:
    return conn.execute(sa.select(servers.c.server_id).where(servers.c.server_id == server_id)).first() is not None


def system_known(conn: Connection, name: str) -> bool:
    return conn.execute(sa.select(systems.c.id).where(systems.c.name == name)).first() is not None


def all_exemptions(conn: Connection) -> list:
    return conn.execute(sa.select(exemptions).order_by(exemptions.c.id)).all()


def exempted_servers(conn: Connection, today: str) -> dict[str, str]:
    """Server id -> why, for every exemption still in force on ``today`` (YYYY-MM-DD)."""
    live = conn.execute(sa.select(exemptions).where(exemptions.c.expires_on >= today,
                                                    exemptions.c.revoked_at.is_(None))).all()
    out: dict[str, str] = {}
    by_system = {e.target: e for e in live if e.scope == "system"}
    for e in live:
        if e.scope == "server":
            out[e.target] = f"exemption #{e.id} until {e.expires_on} ({e.approver}): {e.reason}"
    if by_system:
        q = sa.select(servers.c.server_id, systems.c.name).join(systems, systems.c.id == servers.c.system_id).where(
            systems.c.name.in_(list(by_system)))
        for sid, name in conn.execute(q):
            e = by_system[name]
            out.setdefault(sid, f"exemption #{e.id} of system {name} until {e.expires_on} ({e.approver}): {e.reason}")
    return out
