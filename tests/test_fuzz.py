"""Fuzzing the inputs an operator hands to `rightsizer evaluate` and `check-config` (issue 9).

Seeded: every run makes the same variants, so a failure names a variant that can be rerun.
For every **bad** input: exit 2, a message naming ``file:line: field`` (or the key path of
the configuration), no traceback, and the store's bytes (db, -wal, -shm) unchanged. For
every **legitimate** variant — a BOM, CRLF line ends, reordered columns, quoted fields,
rows with empty metric cells — the same findings as the plain file.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import random
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from rightsizer.cli import main

from helpers import AT

STEP, DAYS = 3600, 10
CONFIG = f"[window]\ndays = {DAYS}\nstep_seconds = {STEP}\nmin_days_of_data = 7\n"
INV_COLS = ["server_id", "name", "department", "system", "vcpus", "ram_gib", "disk_gib", "delivered_at"]
SAMPLE_COLS = ["server_id", "timestamp", "cpu_pct", "mem_pct", "disk_pct"]
INVENTORY = [
    ["idle-1", "旧网站", "市档案馆", "门户网站", "4", "8", "100", "2025-01-10T09:00:00+08:00"],
    ["big-1", "审批库", "市行政审批服务局", "业务审批系统", "16", "64", "500", "2025-03-01"],
    ["hot-1", "办事大厅", "市行政审批服务局", "政务服务平台", "4", "8", "200", "2025-03-01T00:00:00+08:00"],
    ["ok-1", "视频会议", "市教育和体育局", "视频会议", "8", "16", "100", "1740787200"],
]
USAGE = {"idle-1": (1, 8, 20), "big-1": (10, 20, 30), "hot-1": (90, 85, 60), "ok-1": (50, 55, 60)}


def _sample_rows() -> list[list[str]]:
    rng = random.Random(5)
    end = int(AT.timestamp())
    rows = []
    for sid, (cpu, mem, disk) in USAGE.items():
        for i in range(DAYS * 86400 // STEP):
            t = end - (i + 1) * STEP
            stamp = str(t) if i % 2 else _iso(t)
            rows.append([sid, stamp, f"{cpu + rng.uniform(0, 1):.2f}", f"{mem + rng.uniform(0, 1):.2f}",
                         f"{disk:.1f}"])
    return rows


def _iso(t: int) -> str:
    from datetime import datetime
    return datetime.fromtimestamp(t, AT.tzinfo).isoformat()


SAMPLES = _sample_rows()


def _csv(header, rows, newline="\n") -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator=newline)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


@dataclass
class Variant:
    name: str
    inventory: bytes
    samples: bytes
    where: str  # "inv" or "samples": the file the message must name
    line: int
    field: str  # what the message must name after file:line (a column, "header", "row has", …)


def _encode(text: str) -> bytes:
    return text.encode("utf-8")


def _bad_variants(seed: int) -> list[Variant]:
    """Every kind of damage, each at a random line of a random file, chosen by ``seed``."""
    rng = random.Random(seed)
    out = []
    inv_text, smp_text = _csv(INV_COLS, INVENTORY), _csv(SAMPLE_COLS, SAMPLES)

    def cell(file: str, col: str, value: str, name: str):
        rows = [r[:] for r in (INVENTORY if file == "inv" else SAMPLES)]
        cols = INV_COLS if file == "inv" else SAMPLE_COLS
        i = rng.randrange(len(rows))
        rows[i][cols.index(col)] = value
        text = _csv(cols, rows)
        inv, smp = (text, smp_text) if file == "inv" else (inv_text, text)
        out.append(Variant(f"{name}:{file}:{col}={value!r}", _encode(inv), _encode(smp), file, i + 2, col))

    numbers = ["abc", "1_0", "１２", "٤٠", "inf", "nan", "0x10", "1e", "--1", "1 0", "12,5", "1.2.3", "½", "10%"]
    for col in ("cpu_pct", "mem_pct", "disk_pct"):
        cell("samples", col, rng.choice(numbers), "number")
        cell("samples", col, rng.choice(["-0.5", "100.01", "150", "1e9", "-5"]), "range")
    for col in ("vcpus", "ram_gib", "disk_gib"):
        cell("inv", col, rng.choice(numbers + ["-1"]), "number")
    cell("inv", "vcpus", rng.choice(["0", "1.5", "+4"]), "whole")
    times = ["not-a-time", "20261119", "2026-11-19 10:05", "1700", "2026-13-01T00:00:00+08:00", "0", "１７６３５６０８００",
             "2026-11-19T10:00:00+25:00", "99999999999999999999"]
    cell("samples", "timestamp", rng.choice(times), "time")
    cell("inv", "delivered_at", rng.choice(times + ["20261101"]), "time")
    cell("inv", "server_id", "", "empty")
    cell("inv", "department", "", "empty")
    cell("inv", "server_id", "x\x00y", "nul")
    cell("samples", "server_id", "id\x00le-1", "nul")

    for file, cols, rows in (("inv", INV_COLS, INVENTORY), ("samples", SAMPLE_COLS, SAMPLES)):
        def put(name, text: bytes, line: int, field: str):
            inv, smp = (text, _encode(smp_text)) if file == "inv" else (_encode(inv_text), text)
            out.append(Variant(f"{name}:{file}", inv, smp, file, line, field))

        i = rng.randrange(len(rows))
        short = [r[:] for r in rows]
        short[i] = short[i][:-1]
        put("width", _encode(_csv(cols, short)), i + 2, "row has")
        dup = rng.choice(cols)
        put("duplicated column", _encode(_csv(cols + [dup], [r + ["1"] for r in rows])), 1, "header")
        gone = rng.choice(cols)
        put("missing column", _encode(_csv([c for c in cols if c != gone],
                                           [[v for c, v in zip(cols, r) if c != gone] for r in rows])), 1, "header")
        lines = _csv(cols, rows).splitlines(keepends=True)
        i = rng.randrange(1, len(lines))
        gbk = "".join(lines[:i]).encode() + lines[i].replace(rows[i - 1][0], "审批库").encode("gbk") \
            + "".join(lines[i + 1:]).encode()
        put("gbk", gbk, i + 1, "looks like GBK")
        quoted = "".join(lines[:i]) + '"' + "".join(lines[i:])
        put("unterminated quote", _encode(quoted), i + 1, "quoted field starts")
        if seed == 0:  # the same for every seed
            put("utf-16", _csv(cols, rows).encode("utf-16"), 1, "UTF-16")
            put("empty", b"", 1, "header")
    return out


SEEDS = range(18)
BAD = [v for seed in SEEDS for v in _bad_variants(seed)]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A store with one good evaluation in it, and the digest of its bytes."""
    d = tmp_path_factory.mktemp("fuzz")
    (d / "rs.toml").write_text(CONFIG, encoding="utf-8")
    (d / "inv.csv").write_text(_csv(INV_COLS, INVENTORY), encoding="utf-8")
    (d / "samples.csv").write_text(_csv(SAMPLE_COLS, SAMPLES), encoding="utf-8")
    assert _evaluate(d, d / "inv.csv", d / "samples.csv") == 0
    import gc
    gc.collect()  # the good run's pooled connection closes now (its checkpoint is not a rejection's write)
    return d


