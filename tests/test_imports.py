"""The import rules of setup.cfg's [importlinter] hold, and they would catch a break.

Lazy (function-level) and TYPE_CHECKING imports count: grimp, which import-linter uses,
reads every import statement in a module.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("rightsizer", "collectors", "policies", "notifiers")
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT), "--config", str(root / "setup.cfg"), "--no-cache"], cwd=root,
                          capture_output=True, text=True, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})


def test_every_import_contract_is_kept():
    r = _lint(ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 broken" in r.stdout and "broken" not in r.stdout.replace("0 broken", "")


def test_no_import_cycle_between_any_two_modules():
    """Beyond siblings: no cycle anywhere in the module graph, across the four packages."""
    sys.path.insert(0, str(ROOT))
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    edges = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                scc.add(w)
                if w == v:
                    break
            if len(scc) > 1:
                cycles.append(sorted(scc))

    sys.setrecursionlimit(10000)
    for m in sorted(edges):
        if m not in index:
            visit(m)
    assert cycles == []


def test_the_contracts_catch_a_job_that_imports_the_cli_and_a_plugin_that_imports_a_sibling(tmp_path):
    copy = tmp_path / "tree"
    copy.mkdir()
    shutil.copy(ROOT / "setup.cfg", copy)
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, copy / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    relay = copy / "rightsizer" / "jobs" / "relay.py"
    relay.write_text(relay.read_text(encoding="utf-8") + "\n\ndef _x():\n    from rightsizer import cli  # lazy\n",
                     encoding="utf-8")
    influx = copy / "collectors" / "influxdb.py"
    influx.write_text(influx.read_text(encoding="utf-8").replace(
        "from .tsdb import", "from .prometheus import PrometheusError\nfrom .tsdb import"), encoding="utf-8")
    r = _lint(copy)
    assert r.returncode == 1
    assert "rightsizer.jobs.relay -> rightsizer.cli" in r.stdout
    assert "collectors.influxdb -> collectors.prometheus" in r.stdout
