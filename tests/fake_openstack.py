"""A small fake OpenStack (Keystone v3, Nova, Cinder, Gnocchi) on 127.0.0.1 that openstacksdk talks to over HTTP.

It follows the published API where rightsizer touches it:

* Keystone v3: version discovery, ``POST /v3/auth/tokens`` (password or application
  credential) answering ``X-Subject-Token`` and a service catalogue; every other request
  must carry that token in ``X-Auth-Token`` (401 otherwise); ``/v3/projects``, ``/v3/domains``.
* Nova 2.1 with microversions up to ``max_microversion``: ``/servers/detail`` paged by
  ``limit``/``marker`` and capped at ``max_limit`` (Nova's ``osapi_max_limit``, 1,000),
  linking the next page in ``servers_links``; servers in the 2.1 shape (``flavor: {id,
  links}``) or, when the request asks for ≥ 2.47, with the flavor embedded; ``all_tenants``
  needed to see other projects; ``/flavors/detail``.
* Cinder v3: ``/volumes/detail?all_tenants=1`` with attachments.
* Gnocchi: ``POST /v1/aggregates?groupby=id`` for ``(aggregate rate:mean|mean (metric M mean))``
  over the resources in ``search.in.id``, answering ``[{group: {id}, measures: {measures:
  {aggregated: [[time, granularity, value], ...]}}}]``.

It is a test double, not an OpenStack: anything else is 404.
"""
from __future__ import annotations

import json
import re
import threading
import urllib.parse
from datetime import datetime, timezone
from dataclasses import dataclass, field

from localserver import LocalServer, QuietHandler

TOKEN = "gAAAAAB-fake-token"
ADMIN_PROJECT = "p-admin"


@dataclass
class FakeCloud:
    servers: list[dict] = field(default_factory=list)  # each: id, name, project, flavor, launched_at, ...
    flavors: dict[str, dict] = field(default_factory=dict)  # id -> name, vcpus, ram (MiB), disk (GiB)
    volumes: list[dict] = field(default_factory=list)  # id, size, server_id or None, project
    projects: dict[str, dict] = field(default_factory=dict)  # id -> name, domain_id
    domains: dict[str, str] = field(default_factory=dict)  # id -> name
    app_credential: tuple[str, str] = ("app-cred-id", "app-cred-secret")
    max_microversion: str = "2.79"
    max_limit: int = 1000
    # Gnocchi: (server id, metric) -> (epoch seconds of each period's start, the period's mean)
    measures: dict[tuple[str, str], tuple[list[int], list[float]]] = field(default_factory=dict)
    granularity: int = 300
    gnocchi_status: int = 200  # set to e.g. 503 to make Gnocchi fail
    requests: list[tuple[str, str, dict]] = field(default_factory=list)  # (method, path, headers)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_server(self, sid, name, project, flavor, launched_at="2026-01-05T02:00:00.000000", **extra):
        self.servers.append({"id": sid, "name": name, "project": project, "flavor": flavor,
                             "launched_at": launched_at, "created": launched_at[:19] + "Z", **extra})


def _mv(text: str) -> tuple[int, int]:
    a, b = text.split(".")
    return int(a), int(b)