def _evaluate(d: Path, inv: Path, samples: Path, fmt="json") -> int:
    return main(["evaluate", "--config", str(d / "rs.toml"), "--inventory", str(inv), "--samples", str(samples),
                 "--at", AT.isoformat(), "--db", str(d / "rs.db"), "--format", fmt])


def _store_digest(d: Path) -> str:
    h = hashlib.sha256()
    for suffix in ("", "-wal", "-shm"):
        p = d / f"rs.db{suffix}"
        h.update(p.read_bytes() if p.exists() else b"-")
    return h.hexdigest()


def test_the_fuzz_covers_hundreds_of_distinct_bad_inputs():
    assert len({(v.inventory, v.samples) for v in BAD}) >= 300


@pytest.mark.parametrize("variant", BAD, ids=lambda v: v.name)
def test_a_bad_input_is_exit_2_with_file_line_field_and_the_store_untouched(base, tmp_path, capsys, variant):
    inv, smp = tmp_path / "inv.csv", tmp_path / "samples.csv"
    inv.write_bytes(variant.inventory)
    smp.write_bytes(variant.samples)
    before = _store_digest(base)
    capsys.readouterr()
    code = _evaluate(base, inv, smp)  # a traceback would raise here
    err = capsys.readouterr().err
    assert code == 2, err
    path = inv if variant.where == "inv" else smp
    assert f"{path}:{variant.line}" in err and variant.field in err, err
    assert "Traceback" not in err and len(err) < 20_000
    assert _store_digest(base) == before


