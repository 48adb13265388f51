"""未备案: cloud servers that map to no registered system (seeds 000 第十九条, 003 第十条).

A system outside the catalogue gets no O&M money, so every cloud server must map to a
registered system. The mapping is tried in order:

1. the explicit ``[catalogue.servers]`` table (server id -> system id);
2. by ``match``: ``system`` — the server's system field (inventory column, or the
   OpenStack metadata key) equals a registered system id, or a registered system name of
   the same department; ``name_pattern`` — the regex's group ``system`` on the server
   name is a registered system id; ``list`` — the table only.

Pure: no I/O; the catalogue is read by the caller.
"""

from __future__ import annotations

import re
from decimal import Decimal

from rightsizer.models import Finding, Kind, RegisteredSystem, Server
from rightsizer.settings import Settings

from . import sizing


def match_system(server: Server, by_id: dict[str, RegisteredSystem], by_name: dict[tuple[str, str], RegisteredSystem],
                 settings: Settings, pattern: re.Pattern | None) -> tuple[RegisteredSystem | None, str]:
    """The registered system of ``server`` and how it was looked for."""
    cat = settings.catalogue
    listed = cat.servers.get(server.server_id)
    if listed is not None:
        return by_id.get(listed), f"catalogue.servers lists system {listed!r}"
    if cat.match == "system":
        key = server.system
        if not key:
            return None, "the server names no system"
        hit = by_id.get(key) or by_name.get((server.department, key))
        return hit, f"system {key!r}"
    if cat.match == "name_pattern":
        m = pattern.search(server.name) if pattern else None
        if not m or not m.group("system"):
            return None, f"name {server.name!r} does not match name_pattern"
        return by_id.get(m.group("system")), f"system id {m.group('system')!r} from the name"
    return None, "not in catalogue.servers"


def find_unregistered(servers: list[Server], catalogue: list[RegisteredSystem], settings: Settings) -> list[Finding]:
    by_id = {s.system_id: s for s in catalogue}
    by_name = {(s.department, s.name): s for s in catalogue}
    cat = settings.catalogue
    pattern = re.compile(cat.name_pattern) if cat.name_pattern else None
    out = []
    for server in servers:
        hit, how = match_system(server, by_id, by_name, settings, pattern)
        if hit is not None:
            continue
        out.append(Finding(
            server_id=server.server_id, department=server.department, kind=Kind.UNREGISTERED, dimension=None,
            observed=None, threshold=None, current=server.size, recommended=None, monthly_saving_cny=Decimal(0),
            evidence={"looked_for": how, "match": cat.match, "system": server.system, "server_name": server.name,
                      # what the unregistered server costs a month: no O&M money until it is registered
                      "monthly_cost_cny": str(sizing.monthly_cost(server.size, settings.prices))},
        ))
    return out
