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
from .schema import departments, exemption_departments, exemption_requests, exemptions, servers, systems


def add(conn: Connection, scope: str, target: str, reason: str, approver: str, expires_on: date,
        created_at: datetime, department: str | None = None) -> int:
    """An exemption; a system's names its ``department`` (the system is that department's)."""
    if scope not in ("server", "system"):
        raise ValueError("scope is server or system")
    if scope == "system" and not department:
        raise ValueError("a system's exemption names its department")
    eid = conn.execute(exemptions.insert().values(scope=scope, target=target, reason=reason, approver=approver,
                                                  expires_on=expires_on, created_at=created_at)
                       ).inserted_primary_key[0]
    if scope == "system":
        conn.execute(exemption_departments.insert().values(exemption_id=eid, department=department))
    return eid


def system_departments(conn: Connection, name: str) -> list[str]:
    """The departments that have a system of this name (sorted)."""
    return sorted(conn.execute(sa.select(departments.c.name).join(systems, systems.c.department_id == departments.c.id)
                               .where(systems.c.name == name).distinct()).scalars())


def _system_of_department():
    """A system exemption joined to the systems it holds for: of its department (any, for one before r0014)."""
    return sa.and_(exemptions.c.scope == "system", systems.c.name == exemptions.c.target,
                   sa.or_(exemption_departments.c.department.is_(None),
                          exemption_departments.c.department == departments.c.name))


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
                 .outerjoin(exemption_departments, exemption_departments.c.exemption_id == exemptions.c.id)
                 .join(systems, systems.c.name == exemptions.c.target)
                 .join(departments, sa.and_(departments.c.id == systems.c.department_id, _system_of_department())))
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
    live = (exemptions.c.expires_on >= today) & exemptions.c.revoked_at.is_(None)
    out: dict[str, str] = {}
    for e in conn.execute(sa.select(exemptions).where(live, exemptions.c.scope == "server")):
        out[e.target] = f"exemption #{e.id} until {e.expires_on.isoformat()} ({e.approver}): {e.reason}"
    q = (sa.select(servers.c.server_id, exemptions)
         .select_from(exemptions)
         .outerjoin(exemption_departments, exemption_departments.c.exemption_id == exemptions.c.id)
         .join(systems, systems.c.name == exemptions.c.target)
         .join(departments, sa.and_(departments.c.id == systems.c.department_id, _system_of_department()))
         .join(servers, servers.c.system_id == systems.c.id)
         .where(live).order_by(exemptions.c.id))
    for r in conn.execute(q):
        out.setdefault(r.server_id, f"exemption #{r.id} of system {r.target} until {r.expires_on.isoformat()} "
                                    f"({r.approver}): {r.reason}")
    return out


def in_force_for(conn: Connection, server_id: str, today: date):
    """The exemption of the server, or of its system, in force on ``today`` that lasts longest (or ``None``)."""
    live = (exemptions.c.expires_on >= today) & exemptions.c.revoked_at.is_(None)
    own = sa.select(exemptions).where(live, exemptions.c.scope == "server", exemptions.c.target == server_id)
    of_system = (sa.select(exemptions).select_from(exemptions)
                 .outerjoin(exemption_departments, exemption_departments.c.exemption_id == exemptions.c.id)
                 .join(systems, systems.c.name == exemptions.c.target)
                 .join(departments, sa.and_(departments.c.id == systems.c.department_id, _system_of_department()))
                 .join(servers, servers.c.system_id == systems.c.id)
                 .where(live, servers.c.server_id == server_id))
    rows = [*conn.execute(own), *conn.execute(of_system)]
    return max(rows, key=lambda r: r.expires_on) if rows else None


def report_rows(conn: Connection) -> dict[str, tuple[list[str], list[tuple]]]:
    """What the reports read of the exemptions, as ``(columns, rows)``: ``exemptions`` (scope, target,
    created_at, expires_on, revoked_at, department — a system's; none for a server's or one before r0014)."""
    result = conn.execute(sa.select(exemptions.c.scope, exemptions.c.target, exemptions.c.created_at,
                                    exemptions.c.expires_on, exemptions.c.revoked_at, exemption_departments.c.department)
                          .outerjoin(exemption_departments, exemption_departments.c.exemption_id == exemptions.c.id))
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