class _Handler(QuietHandler):
    cloud: FakeCloud
    base: str

    def _send(self, code: int, doc, headers: dict | None = None):
        body = json.dumps(doc).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _record(self):
        with self.cloud.lock:
            self.cloud.requests.append((self.command, self.path, dict(self.headers)))

    # -- discovery ----------------------------------------------------------------------

    def _versions(self, path: str):
        b = self.base
        ident = {"id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
                 "links": [{"rel": "self", "href": f"{b}/identity/v3/"}],
                 "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]}
        nova = {"id": "v2.1", "status": "CURRENT", "version": self.cloud.max_microversion, "min_version": "2.1",
                "updated": "2013-07-23T11:33:21Z", "links": [{"rel": "self", "href": f"{b}/compute/v2.1/"}]}
        cinder = {"id": "v3.0", "status": "CURRENT", "version": "3.70", "min_version": "3.0",
                  "updated": "2023-08-31T00:00:00Z", "links": [{"rel": "self", "href": f"{b}/volume/v3/"}]}
        docs = {
            "/identity": {"versions": {"values": [ident]}}, "/identity/v3": {"version": ident},
            "/compute": {"versions": [nova]}, "/compute/v2.1": {"version": nova},
            "/volume": {"versions": [cinder]}, "/volume/v3": {"version": cinder},
            f"/volume/v3/{ADMIN_PROJECT}": {"version": cinder},
        }
        return docs.get(path.rstrip("/") or "/")

    # -- requests -----------------------------------------------------------------------

    def do_POST(self):
        self._record()
        path = urllib.parse.urlparse(self.path).path
        if path.rstrip("/") == "/metric/v1/aggregates":
            return self._aggregates()
        if path.rstrip("/") != "/identity/v3/auth/tokens":
            return self._send(404, {"error": {"code": 404, "message": "not found"}})
        length = int(self.headers.get("Content-Length") or 0)
        doc = json.loads(self.rfile.read(length) or b"{}")
        ident = doc.get("auth", {}).get("identity", {})
        cred = ident.get("application_credential", {})
        if "application_credential" not in ident.get("methods", []) or \
                (cred.get("id"), cred.get("secret")) != self.cloud.app_credential:
            return self._send(401, {"error": {"code": 401, "title": "Unauthorized",
                                              "message": "The request you have made requires authentication."}})
        b = self.base

        def svc(kind, name, url):
            return {"type": kind, "name": name, "id": name, "endpoints": [
                {"id": f"{name}-public", "interface": "public", "region": "RegionOne", "region_id": "RegionOne",
                 "url": url}]}

        token = {"token": {
            "methods": ["application_credential"], "expires_at": "2099-01-01T00:00:00.000000Z",
            "issued_at": "2026-11-20T00:00:00.000000Z",
            "user": {"id": "u-rightsizer", "name": "rightsizer", "domain": {"id": "default", "name": "Default"}},
            "project": {"id": ADMIN_PROJECT, "name": "admin", "domain": {"id": "default", "name": "Default"}},
            "roles": [{"id": "r-reader", "name": "reader"}],
            "application_credential": {"id": cred["id"], "name": "rightsizer", "restricted": True},
            "catalog": [svc("identity", "keystone", f"{b}/identity"),
                        svc("compute", "nova", f"{b}/compute/v2.1"),
                        svc("block-storage", "cinderv3", f"{b}/volume/v3/{ADMIN_PROJECT}"),
                        svc("metric", "gnocchi", f"{b}/metric")],
        }}
        return self._send(201, token, {"X-Subject-Token": TOKEN})

    def do_GET(self):
        self._record()
        url = urllib.parse.urlparse(self.path)
        path, q = url.path, urllib.parse.parse_qs(url.query)
        doc = self._versions(path)
        if doc is not None:
            return self._send(200, doc)
        if self.headers.get("X-Auth-Token") != TOKEN:
            return self._send(401, {"error": {"code": 401, "message": "The request you have made requires "
                                                                        "authentication."}})
        c = self.cloud
        if path == "/identity/v3/projects":
            return self._send(200, {"projects": [
                {"id": pid, "name": p["name"], "domain_id": p["domain_id"], "enabled": True, "links": {}}
                for pid, p in c.projects.items()], "links": {"next": None, "previous": None}})
        if path == "/identity/v3/domains":
            return self._send(200, {"domains": [{"id": d, "name": n, "enabled": True, "links": {}}
                                                for d, n in c.domains.items()], "links": {"next": None}})
        if path == "/compute/v2.1/flavors/detail":
            return self._send(200, {"flavors": [
                {"id": fid, "name": f["name"], "vcpus": f["vcpus"], "ram": f["ram"], "disk": f["disk"],
                 "OS-FLV-EXT-DATA:ephemeral": 0, "swap": 0, "os-flavor-access:is_public": True, "links": []}
                for fid, f in c.flavors.items()]})
        if path == "/compute/v2.1/servers/detail":
            return self._servers(q)
        if path == f"/volume/v3/{ADMIN_PROJECT}/volumes/detail":
            all_t = q.get("all_tenants", ["0"])[0].lower() in ("1", "true")
            vols = [v for v in c.volumes if all_t or v["project"] == ADMIN_PROJECT]
            return self._send(200, {"volumes": [
                {"id": v["id"], "name": v["id"], "size": v["size"], "status": "in-use" if v["server_id"] else
                 "available", "os-vol-tenant-attr:tenant_id": v["project"],
                 "attachments": [{"server_id": v["server_id"], "attachment_id": f"a-{v['id']}",
                                  "volume_id": v["id"], "device": "/dev/vdb"}] if v["server_id"] else []}
                for v in vols]})
        return self._send(404, {"itemNotFound": {"code": 404, "message": f"{path} not found"}})

    def _aggregates(self):
        """Gnocchi ``POST /v1/aggregates?groupby=id``: the two operations rightsizer sends."""
        if self.headers.get("X-Auth-Token") != TOKEN:
            return self._send(401, {"code": 401, "description": "Authentication required"})
        c = self.cloud
        if c.gnocchi_status != 200:
            return self._send(c.gnocchi_status, {"code": c.gnocchi_status, "description": "unavailable"})
        q = {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query).items()}
        doc = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        m = re.fullmatch(r"\(aggregate (rate:mean|mean) \(metric (\S+) mean\)\)", doc.get("operations", ""))
        if q.get("groupby") != "id" or not m or int(q.get("granularity", 0)) != c.granularity:
            return self._send(400, {"code": 400, "description": "unsupported query"})
        aggregation, metric = m.groups()
        start, stop = (datetime.fromisoformat(q[k]).timestamp() for k in ("start", "stop"))
        out = []
        for rid in doc["search"]["in"]["id"]:
            if (rid, metric) not in c.measures:
                continue
            ts, vals = c.measures[(rid, metric)]
            pts = [(t, v) for t, v in zip(ts, vals) if start <= t < stop]
            if aggregation == "rate:mean":  # the change from the previous period; the first has none
                pts = [(t, v - pv) for (pt, pv), (t, v) in zip(pts, pts[1:])]
            out.append({"group": {"id": rid}, "measures": {"measures": {"aggregated": [
                [datetime.fromtimestamp(t, timezone.utc).isoformat(), float(c.granularity), v] for t, v in pts]}}})
        return self._send(200, out)

    def _servers(self, q: dict):
        c = self.cloud
        asked = self.headers.get("OpenStack-API-Version", "") or self.headers.get("X-OpenStack-Nova-API-Version", "")
        mv = asked.replace("compute", "").strip() or "2.1"
        if mv == "latest":
            mv = c.max_microversion
        if _mv(mv) > _mv(c.max_microversion):
            return self._send(406, {"computeFault": {"code": 406, "message": f"Version {mv} is not supported"}})
        embedded = _mv(mv) >= (2, 47)
        all_t = q.get("all_tenants", ["0"])[0].lower() in ("1", "true")
        rows = [s for s in c.servers if all_t or s["project"] == ADMIN_PROJECT]
        rows.sort(key=lambda s: s["id"])
        limit = min(int(q.get("limit", [c.max_limit])[0]), c.max_limit)
        marker = q.get("marker", [None])[0]
        if marker is not None:
            ids = [s["id"] for s in rows]
            if marker not in ids:
                return self._send(400, {"badRequest": {"code": 400, "message": f"marker [{marker}] not found"}})
            rows = rows[ids.index(marker) + 1:]
        page, more = rows[:limit], len(rows) > limit
        out = []
        for s in page:
            f = c.flavors[s["flavor"]]
            flavor = ({"original_name": f["name"], "vcpus": f["vcpus"], "ram": f["ram"], "disk": f["disk"],
                       "ephemeral": 0, "swap": 0, "extra_specs": {}} if embedded else
                      {"id": s["flavor"], "links": [{"rel": "bookmark", "href": f"{self.base}/compute/flavors/"
                                                                                f"{s['flavor']}"}]})
            out.append({"id": s["id"], "name": s["name"], "status": s.get("status", "ACTIVE"),
                        "tenant_id": s["project"], "user_id": "u-1", "flavor": flavor,
                        "metadata": s.get("metadata", {}), "created": s["created"], "updated": s["created"],
                        "OS-SRV-USG:launched_at": s["launched_at"], "addresses": {}, "links": [],
                        **({"tags": s.get("tags", [])} if _mv(mv) >= (2, 26) else {})})
        doc = {"servers": out}
        if more:
            nq = {k: v[0] for k, v in q.items() if k not in ("marker",)}
            nq["marker"] = page[-1]["id"]
            nq["limit"] = str(limit)
            doc["servers_links"] = [{"rel": "next", "href": f"{self.base}/compute/v2.1/servers/detail?"
                                                             f"{urllib.parse.urlencode(nq)}"}]
        return self._send(200, doc)


class FakeOpenStack(LocalServer):
    """``with FakeOpenStack(cloud) as fake: fake.url ...`` — serves on 127.0.0.1 in a thread."""

    def __init__(self, cloud: FakeCloud):
        self.cloud = cloud
        handler = type("Handler", (_Handler,), {"cloud": cloud})
        super().__init__(handler)
        handler.base = self.url

    def clouds_yaml(self, path, name="gov-cloud") -> str:
        cid, secret = self.cloud.app_credential
        path.write_text(
            f"clouds:\n  {name}:\n    auth_type: v3applicationcredential\n    auth:\n"
            f"      auth_url: {self.url}/identity/v3\n      application_credential_id: {cid}\n"
            f"      application_credential_secret: {secret}\n    region_name: RegionOne\n"
            f"    interface: public\n    identity_api_version: 3\n")
        return name
