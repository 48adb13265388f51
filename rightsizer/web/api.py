"""``/api/v1/``: JSON (and CSV for reports) for systems that pull, with bearer tokens.

A token (``rightsizer tokens add NAME --role … [--department D]``) is scoped like an account:
a department token reads its department only (another's server or notice is 404), a finance
token reads the reports and cannot write (403). The description is ``/api/v1/openapi.json``.
"""

from __future__ import annotations

import json

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from ..errors import NotFoundError, StateError, UsageError
from ..jobs import accounts, console
from ..jobs.console import Forbidden, Viewer
from ..reports import Month, writers
from .common import download

bearer = HTTPBearer(auto_error=False, description="rightsizer tokens add NAME --role … prints one")


class Ack(BaseModel):
    note: str = ""


def create_api(state) -> FastAPI:
    api = FastAPI(title="rightsizer API", version="1", openapi_url="/openapi.json", docs_url=None, redoc_url=None,
                  description="Servers, findings, notices and the monthly report of the city's government cloud, "
                              "scoped by the token's role and department.")

    def who(creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Viewer:
        if creds is None or creds.scheme.lower() != "bearer":
            raise HTTPException(401, "a bearer token is needed", headers={"WWW-Authenticate": "Bearer"})
        v = accounts.viewer_of_token(state.store, creds.credentials)
        if v is None:
            raise HTTPException(401, "unknown or disabled token", headers={"WWW-Authenticate": "Bearer"})
        return v

    @api.exception_handler(NotFoundError)
    async def _nf(request: Request, exc: NotFoundError):
        return JSONResponse({"error": "not found"}, status_code=404)

    @api.exception_handler(Forbidden)
    async def _fb(request: Request, exc: Forbidden):
        return JSONResponse({"error": str(exc)}, status_code=403)

    @api.exception_handler(StateError)
    async def _st(request: Request, exc: StateError):
        return JSONResponse({"error": str(exc)}, status_code=409)

    @api.exception_handler(UsageError)
    async def _us(request: Request, exc: UsageError):
        return JSONResponse({"error": str(exc)}, status_code=400)

    @api.get("/servers", summary="Servers in the token's scope")
    def servers(limit: int = 1000, offset: int = 0, v: Viewer = Depends(who)):
        rows = console.servers(state.store, v, min(max(1, limit), 10000), max(0, offset))
        return [{"server_id": r.server_id, "name": r.name, "department": r.department, "system": r.system,
                 "vcpus": r.vcpus, "ram_gib": r.ram_gib, "disk_gib": r.disk_gib, "delivered_at": r.delivered_at}
                for r in rows]

    @api.get("/servers/{server_id}", summary="A server with its open findings and statistics over time")
    def server(server_id: str, v: Viewer = Depends(who)):
        d = console.server(state.store, v, server_id)
        s = d["server"]
        return {"server_id": s.server_id, "name": s.name, "department": s.department, "system": s.system,
                "findings": [f["detail"] for f in d["findings"]],
                "history": [{"at": h.at, "cpu_p95_pct": h.cpu_p95_pct, "memory_peak_pct": h.memory_peak_pct,
                             "disk_latest_pct": h.disk_latest_pct, "coverage": h.coverage} for h in d["history"]]}

    @api.get("/findings", summary="Open findings in the token's scope")
    def findings(v: Viewer = Depends(who)):
        return [json.loads(f.detail) | {"id": f.id} for f in console.findings(state.store, v)]

    @api.get("/notices", summary="Notices in the token's scope")
    def notices(v: Viewer = Depends(who)):
        return [_notice(n) for n in console.notices(state.store, v)]

    @api.get("/notices/{notice_id}", summary="A notice with its items, answers and events")
    def notice(notice_id: int, v: Viewer = Depends(who)):
        p = console.notice(state.store, v, notice_id)
        return _notice(p.notice) | {
            "items": [{"id": i.id, "server_id": i.server_id, "kind": i.kind, "dimension": i.dimension or None,
                       "status": i.status, "closed_at": i.closed_at, "realised_saving_cny": i.realised_saving_cny,
                       "answers": [{"kind": a.kind, "note": a.note, "actor": a.actor, "at": a.at}
                                   for a in p.answers.get(i.id, [])]} for i in p.items],
            "events": [{"at": e.at, "actor": e.actor, "from": e.from_status, "to": e.to_status, "note": e.note}
                       for e in p.events]}

    @api.post("/notices/{notice_id}/ack", summary="Acknowledge a notice (department or operator tokens)")
    def ack(notice_id: int, body: Ack, v: Viewer = Depends(who)):
        t = console.acknowledge(state.store, v, state.clock(), notice_id, body.note)
        return {"number": t.number, "from": t.old, "to": t.new}

    @api.get("/reports/monthly", summary="The monthly waste report (format json or csv)")
    def monthly(month: str, format: str = "json", v: Viewer = Depends(who)):
        try:
            m = Month.parse(month)
        except ValueError:
            raise UsageError(f"month: {month!r} is not YYYY-MM") from None
        if format not in ("json", "csv"):
            raise UsageError("format: json or csv")
        r = console.monthly(state.store, state.settings, v, m, state.clock())
        if format == "json":
            return r.to_json()
        return download(writers.monthly(r, "csv"), f"{m}-云资源浪费报告.csv")

    return api


def _notice(n) -> dict:
    return {"id": n.id, "number": n.number, "department": n.department, "status": n.status,
            "issued_at": n.issued_at, "delivered_at": n.delivered_at, "due_date": n.due_date or None}
