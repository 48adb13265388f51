"""The local sample store: numpy arrays on disk, one block per import.

Layout: ``<root>/<block>/{meta.json,cpu.npy,mem.npy,disk.npy}``, each array
float32 ``(servers, slots)`` with NaN for missing samples. Reading memory-maps
the blocks and copies only the requested window, so a 10,000-server fleet is
read without loading every block whole.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .summaries import METRICS, SampleGrid


class SampleStore:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def write(self, grid: SampleGrid, name: str) -> Path:
        """Write a block atomically: a half-written block is never visible."""
        final = self.root / name
        tmp = self.root / f".{name}.tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        for m in METRICS:
            np.save(tmp / f"{m}.npy", np.asarray(getattr(grid, m), dtype=np.float32))
        meta = {"server_ids": grid.server_ids, "start": grid.start, "step": grid.step, "slots": grid.slots}
        (tmp / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        if final.exists():
            for f in final.iterdir():
                f.unlink()
            final.rmdir()
        os.replace(tmp, final)
        return final

    def blocks(self) -> list[Path]:
        if not self.root.exists():
            return []
        return sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def read(self, server_ids: list[str], start: int, step: int, slots: int) -> SampleGrid:
        """The samples of ``server_ids`` on the grid ``start + i*step``; NaN where no block has data."""
        blocks = self.blocks()
        metas = [json.loads((b / "meta.json").read_text(encoding="utf-8")) for b in blocks]
        if len(blocks) == 1 and metas[0]["server_ids"] == list(server_ids) and metas[0]["start"] == start \
                and metas[0]["step"] == step and metas[0]["slots"] == slots:
            # The common case (one block, same grid): hand out the memory maps, no copy.
            return SampleGrid(list(server_ids), start, step,
                              *(np.load(blocks[0] / f"{m}.npy", mmap_mode="r") for m in METRICS))
        out = SampleGrid.empty(server_ids, start, step, slots)
        want = {sid: i for i, sid in enumerate(server_ids)}
        for block, meta in zip(blocks, metas):
            if meta["step"] != step or (meta["start"] - start) % step:
                raise ValueError(f"{block}: step {meta['step']} s / start do not match the requested grid")
            offset = (meta["start"] - start) // step
            lo, hi = max(0, -offset), min(meta["slots"], slots - offset)
            if lo >= hi:
                continue
            src = [(j, want[sid]) for j, sid in enumerate(meta["server_ids"]) if sid in want]
            if not src:
                continue
            src_rows = np.array([j for j, _ in src])
            dst_rows = np.array([i for _, i in src])
            for m in METRICS:
                arr = np.load(block / f"{m}.npy", mmap_mode="r")
                dst = getattr(out, m)
                # fmax: where two blocks overlap, keep the measured value over NaN.
                dst[dst_rows, lo + offset:hi + offset] = np.fmax(dst[dst_rows, lo + offset:hi + offset],
                                                                 arr[src_rows, lo:hi])
                del arr
        return out
