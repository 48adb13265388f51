"""OpenStack inventory through openstacksdk: servers of every project, their sizes and owners.

Reads, with the credentials of a ``clouds.yaml`` entry (``cloud``, or ``OS_CLOUD``;
application credentials recommended, read-only role enough):

* servers of all projects (``/servers/detail?all_tenants=1``), page by page — Nova
  caps a page at ``osapi_max_limit`` (1,000) and links the next one;
* flavors (``/flavors/detail``) for servers in the 2.1 shape, which carry only a flavor
  id; from microversion 2.47 the server embeds its flavor's vCPUs, RAM and disk;
* volumes (Cinder, all projects): attached volumes add to the server's disk, so a
  boot-from-volume server (flavor disk 0) has its real size;
* projects and domains (Keystone) for the owning department.

The department comes from, in order: the explicit ``departments`` table (keyed by
project id or name), then ``department_from`` — the project's name, its domain's
name, a server tag ``<tag_prefix><department>``, or a server metadata key. A server
whose department cannot be found is kept (nothing is lost) under ``unknown_department``
and listed in the result's warnings. ``delivered_at`` is ``OS-SRV-USG:launched_at``,
else ``created``.

Configuration example::

    [inventory.openstack]
    cloud = "gov-cloud"            # clouds.yaml entry; empty = OS_CLOUD
    department_from = "project"    # project | domain | tag | metadata
    tag_prefix = "dept:"
    metadata_key = "department"
    system_metadata_key = "system"
    include_volumes = true
    page_size = 1000
    [inventory.openstack.departments]
    "3b1f...project-id" = "市教育和体育局"
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from rightsizer.models import Server, Size

from .config import OpenStackSettings
from .session import OpenStackError, connect

__all__ = ["CloudServer", "Inventory", "OpenStackError", "OpenStackSettings", "connect", "read_inventory"]


@dataclass
class CloudServer:
    """A server as the cloud describes it, before it becomes a :class:`Server`."""

    server: Server
    project_id: str
    status: str
    flavor_name: str
    metadata: dict[str, str]
    tags: list[str]


@dataclass
class Inventory:
    servers: list[CloudServer]
    warnings: list[str] = field(default_factory=list)
    requests: dict[str, int] = field(default_factory=dict)


def _ts(text: str | None, tz: ZoneInfo) -> datetime | None:
    """Nova's launched_at has no zone and is UTC; created is ISO 8601 with Z."""
    if not text:
        return None
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(tz)


def read_inventory(conn, cfg: OpenStackSettings, tz: ZoneInfo) -> Inventory:
    """All servers of all projects with size, department, system and delivery time."""
    from keystoneauth1 import exceptions as ksexc
    from openstack import exceptions as osexc

    from openstack.warnings import _RemovedInSDKWarning

    try:
        with warnings.catch_warnings():
            # the SDK warns about its own internals on every resource; nothing an operator can act on
            warnings.simplefilter("ignore", _RemovedInSDKWarning)
            return _read(conn, cfg, tz)
    except osexc.HttpException as exc:
        raise OpenStackError(f"OpenStack answered HTTP {exc.status_code} for {_where(exc)}") from None
    except (ksexc.ClientException, osexc.SDKException) as exc:
        # keystoneauth's messages name the URL, never the secret
        raise OpenStackError(f"cannot reach OpenStack: {type(exc).__name__}: {str(exc)[:300]}") from None


def _where(exc) -> str:
    url = getattr(getattr(exc, "response", None), "url", "") or ""
    return url.split("?")[0] or "a request"


