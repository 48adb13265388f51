"""Exemptions: a server or a whole system kept out of notices until a date, with reason and approver; and the
departments' requests for one, which an operator approves (an exemption) or rejects.

Every read a department may make takes ``department`` (``None``: the whole city), applied in the query.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..lifecycle import RequestState
from ..records import ExemptionRequest
from .schema import departments, exemption_requests, exemptions, servers, systems


def add(conn: Connection, scope: str, target: str, reason: str, approver: str, expires_on: date,
        created_at: datetime) -> int:
    if scope not in ("server", "system"):
        raise ValueError("scope is server or system")
    return conn.execute(exemptions.insert().values(scope=scope, target=target, reason=reason, approver=approver,
                                                   expires_on=expires_on, created_at=created_at)
                        ).inserted_primary_key[0]


def get(conn: Connection, exemption_id: int):
    if not 0 < exemption_id < 2**31:
        return None
    return conn.execute(sa.select(exemptions).where(exemptions.c.id == exemption_id)).first()


def revoke(conn: Connection, exemption_id: int, at: datetime, by: str) -> None:
    conn.execute(exemptions.update().where(exemptions.c.id == exemption_id).values(revoked_at=at, revoked_by=by))


def server_known(conn: Connection, server_id: str) -> bool:
    return conn.execute(sa.select(servers.c.server_id).where(servers.c.server_id == server_id)).first() is not None


def system_known(conn: Connection, name: str) -> bool:
    return conn.execute(sa.select(systems.c.id).where(systems.c.name == name)).first() is not None


def all_exemptions(conn: Connection, department: str | None = None) -> list:
    """Exemptions, newest first, each with the department it belongs to (of the server, or of the system);
    of ``department`` only, if given."""
    by_server = (sa.select(exemptions, departments.c.name.label("department"))
                 .join(servers, sa.and_(exemptions.c.scope == "server", servers.c.server_id == exemptions.c.target))
                 .join(departments, departments.c.id == servers.c.department_id))
    by_system = (sa.select(exemptions, departments.c.name.label("department"))
                 .join(systems, sa.and_(exemptions.c.scope == "system", systems.c.name == exemptions.c.target))
                 .join(departments, departments.c.id == systems.c.department_id))
    if department is not None:
        by_server, by_system = (q.where(departments.c.name == department) for q in (by_server, by_system))
    rows = [*conn.execute(by_server), *conn.execute(by_system)]
    seen, out = set(), []
    for r in sorted(rows, key=lambda r: -r.id):
        if r.id not in seen:
            seen.add(r.id)
            out.append(r)
    if department is None:  # an exemption of a server or system the store no longer knows is still listed
        out += [r for r in conn.execute(sa.select(exemptions, sa.null().label("department"))
                                        .order_by(exemptions.c.id.desc())) if r.id not in seen]
        out.sort(key=lambda r: -r.id)
    return out


def exempted_servers(conn: Connection, today: date) -> dict[str, str]:
    """Server id -> why, for every exemption still in force on ``today``."""
    live = conn.execute(sa.select(exemptions).where(exemptions.c.expires_on >= today,
                                                    exemptions.c.revoked_at.is_(None))).all()
    out: dict[str, str] = {}
    by_system = {e.target: e for e in live if e.scope == "system"}
    for e in live:
        if e.scope == "server":
            out[e.target] = f"exemption #{e.id} until {e.expires_on.isoformat()} ({e.approver}): {e.reason}"
    if by_system:
        q = sa.select(servers.c.server_id, systems.c.name).join(systems, systems.c.id == servers.c.system_id).where(
            systems.c.name.in_(list(by_system)))
        for sid, name in conn.execute(q):
            e = by_system[name]
            out.setdefault(sid, f"exemption #{e.id} of system {name} until {e.expires_on.isoformat()} "
                                f"({e.approver}): {e.reason}")
    return out


def in_force_for(conn: Connection, server_id: str, today: date):
    """The exemption of the server, or of its system, in force on ``today`` that lasts longest (or ``None``)."""
    system = conn.execute(sa.select(systems.c.name).join(servers, servers.c.system_id == systems.c.id)
                          .where(servers.c.server_id == server_id)).scalar()
    q = sa.select(exemptions).where(exemptions.c.expires_on >= today, exemptions.c.revoked_at.is_(None),
                                    sa.or_(sa.and_(exemptions.c.scope == "server", exemptions.c.target == server_id),
                                           sa.and_(exemptions.c.scope == "system", exemptions.c.target == system)))
    return conn.execute(q.order_by(exemptions.c.expires_on.desc()).limit(1)).first()


def report_rows(conn: Connection) -> dict[str, tuple[list[str], list[tuple]]]:
    """What the reports read of the exemptions, as ``(columns, rows)``: ``exemptions`` (scope, target,
    created_at, expires_on, revoked_at)."""
    result = conn.execute(sa.select(exemptions.c.scope, exemptions.c.target, exemptions.c.created_at,
                                    exemptions.c.expires_on, exemptions.c.revoked_at))
    return {"exemptions": (list(result.keys()), [tuple(r) for r in result])}


# -- requests --------------------------------------------------------------------------------------------------

def _request(r) -> ExemptionRequest:
    return ExemptionRequest(r.id, r.department, r.server_id, r.reason, r.until, r.requested_by, r.requested_at,
                            RequestState(r.status), r.decided_by, r.decided_at, r.note, r.exemption_id)


def add_request(conn: Connection, department: str, server_id: str, reason: str, until: date, by: str,
                at: datetime) -> int:
    return conn.execute(exemption_requests.insert().values(
        department=department, server_id=server_id, reason=reason, until=until, requested_by=by, requested_at=at,
        status=RequestState.PENDING, note="")).inserted_primary_key[0]


def requests(conn: Connection, department: str | None) -> list[ExemptionRequest]:
    q = sa.select(exemption_requests).order_by(exemption_requests.c.id.desc())
    if department is not None:
        q = q.where(exemption_requests.c.department == department)
    return [_request(r) for r in conn.execute(q)]


def request(conn: Connection, request_id: int, department: str | None) -> ExemptionRequest | None:
    if not 0 < request_id < 2**31:
        return None
    q = sa.select(exemption_requests).where(exemption_requests.c.id == request_id)
    if department is not None:
        q = q.where(exemption_requests.c.department == department)
    r = conn.execute(q).first()
    return _request(r) if r else None


def decide(conn: Connection, request_id: int, state: RequestState, by: str, at: datetime, note: str,
           exemption_id: int | None) -> bool:
    """Approve or reject a pending request (``False``: it was decided meanwhile)."""
    return conn.execute(exemption_requests.update().where(
        exemption_requests.c.id == request_id, exemption_requests.c.status == RequestState.PENDING).values(
        status=RequestState(state), decided_by=by, decided_at=at, note=note, exemption_id=exemption_id)).rowcount == 1
