"""``/api/v1/``: JSON (and CSV for reports) for systems that pull, with bearer tokens.

A token (``rightsizer tokens add NAME --role … [--department D]``) is scoped like an account:
a department token reads its department only (another's server or notice is 404), a finance
token reads the reports and cannot write (403). The description is ``/api/v1/openapi.json``.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from ..errors import NotFoundError, StateError, UsageError
from ..format import iso_time, size_json
from ..jobs import accounts, actions, reports, views
from ..lifecycle import Forbidden, Viewer
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
        v = accounts.viewer_of_token(state.store, creds.credentials, state.clock())
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

    tz = state.settings.tz

    @api.get("/servers", summary="Servers in the token's scope")
    def servers(limit: int = 1000, offset: int = 0, v: Viewer = Depends(who)):
        rows = views.servers(state.store, v, min(max(1, limit), 10000), min(max(0, offset), 2**31 - 1))
        return [{"server_id": r.server_id, "name": r.name, "department": r.department, "system": r.system,
                 "vcpus": r.vcpus, "ram_gib": r.ram_gib, "disk_gib": r.disk_gib,
                 "delivered_at": iso_time(r.delivered_at, tz)} for r in rows]

    @api.get("/servers/{server_id}", summary="A server with its open findings and statistics over time")
    def server(server_id: str, v: Viewer = Depends(who)):
        d = views.server(state.store, v, server_id, state.clock().astimezone(tz).date())
        s = d.server
        return {"server_id": s.server_id, "name": s.name, "department": s.department, "system": s.system,
                "size": size_json(_size(s)), "status": d.status.to_json(tz),
                "findings": [f.to_json() | {"id": i} for i, f in d.findings],
                "history": [{"at": iso_time(h.at, tz), "cpu_p95_pct": h.cpu_p95_pct,
                             "memory_peak_pct": h.memory_peak_pct, "disk_latest_pct": h.disk_latest_pct,
                             "coverage": h.coverage} for h in d.history]}

    @api.get("/findings", summary="Open findings in the token's scope")
    def findings(v: Viewer = Depends(who)):
        return [f.to_json() | {"id": i} for i, f in views.findings(state.store, v)]

    @api.get("/notices", summary="Notices in the token's scope (the notice's own fields, items counted by state)")
    def notices(v: Viewer = Depends(who)):
        return [n.to_json(tz) for n in views.notices(state.store, v, newest_first=True)]

    @api.get("/notices/{notice_id}", summary="A notice with its items, answers, events and deliveries: the same "
             "JSON as `rightsizer notices show --format json`")
    def notice(notice_id: int, v: Viewer = Depends(who)):
        return views.notice(state.store, v, notice_id).to_json(tz)

    @api.post("/notices/{notice_id}/ack", summary="Acknowledge a notice (department or operator tokens)")
    def ack(notice_id: int, body: Ack, v: Viewer = Depends(who)):
        t = actions.ack(state.store, v, state.clock(), notice_id, body.note)
        return {"number": t.number, "from": t.old.value, "to": t.new.value, "to_zh": t.new.label}

    @api.get("/reports/monthly", summary="The monthly waste report (format json or csv)")
    def monthly(month: str, format: str = "json", v: Viewer = Depends(who)):
        try:
            m = Month.parse(month)
        except ValueError:
            raise UsageError(f"month: {month!r} is not YYYY-MM") from None
        if format not in ("json", "csv"):
            raise UsageError("format: json or csv")
        r = reports.monthly(state.store, state.settings, m, state.clock(), v.scope)
        accounts.audit_download(state.store, v, state.clock(), f"monthly {m}.{format} (api)", v.scope)
        if format == "json":
            return r.to_json()
        return download(writers.monthly(r, "csv"), f"{m}-云资源浪费报告.csv")

    return api


def _size(row):
    from ..models import Size

    return Size(row.vcpus, row.ram_gib, row.disk_gib)
