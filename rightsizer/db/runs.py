"""Runs, summaries and findings.

A run is idempotent: its key is a digest of its input, evaluation time and settings;
recording the same run again replaces its summaries and keeps one row per finding (a
finding's identity is server, kind and dimension). A finding that went away in a later
run of its server is marked ``gone``.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..models import Finding, Server, UsageSummary, cny_text
from .inventory import upsert_servers, utc_now
from .schema import finding_values, findings, runs, summaries


def record_run(conn: Connection, run_key: str, source: str, at: datetime, inventory: list[Server],
               sums: list[UsageSummary], found: list[Finding]) -> int:
    """Write inventory, summaries and findings of one run; return the run id."""
    upsert_servers(conn, inventory)
    run_id = conn.execute(sa.select(runs.c.id).where(runs.c.run_key == run_key)).scalar()
    row = dict(run_key=run_key, source=source, at=at, started_at=utc_now(),
               servers=len(inventory), findings=len(found))
    if run_id is None:
        run_id = conn.execute(runs.insert().values(**row)).inserted_primary_key[0]
    else:
        conn.execute(runs.update().where(runs.c.id == run_id).values(**row))
        conn.execute(summaries.delete().where(summaries.c.run_id == run_id))
    if sums:
        conn.execute(summaries.insert(), [_summary_row(run_id, s) for s in sums])
    _merge_findings(conn, run_id, {s.server_id for s in inventory}, found)
    return run_id


def _merge_findings(conn: Connection, run_id: int, evaluated: set[str], found: list[Finding]) -> None:
    q = sa.select(findings.c.id, findings.c.server_id, findings.c.kind, findings.c.dimension,
                  findings.c.monthly_saving_cny).where(findings.c.status == "open")
    open_rows, saving_now = {}, {}
    for r in conn.execute(q):
        open_rows[(r.server_id, r.kind, r.dimension)] = r.id
        saving_now[r.id] = r.monthly_saving_cny
    seen = set()
    inserts, updates, changed = [], [], []
    for f in found:
        key = f.key
        seen.add(key)
        row = dict(monthly_saving_cny=cny_text(f.monthly_saving_cny),
                   detail=json.dumps(f.to_json(), ensure_ascii=False, default=_json_default),
                   department=f.department, last_run_id=run_id)
        if key in open_rows:
            updates.append({**row, "fid": open_rows[key]})
            if saving_now[open_rows[key]] != Decimal(row["monthly_saving_cny"]):  # the store gives Decimal
                changed.append({"finding_id": open_rows[key], "run_id": run_id,
                                "monthly_saving_cny": row["monthly_saving_cny"]})
        else:
            inserts.append({**row, "server_id": key[0], "kind": key[1], "dimension": key[2], "status": "open",
                            "first_run_id": run_id})
    gone = [i for k, i in open_rows.items() if k[0] in evaluated and k not in seen]
    if inserts:
        conn.execute(findings.insert(), inserts)
        new = conn.execute(sa.select(findings.c.id, findings.c.monthly_saving_cny).where(
            findings.c.first_run_id == run_id)).all()
        changed += [{"finding_id": i, "run_id": run_id, "monthly_saving_cny": m} for i, m in new]
    if updates:
        conn.execute(findings.update().where(findings.c.id == sa.bindparam("fid")), updates)
    if changed:  # a rerun of the same run replaces its own values
        conn.execute(finding_values.delete().where(finding_values.c.run_id == run_id,
                                                   finding_values.c.finding_id == sa.bindparam("fid")),
                     [{"fid": c["finding_id"]} for c in changed])
        conn.execute(finding_values.insert(), changed)
    for lo in range(0, len(gone), 500):
        conn.execute(findings.update().where(findings.c.id.in_(gone[lo:lo + 500])).values(status="gone",
                                                                                           last_run_id=run_id))


def open_findings(conn: Connection, department: str | None = None, server_id: str | None = None) -> list[Finding]:
    """Open findings (of ``department``, of ``server_id``, if given), oldest first."""
    q = sa.select(findings.c.detail).where(findings.c.status == "open").order_by(findings.c.id)
    if department is not None:
        q = q.where(findings.c.department == department)
    if server_id is not None:
        q = q.where(findings.c.server_id == server_id)
    return [Finding.from_json(json.loads(d)) for d in conn.execute(q).scalars()]


def open_finding_ids(conn: Connection, department: str | None = None, server_id: str | None = None
                     ) -> list[tuple[int, Finding]]:
    """(id, finding) of open findings, by department, server and id (the console's and the API's lists)."""
    q = sa.select(findings.c.id, findings.c.detail).where(findings.c.status == "open").order_by(
        findings.c.department, findings.c.server_id, findings.c.id)
    if department is not None:
        q = q.where(findings.c.department == department)
    if server_id is not None:
        q = q.where(findings.c.server_id == server_id)
    return [(i, Finding.from_json(json.loads(d))) for i, d in conn.execute(q)]


def summary_history(conn: Connection, server_id: str, limit: int = 400) -> list:
    """(at, cpu_p95_pct, memory_peak_pct, disk_latest_pct, coverage) of the server at each run, oldest first."""
    q = (sa.select(runs.c.at, summaries.c.cpu_p95_pct, summaries.c.memory_peak_pct, summaries.c.disk_latest_pct,
                   summaries.c.coverage)
         .join(runs, runs.c.id == summaries.c.run_id).where(summaries.c.server_id == server_id)
         .order_by(runs.c.id.desc()).limit(limit))
    return list(reversed(conn.execute(q).all()))


def last_run_at(conn: Connection) -> datetime | None:
    """When the newest evaluation was (the demo console's clock)."""
    return conn.execute(sa.select(sa.func.max(runs.c.at))).scalar()


def evaluated_between(conn: Connection, start: datetime, end: datetime) -> bool:
    """Whether a run evaluated at an instant in ``[start, end)`` (the monthly report's check), in SQL."""
    return conn.execute(sa.select(runs.c.id).where(runs.c.at >= start, runs.c.at < end).limit(1)).first() is not None


def report_rows(conn: Connection, kinds: tuple[str, ...]) -> dict[str, tuple[list[str], list[tuple]]]:
    """What the reports read of the evaluations, as ``(columns, rows)``: ``findings`` of ``kinds`` with
    ``first_at`` (the run that first saw it) and ``last_at`` (the last run that saw it open, or — when ``gone`` —
    the run that found it gone); ``values``, each finding's saving from each run that set it, oldest first;
    ``runs``, the evaluation time of every run; ``watched``, each server's first evaluation."""
    first, last = runs.alias("first_run"), runs.alias("last_run")
    found = (sa.select(findings.c.id, findings.c.server_id, findings.c.department, findings.c.kind,
                       findings.c.dimension, findings.c.status, findings.c.monthly_saving_cny,
                       first.c.at.label("first_at"), last.c.at.label("last_at"))
             .join(first, first.c.id == findings.c.first_run_id).join(last, last.c.id == findings.c.last_run_id)
             .where(findings.c.kind.in_(kinds)))
    values = (sa.select(finding_values.c.finding_id, runs.c.at, finding_values.c.monthly_saving_cny)
              .join(runs, runs.c.id == finding_values.c.run_id).order_by(finding_values.c.finding_id, runs.c.id))
    out = {}
    for name, q in (("findings", found), ("values", values)):
        result = conn.execute(q)
        out[name] = (list(result.keys()), [tuple(r) for r in result])
    out["runs"] = list(conn.execute(sa.select(runs.c.at)).scalars())
    # each server's first evaluation: its time under monitoring starts that day
    watched = (sa.select(summaries.c.server_id, sa.func.min(runs.c.at).label("first_at"))
               .join(runs, runs.c.id == summaries.c.run_id).group_by(summaries.c.server_id))
    result = conn.execute(watched)
    out["watched"] = (list(result.keys()), [tuple(r) for r in result])
    return out


def run_times(conn: Connection) -> list[datetime]:
    """The evaluation time of every run, oldest first."""
    return list(conn.execute(sa.select(runs.c.at).order_by(runs.c.at)).scalars())


def run_exists(conn: Connection, run_key: str) -> bool:
    return conn.execute(sa.select(runs.c.id).where(runs.c.run_key == run_key)).first() is not None


def open_servers_of_kind(conn: Connection, kind: str) -> set[str]:
    return set(conn.execute(sa.select(findings.c.server_id).where(findings.c.status == "open",
                                                                   findings.c.kind == kind)).scalars())


def open_finding_rows(conn: Connection, among: list[int] | None = None) -> list:
    """Open findings (of the ids ``among``, if given) with id, department, kind, server, dimension and
    detail, oldest first."""
    q = sa.select(findings.c.id, findings.c.department, findings.c.kind, findings.c.server_id, findings.c.dimension,
                  findings.c.detail).where(findings.c.status == "open").order_by(findings.c.id)
    if among is None:
        return conn.execute(q).all()
    rows = [r for lo in range(0, len(among), 500) for r in conn.execute(q.where(findings.c.id.in_(among[lo:lo + 500])))]
    return sorted(rows, key=lambda r: r.id)


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