# -- legitimate variants: the same findings -----------------------------------------------------


def _findings(d: Path, inv: Path, smp: Path, capsys) -> list[dict]:
    capsys.readouterr()
    assert _evaluate(d, inv, smp) == 0, capsys.readouterr().err
    out = json.loads(capsys.readouterr().out)["findings"]
    return sorted(out, key=lambda f: (f["server_id"], f["kind"], f.get("dimension") or ""))


def _legit(seed: int) -> list[tuple[str, bytes, bytes]]:
    rng = random.Random(seed)
    out = []
    inv_plain, smp_plain = _csv(INV_COLS, INVENTORY), _csv(SAMPLE_COLS, SAMPLES)
    out.append(("bom", b"\xef\xbb\xbf" + _encode(inv_plain), b"\xef\xbb\xbf" + _encode(smp_plain)))
    out.append(("crlf", _encode(_csv(INV_COLS, INVENTORY, "\r\n")), _encode(_csv(SAMPLE_COLS, SAMPLES, "\r\n"))))
    order_i, order_s = INV_COLS[:], SAMPLE_COLS[:]
    rng.shuffle(order_i)
    rng.shuffle(order_s)
    out.append(("reordered", _encode(_csv(order_i, [[r[INV_COLS.index(c)] for c in order_i] for r in INVENTORY])),
                _encode(_csv(order_s, [[r[SAMPLE_COLS.index(c)] for c in order_s] for r in SAMPLES]))))
    quoted = io.StringIO()
    w = csv.writer(quoted, quoting=csv.QUOTE_ALL, lineterminator="\n")
    w.writerow(SAMPLE_COLS)
    w.writerows(SAMPLES)
    out.append(("quoted", _encode(inv_plain), _encode(quoted.getvalue())))
    # rows with every metric empty, for times already sampled: missing, never zero
    extra = [[r[0], r[1], "", "", ""] for r in rng.sample(SAMPLES, 40)]
    mixed = SAMPLES + extra
    rng.shuffle(mixed)
    out.append(("empty cells", _encode(inv_plain), _encode(_csv(SAMPLE_COLS, mixed))))
    # rows of servers not in the inventory (released): skipped with a warning, charged to nobody
    released = [["gone-" + r[0], r[1], r[2], r[3], r[4]] for r in rng.sample(SAMPLES, 30)]
    out.append(("released servers' rows", _encode(inv_plain), _encode(_csv(SAMPLE_COLS, SAMPLES + released))))
    spaced = [[f" {v} " if c in ("cpu_pct", "mem_pct", "disk_pct") else v for c, v in zip(SAMPLE_COLS, r)]
              for r in SAMPLES]
    out.append(("spaces and blank lines", _encode(inv_plain + "\n\n"), _encode(_csv(SAMPLE_COLS, spaced) + "\n")))
    return out


@pytest.mark.parametrize("seed", range(3))
def test_legitimate_variants_give_the_same_findings(tmp_path, capsys, seed):
    (tmp_path / "rs.toml").write_text(CONFIG, encoding="utf-8")
    plain_inv, plain_smp = tmp_path / "inv.csv", tmp_path / "samples.csv"
    plain_inv.write_text(_csv(INV_COLS, INVENTORY), encoding="utf-8")
    plain_smp.write_text(_csv(SAMPLE_COLS, SAMPLES), encoding="utf-8")
    expected = _findings(tmp_path, plain_inv, plain_smp, capsys)
    assert {(f["server_id"], f["kind"]) for f in expected} >= {("idle-1", "release"), ("big-1", "shrink"),
                                                               ("hot-1", "expand")}
    for name, inv, smp in _legit(seed):
        (tmp_path / f"{name}-inv.csv").write_bytes(inv)
        (tmp_path / f"{name}-samples.csv").write_bytes(smp)
        got = _findings(tmp_path, tmp_path / f"{name}-inv.csv", tmp_path / f"{name}-samples.csv", capsys)
        assert got == expected, name


