"""Usage from the local sample store (numpy blocks on disk, :mod:`rightsizer.samplestore`).

The embedded default for a centre without a TSDB, and what ``make demo-daemon`` reads:
the window's samples are read from the blocks and summarised here with numpy. A server no
block covers gets a summary with no data — ``insufficient_data``, never idle.

Configuration example::

    [metrics]
    source = "local"
    [metrics.local]
    dir = "/var/lib/rightsizer/samples"   # empty = <state_dir>/samples
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from rightsizer.models import Server, UsageSummary
from rightsizer.samplestore import SampleStore
from rightsizer.settings import Settings
from rightsizer.summaries import summarise

from .config import LocalSettings
from .tsdb import RequestStats


class LocalStoreCollector:
    def __init__(self, cfg: LocalSettings, settings: Settings):
        self.root = Path(cfg.dir) if cfg.dir else settings.store.state_dir / "samples"
        self.where = str(self.root)
        self.stats = RequestStats()

    def summaries(self, servers: list[Server], at: datetime, settings: Settings) -> list[UsageSummary]:
        store = SampleStore(self.root)
        step, days = settings.window.step_seconds, settings.window.days
        slots = days * 86400 // step
        start = (int(at.timestamp()) - slots * step) // step * step
        self.stats.requests += 1
        if not store.blocks():
            self.stats.errors.append(f"no sample blocks under {self.root}")
        grid = store.read([s.server_id for s in servers], start, step, slots + 1)
        return summarise(grid, servers, at, settings)