def _read(conn, cfg: OpenStackSettings, tz: ZoneInfo) -> Inventory:
    inv = Inventory(servers=[])
    count = inv.requests
    domains = {d.id: d.name for d in conn.identity.domains()}
    projects = {p.id: (p.name, p.domain_id) for p in conn.identity.projects()}
    flavors: dict[str, dict] = {}
    for f in conn.compute.flavors(details=True):
        flavors[f.id] = {"name": f.name, "vcpus": f.vcpus, "ram": f.ram, "disk": f.disk}
    count["flavors"] = len(flavors)
    attached: dict[str, float] = {}
    if cfg.include_volumes:
        n = 0
        for v in _pages(conn.block_storage, "/volumes/detail", {"all_tenants": 1}, "volumes"):
            n += 1
            for a in v.get("attachments") or []:
                sid = a.get("server_id")
                if sid:
                    attached[sid] = attached.get(sid, 0.0) + float(v.get("size") or 0)
        count["volumes"] = n
    n = 0
    from openstack.utils import maximum_supported_microversion

    mv = maximum_supported_microversion(conn.compute, "2.79")  # tags from 2.26, the flavor embedded from 2.47
    for raw in _pages(conn.compute, "/servers/detail", {"all_tenants": 1, "limit": cfg.page_size}, "servers", mv):
        n += 1
        s = _Server(raw)
        fl = raw.get("flavor") or {}
        if fl.get("vcpus"):  # microversion >= 2.47: the flavor is embedded
            name = fl.get("original_name") or fl.get("name") or ""
            vcpus, ram_mb, disk = fl["vcpus"], fl.get("ram") or 0, fl.get("disk") or 0
        else:  # 2.1 shape: only the flavor id
            fid = fl.get("id") or ""
            known = flavors.get(fid or "")
            if known is None:
                inv.warnings.append(f"server {s.id} ({s.name}): flavor {fid!r} is not in /flavors/detail "
                                    "(deleted or private); its size is unknown, server left out")
                continue
            name, vcpus, ram_mb, disk = known["name"], known["vcpus"], known["ram"], known["disk"]
        project_id = s.project_id or ""
        metadata = dict(s.metadata or {})
        tags = list(s.tags or [])
        dept = _department(cfg, project_id, projects, domains, metadata, tags)
        if dept is None:
            dept = cfg.unknown_department
            inv.warnings.append(f"server {s.id} ({s.name}): no department for project {project_id} "
                                f"by {cfg.department_from}; listed under {dept}")
        delivered = _ts(s.launched_at, tz) or _ts(s.created_at, tz)
        if delivered is None:
            inv.warnings.append(f"server {s.id} ({s.name}): neither launched_at nor created; server left out")
            continue
        server = Server(
            server_id=s.id, name=s.name or s.id, department=dept,
            system=metadata.get(cfg.system_metadata_key, ""),
            size=Size(int(vcpus), round(ram_mb / 1024, 3), float(disk) + attached.get(s.id, 0.0)),
            delivered_at=delivered,
        )
        inv.servers.append(CloudServer(server, project_id, s.status or "", name, metadata, tags))
    count["servers"] = n
    return inv


class _Server:
    """The fields of a server in Nova's JSON that the inventory reads (under the names openstacksdk gives)."""

    def __init__(self, doc: dict):
        self.id, self.name, self.status = doc["id"], doc.get("name"), doc.get("status")
        self.project_id = doc.get("tenant_id") or doc.get("project_id")
        self.metadata, self.tags = doc.get("metadata"), doc.get("tags")
        self.launched_at, self.created_at = doc.get("OS-SRV-USG:launched_at"), doc.get("created")


def _pages(proxy, path: str, params: dict, key: str, microversion: str | None = None):
    """Every item of a paged list as Nova or Cinder sends it (``<key>_links`` rel=next), as plain dicts.

    Through the SDK's own authenticated adapter (catalogue, token, retries), but without building a
    Resource per item: at a province's 100,000 servers openstacksdk's objects cost ~3 ms each, minutes
    in all, where reading the JSON takes seconds."""
    from openstack import exceptions

    url, query = path, dict(params)
    while url:
        resp = proxy.get(url, params=query, microversion=microversion)
        exceptions.raise_from_response(resp)
        doc = resp.json()
        yield from doc.get(key) or []
        nxt = [x["href"] for x in doc.get(f"{key}_links") or [] if x.get("rel") == "next"]
        url, query = (nxt[0], None) if nxt else (None, None)


def _department(cfg, project_id, projects, domains, metadata, tags) -> str | None:
    pname, domain_id = projects.get(project_id, (None, None))
    for key in (project_id, pname):
        if key and key in cfg.departments:
            return cfg.departments[key]
    if cfg.department_from == "project":
        return pname
    if cfg.department_from == "domain":
        return domains.get(domain_id) if domain_id else None
    if cfg.department_from == "tag":
        for t in tags:
            if t.startswith(cfg.tag_prefix) and len(t) > len(cfg.tag_prefix):
                return t[len(cfg.tag_prefix):]
        return None
    return metadata.get(cfg.metadata_key) or None
