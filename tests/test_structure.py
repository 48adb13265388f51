"""The shape of the code, pinned (issue 22): modules by reader and of a readable size, no job that reads the
clock, no time handled as text past the formatting module, and states named and labelled in one place."""
from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

from rightsizer import lifecycle

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("rightsizer", "collectors", "policies", "notifiers")


def _modules(*packages: str) -> list[Path]:
    return sorted(p for pkg in packages for p in (ROOT / pkg).rglob("*.py") if "revisions" not in p.parts)


def _templates() -> list[Path]:
    return sorted([*(ROOT / "rightsizer" / "web" / "templates").glob("*.html"),
                   *(ROOT / "notifiers" / "templates").glob("*.j2")])


def test_no_module_of_the_four_packages_is_over_400_lines_and_no_cli_module_over_300():
    long = {str(p.relative_to(ROOT)): n for p in _modules(*PACKAGES)
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > (300 if p.parent.name == "cli" else 400)}
    assert long == {}
    assert (ROOT / "rightsizer" / "cli").is_dir() and (ROOT / "rightsizer" / "daemon").is_dir()


CLOCK_READS = {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today"),
               ("time", "time"), ("time", "time_ns"), ("time", "monotonic"), ("time", "perf_counter"),
               ("time", "localtime"), ("time", "gmtime")}


def _clock_reads(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            name = owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else ""
            if (name, node.func.attr) in CLOCK_READS:
                out.append(f"{path.name}:{node.lineno} {name}.{node.func.attr}()")
    return out


def test_no_job_module_reads_the_clock():
    jobs = _modules("rightsizer/jobs")
    assert len(jobs) >= 10  # every module of the package, not a chosen few
    assert [r for p in jobs for r in _clock_reads(p)] == []


def test_the_clock_scan_finds_a_read_of_the_clock(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import time\nfrom datetime import datetime\n\ndef f():\n    return datetime.now(), "
                      "time.monotonic()\n", encoding="utf-8")
    assert _clock_reads(sample) == ["sample.py:5 datetime.now()", "sample.py:5 time.monotonic()"]


TIME_AS_TEXT = [
    re.compile(r"\[:(?:7|10|13|16|19)\]"),  # a time or a date sliced as text
    re.compile(r"\[5:10\]"),
    re.compile(r"isoformat\(\)\s*[<>]=?|[<>]=?\s*[\w.]+\.isoformat\(\)"),  # compared as text
    re.compile(r"fromisoformat\(\s*\w+\.(?:at|issued_at|delivered_at|due_date|closed_at|sent_at|created_at)\b"),
]


def test_no_time_is_sliced_or_compared_as_text_outside_the_formatting_module():
    found = []
    for p in [*_modules(*PACKAGES), *_templates()]:
        if p.name == "format.py":
            continue
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0] if p.suffix == ".py" else line
            if any(rx.search(code) for rx in TIME_AS_TEXT):
                found.append(f"{p.relative_to(ROOT)}:{i}: {line.strip()}")
    assert found == []


LABELS = {*lifecycle.NOTICE_LABELS.values(), *lifecycle.ITEM_LABELS.values(), *lifecycle.DELIVERY_LABELS.values(),
          *lifecycle.REQUEST_LABELS.values(), *lifecycle.ANSWER_LABELS.values(), *lifecycle.SERVER_LABELS.values()}
STATES = {s.value for s in (*lifecycle.NoticeState, *lifecycle.ItemState)} - {"open"}


def _string_literals(path: Path) -> list[tuple[int, str]]:
    out = []
    for tok in tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline):
        if tok.type == tokenize.STRING:
            try:
                value = ast.literal_eval(tok.string)
            except (ValueError, SyntaxError):
                continue  # an f-string: its parts are text, not a table
            if isinstance(value, str):
                out.append((tok.start[0], value))
    return out


def test_only_the_lifecycle_names_and_labels_states():
    """No other module writes a state's Chinese label, and no other module lists states (a tuple of two or
    more state names) — the CLI, the console, the templates, the reports and /metrics read the table."""
    found = []
    for p in _modules(*PACKAGES):
        if p.name == "lifecycle.py":
            continue
        for line, value in _string_literals(p):
            if value in LABELS:
                found.append(f"{p.relative_to(ROOT)}:{line}: label {value!r}")
        tree = ast.parse(p.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
                texts = [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
                names = [t for t in texts if t in STATES]
                if len(names) >= 2 and len(names) == len(texts):  # a list of states (not of column keys)
                    found.append(f"{p.relative_to(ROOT)}:{node.lineno}: states {names}")
    for p in _templates():
        text = p.read_text(encoding="utf-8")
        for expr in re.findall(r"\{[{%](.*?)[}%]\}", text, re.S):
            found += [f"{p.relative_to(ROOT)}: {expr.strip()[:60]}" for s in STATES | LABELS
                      if re.search(rf"['\"]{re.escape(s)}['\"]", expr)]
    assert found == []


def test_the_label_scan_finds_a_label_table(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('ZH = {"escalated": "已督办"}\nOPEN = ("issued", "delivered")\n', encoding="utf-8")
    assert [v for _, v in _string_literals(sample) if v in LABELS] == ["已督办"]


def test_the_cli_the_daemon_and_the_demo_evaluate_through_one_orchestration():
    """No entry point judges or records an evaluation on its own (the demo used to skip resize history)."""
    entry = [*_modules("rightsizer/cli", "rightsizer/daemon", "rightsizer/web"), ROOT / "rightsizer" / "demo.py"]
    calls = []
    for p in entry:
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and isinstance(node.func.value, ast.Name):
                calls.append((p.name, node.func.value.id, node.func.attr))
    assert {c for c in calls if c[1] == "evaluate"} == {("evaluate.py", "evaluate", "evaluate"),
                                                        ("evaluate.py", "evaluate", "window_end"),
                                                        ("scheduler.py", "evaluate", "evaluate"),
                                                        ("scheduler.py", "evaluate", "window_end"),
                                                        ("scheduler.py", "evaluate", "Sources"),
                                                        ("evaluate.py", "evaluate", "Sources"),
                                                        ("demo.py", "evaluate", "evaluate"),
                                                        ("demo.py", "evaluate", "window_end"),
                                                        ("demo.py", "evaluate", "Sources")}
    assert not [c for c in calls if c[1] == "engine"]
