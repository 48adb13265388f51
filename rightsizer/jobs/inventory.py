"""Inventory sync: read every server from OpenStack, record what changed, verify open notices."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ..calendar import WorkCalendar
from ..db import Store
from ..db import inventory as db_inventory
from ..records import InventoryChange
from ..errors import SourceError
from ..settings import Settings


@dataclass
class CloudInventory:
    servers: list  # collectors.openstack.CloudServer
    source: str  # e.g. "openstack:gov-cloud"
    warnings: list[str] = field(default_factory=list)


@dataclass
class SyncResult:
    servers: int
    source: str
    changes: list[InventoryChange]
    warnings: list[str]
    rectified: int  # findings on open notices verified as rectified by this sync
    closed: list[str]  # notices that this closed

    def count(self, change: str) -> int:
        return sum(1 for c in self.changes if c.change == change)


def read_cloud(settings: Settings, cloud: str | None = None) -> CloudInventory:
    """Every server from OpenStack (``cloud`` overrides ``[inventory.openstack] cloud``)."""
    from collectors.openstack import OpenStackError, connect, read_inventory

    cfg = settings.inventory.openstack
    if cloud:
        cfg = cfg.model_copy(update={"cloud": cloud})
    try:
        inv = read_inventory(connect(cfg), cfg, settings.tz)
    except OpenStackError as exc:
        raise SourceError(f"openstack: {exc}") from None
    return CloudInventory(inv.servers, f"openstack:{cfg.cloud or 'OS_CLOUD'}", [f"openstack: {w}" for w in inv.warnings])


def read_csv(path: Path, settings: Settings) -> CloudInventory:
    """An inventory CSV as the cloud's word (a centre without OpenStack); flavors are named by size."""
    from types import SimpleNamespace

    from collectors.csv_import import read_inventory

    servers = read_inventory(path, settings.tz)
    return CloudInventory([SimpleNamespace(server=s, flavor_name=None, status="ACTIVE") for s in servers],
                          f"csv:{path}")


def sync(store: Store, settings: Settings, calendar: WorkCalendar, now: datetime, cloud: str | None = None,
         out: Path | None = None, csv: Path | None = None) -> SyncResult:
    """Record the cloud's servers (from OpenStack, or the inventory CSV ``csv``) and their changes (one
    transaction), then verify open notices.

    ``out`` also writes the servers as an inventory CSV.
    """
    from . import notices

    inv = read_csv(csv, settings) if csv else read_cloud(settings, cloud)
    with store.begin() as conn:
        changes = db_inventory.record_sync(conn, inv.source, now,
                                           [(c.server, c.flavor_name, c.status) for c in inv.servers])
    if out:
        from collectors.csv_import import write_inventory

        write_inventory(out, [c.server for c in inv.servers])
    # Rectification is verified on each sync: the open notices see the changes at once.
    swept = notices.sweep(store, settings, calendar, now, issue_new=False, deadlines=False)
    return SyncResult(len(inv.servers), inv.source, changes, inv.warnings, swept.rectified, swept.closed)