# -- one cell of any text: a plain decimal in 0-100 is read, anything else is exit 2 at its line --


@hsettings(max_examples=60, deadline=None, derandomize=True,  # seeded, like the rest of the fuzz
           suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12), row=st.integers(0, 99))
def test_any_text_in_a_metric_cell_is_read_only_as_a_plain_decimal(base, tmp_path, capsys, text, row):
    import re

    rows = [r[:] for r in SAMPLES]
    rows[row][2] = text
    smp = tmp_path / "samples.csv"
    smp.write_text(_csv(SAMPLE_COLS, rows), encoding="utf-8")
    before = _store_digest(base)
    capsys.readouterr()
    code = main(["evaluate", "--config", str(base / "rs.toml"), "--inventory", str(base / "inv.csv"), "--samples",
                 str(smp), "--at", AT.isoformat(), "--db", str(tmp_path / "scratch.db"), "--format", "json"])
    err = capsys.readouterr().err
    stripped = text.strip(" \t")
    plain = re.fullmatch(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?", stripped)
    if stripped == "" or (plain and 0 <= float(stripped) <= 100):
        assert code == 0, err
    elif "\n" in text or "\r" in text or "\x00" in text or any(ord(c) < 32 for c in text):
        assert code == 2, err  # a control character or line break: reported where it starts
    else:
        assert code == 2 and f"{smp}:{row + 2}: cpu_pct:" in err, (text, err)
    assert _store_digest(base) == before


# -- the configuration: a key path, exit 2, nothing written ----------------------------------------

BAD_CONFIGS = [
    ("[window]\ndays = 'ten'\n", "window.days"),
    ("[window]\nstep_seconds = 0\n", "window.step_seconds"),
    ("[windows]\ndays = 3\n", "windows: unknown key"),
    ("timezone = 'Mars/Olympus'\n", "timezone"),
    ("[notices]\nnumber_format = '{prefix}〔{year}〕号'\n", "notices.number_format"),
    ("[notices]\ncc_channels = ['nobody']\n", "notices.cc_channels: no notifier named 'nobody'"),
    ("[policy.shrink]\ncpu_p95_max_pct = 250\n", "policy.shrink.cpu_p95_max_pct"),
    ("[store]\nurl = 'postgresql://rs:pw@db/rs'\n", "store.url"),
    ("[store]\nbusy_seconds = -1\n", "store.busy_seconds"),
    ("[[notifiers]]\nname = 'x'\ntype = 'pigeon'\n", "notifiers"),
    ("[[notifiers]]\nname = 'm'\ntype = 'email'\nhost = 'h'\nsender = 's'\npassword = { env = 'a secret!' }\n",
     "notifiers"),
    ("a = " + "[" * 600 + "]" * 600 + "\n", "nested too deeply"),
    ("[window\n", "TOML syntax error"),
]


@pytest.mark.parametrize("text, where", BAD_CONFIGS, ids=[w for _, w in BAD_CONFIGS])
def test_a_bad_configuration_names_its_key_and_writes_nothing(base, tmp_path, capsys, text, where):
    cfg = tmp_path / "rs.toml"
    cfg.write_text(text, encoding="utf-8")
    before = _store_digest(base)
    for argv in (["check-config", str(cfg)],
                 ["evaluate", "--config", str(cfg), "--inventory", str(base / "inv.csv"), "--samples",
                  str(base / "samples.csv"), "--at", AT.isoformat(), "--db", str(base / "rs.db")]):
        capsys.readouterr()
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert str(cfg) in err and where in err and "Traceback" not in err, err
    assert _store_digest(base) == before
