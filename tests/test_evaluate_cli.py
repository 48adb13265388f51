"""`rightsizer evaluate` from CSV: good input, every kind of bad input, idempotence."""

import csv
import json
import sqlite3

import numpy as np
import pytest

from rightsizer.cli import main

from helpers import AT

STEP = 300
N = 30 * 86400 // STEP
T = int(AT.timestamp()) - N * STEP + STEP * np.arange(N)
INV_HEADER = "server_id,name,department,system,vcpus,ram_gib,disk_gib,delivered_at"


def write_inputs(tmp_path, outage=True):
    inv = tmp_path / "inv.csv"
    inv.write_text(INV_HEADER + "\n"
                   "idle-1,旧网站,市档案馆,门户网站,4,8,100,2025-01-10T09:00:00+08:00\n"
                   "big-1,审批库,市行政审批服务局,业务审批系统,16,64,500,2025-03-01\n"
                   "hot-1,办事大厅,市行政审批服务局,政务服务平台,4,8,200,2025-03-01T00:00:00+08:00\n"
                   "gap-1,视频会议,市教育和体育局,视频会议,8,16,100,2025-03-01T00:00:00+08:00\n",
                   encoding="utf-8")
    rng = np.random.default_rng(3)
    samples = tmp_path / "samples.csv"
    with samples.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["server_id", "timestamp", "cpu_pct", "mem_pct", "disk_pct"])
        for sid, cpu, mem, disk in (("idle-1", 1, 8, 20), ("big-1", 10, 20, 30), ("hot-1", 90, 85, 60),
                                    ("gap-1", 2, 10, 20)):
            for i, t in enumerate(T):
                if sid == "gap-1" and outage and i < N // 2:
                    continue  # the collector lost half of this server's month
                stamp = str(int(t)) if i % 2 else _iso(t)
                w.writerow([sid, stamp, f"{cpu + rng.uniform(0, 1):.2f}", f"{mem + rng.uniform(0, 1):.2f}",
                            "" if i % 7 == 0 else f"{disk:.1f}"])
    return inv, samples


def _iso(t):
    from datetime import datetime
    return datetime.fromtimestamp(int(t), AT.tzinfo).isoformat()


def evaluate(inv, samples, db, *extra):
    return main(["evaluate", "--inventory", str(inv), "--samples", str(samples), "--at", AT.isoformat(),
                 "--db", str(db), "--format", "json", *extra])


def test_evaluate_json(tmp_path, capsys):
    inv, samples = write_inputs(tmp_path)
    assert evaluate(inv, samples, tmp_path / "rs.db") == 0
    out = json.loads(capsys.readouterr().out)
    by = {}
    for f in out["findings"]:
        assert set(f) >= {"server_id", "department", "kind", "dimension", "observed", "threshold", "current",
                          "recommended", "monthly_saving_cny", "evidence"}
        by.setdefault(f["server_id"], set()).add((f["kind"], f["dimension"]))
    assert by["idle-1"] == {("release", None)}
    assert by["big-1"] == {("shrink", "cpu"), ("shrink", "memory"), ("shrink", "disk")}
    assert by["hot-1"] == {("expand", "cpu"), ("expand", "memory")}
    # Half a month lost with CPU at 2 %: not idle, not anything — insufficient data.
    assert by["gap-1"] == {("insufficient_data", None)}
    shrink_cpu = next(f for f in out["findings"] if f["server_id"] == "big-1" and f["dimension"] == "cpu")
    assert shrink_cpu["current"]["vcpus"] == 16 and shrink_cpu["recommended"]["vcpus"] == 3  # 16 * ~11/60
    assert shrink_cpu["monthly_saving_cny"] == "780.00"  # money: two decimals everywhere
    assert shrink_cpu["department"] == "市行政审批服务局"


def test_same_input_twice_is_idempotent(tmp_path, capsys):
    inv, samples = write_inputs(tmp_path)
    db = tmp_path / "rs.db"
    assert evaluate(inv, samples, db) == 0
    first = _counts(db)
    assert evaluate(inv, samples, db) == 0
    assert _counts(db) == first
    assert first["runs"] == 1 and first["findings"] == 7


def test_the_run_is_the_judgement_not_the_rest_of_the_configuration(tmp_path, capsys):
    """Editing the console's address or a department's email is the same run; a threshold or the calendar is
    another one (issue 22: the run key hashes only what changes the judgement)."""
    inv, samples = write_inputs(tmp_path)
    db = tmp_path / "rs.db"
    cfg = tmp_path / "rs.toml"

    def with_config(text: str) -> int:
        cfg.write_text(text, encoding="utf-8")
        assert main(["evaluate", "--inventory", str(inv), "--samples", str(samples), "--at", AT.isoformat(),
                     "--db", str(db), "--config", str(cfg)]) == 0
        return _counts(db)["runs"]

    notifier = '[[notifiers]]\nname = "mail"\ntype = "email"\nhost = "h"\nsender = "s@x"\n'
    assert with_config('[web]\nlisten = "127.0.0.1:8080"\n' + notifier
                       + '[departments."市档案馆"]\nchannels = ["mail"]\nemails = ["a@x"]\n') == 1
    assert with_config('[web]\nlisten = "127.0.0.1:9999"\n' + notifier
                       + '[departments."市档案馆"]\nchannels = ["mail"]\nemails = ["b@x"]\n') == 1
    assert with_config('[policy.shrink]\ncpu_p95_max_pct = 20\n') == 2
    holidays = tmp_path / "holidays.toml"
    holidays.write_text("[years.2027]\ncomplete = true\nholidays = []\nworkdays = []\n", encoding="utf-8")
    assert with_config(f'[policy.shrink]\ncpu_p95_max_pct = 20\n[calendar]\noverrides = "{holidays}"\n') == 3
    capsys.readouterr()


def test_table_format(tmp_path, capsys):
    inv, samples = write_inputs(tmp_path)
    assert main(["evaluate", "--inventory", str(inv), "--samples", str(samples), "--at", AT.isoformat(),
                 "--db", str(tmp_path / "rs.db")]) == 0
    out = capsys.readouterr().out
    assert "release(释放)" in out and "7 findings" in out


def _counts(db):
    con = sqlite3.connect(db)
    try:
        return {t: con.execute(f"select count(*) from {t}").fetchone()[0]
                for t in ("runs", "findings", "servers", "summaries", "departments")}
    finally:
        con.close()


BAD_INVENTORY = [
    ("server_id,name,department,system,vcpus,ram_gib,delivered_at\n", "inv.csv:1: header: missing column(s) disk_gib"),
    (INV_HEADER + "\nsrv-x,a,部门,系统,four,8,100,2025-01-01\n", "inv.csv:2: vcpus: 'four' is not a whole number"),
    (INV_HEADER + "\nsrv-x,a,部门,系统,4,8,100,yesterday\n", "inv.csv:2: delivered_at: 'yesterday' is not"),
    (INV_HEADER + "\nsrv-x,a,部门,系统,4,8,100,2025-01-01\nsrv-x,b,部门,系统,4,8,100,2025-01-01\n",
     "inv.csv:3: server_id: duplicate 'srv-x' (first on line 2)"),
    (INV_HEADER + "\nsrv-x,a,部门,系统,4,8,100\n", "inv.csv:2: row has 7 fields, the header has 8"),
]


@pytest.mark.parametrize("text, message", BAD_INVENTORY)
def test_bad_inventory(tmp_path, capsys, text, message):
    _, samples = write_inputs(tmp_path)
    inv = tmp_path / "inv.csv"
    inv.write_text(text, encoding="utf-8")
    _assert_rejected(tmp_path, inv, samples, capsys, message)


SAMPLE_HEADER = "server_id,timestamp,cpu_pct,mem_pct,disk_pct\n"
BAD_SAMPLES = [
    ("server_id,timestamp,cpu_pct,mem_pct\n", "samples.csv:1: header: missing column(s) disk_pct"),
    (SAMPLE_HEADER + "big-1,2026-11-19T10:00:00+08:00,abc,20,30\n", "samples.csv:2: cpu_pct: 'abc' is not a number"),
    (SAMPLE_HEADER + "big-1,2026-11-19T10:00:00+08:00,10,20,30\nbig-1,2026-11-19 10:05,10,20,30\n",
     "samples.csv:3: timestamp: '2026-11-19 10:05' has no UTC offset"),
    (SAMPLE_HEADER + "big-1,not-a-time,10,20,30\n", "samples.csv:2: timestamp: 'not-a-time' is not"),
    (SAMPLE_HEADER + "big-1,1763560800,10,120,30\n", "samples.csv:2: mem_pct: '120' is outside 0-100"),
    (SAMPLE_HEADER + "big-1,1763560800,10,20,-1\n", "samples.csv:2: disk_pct: '-1' is outside 0-100"),
    (SAMPLE_HEADER + "big-1,1763560800,nan,20,30\n", "samples.csv:2: cpu_pct: 'nan' is not a number"),
]


@pytest.mark.parametrize("text, message", BAD_SAMPLES)
def test_bad_samples(tmp_path, capsys, text, message):
    inv, _ = write_inputs(tmp_path)
    samples = tmp_path / "samples.csv"
    samples.write_text(text, encoding="utf-8")
    _assert_rejected(tmp_path, inv, samples, capsys, message)


def _assert_rejected(tmp_path, inv, samples, capsys, message):
    db = tmp_path / "rs.db"
    good_inv, good_samples = tmp_path / "good" / "inv.csv", tmp_path / "good" / "samples.csv"
    (tmp_path / "good").mkdir()
    write_inputs(tmp_path / "good")
    assert evaluate(good_inv, good_samples, db) == 0
    before = _counts(db)
    capsys.readouterr()
    assert evaluate(inv, samples, db) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert _counts(db) == before  # nothing written


def test_every_problem_is_reported_in_line_order(tmp_path, capsys):
    inv, _ = write_inputs(tmp_path)
    samples = tmp_path / "samples.csv"
    samples.write_text(SAMPLE_HEADER + "big-1,1763560800,10,20,30\n"
                       "big-1,1763561100,x,20,101\n"
                       "big-1,1763561400,10,20,nope\n", encoding="utf-8")
    assert evaluate(inv, samples, tmp_path / "rs.db") == 2
    err = capsys.readouterr().err.splitlines()
    assert [e.split(": ")[1] for e in err] == [f"{samples}:3", f"{samples}:3", f"{samples}:4"]
    assert not (tmp_path / "rs.db").exists()


def test_missing_file(tmp_path, capsys):
    inv, _ = write_inputs(tmp_path)
    assert evaluate(inv, tmp_path / "nope.csv", tmp_path / "rs.db") == 2
    assert "nope.csv: cannot open" in capsys.readouterr().err


def test_unwritable_store_is_a_clear_error(tmp_path, capsys):
    inv, samples = write_inputs(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert evaluate(inv, samples, blocker / "rs.db") == 1
    err = capsys.readouterr().err
    assert err.startswith("error: store or file access failed:") and "Traceback" not in err


def test_an_unknown_calendar_year_holds_the_servers_deadline_not_the_citys_evaluation(tmp_path, capsys):
    """A server delivered in 2027 with no workload: its deployment deadline needs the 2027 calendar. The
    evaluation goes on (issue 23): that server is judged as still deploying, and the output says so."""
    inv = tmp_path / "inv.csv"
    inv.write_text(INV_HEADER + "\nnew-1,a,部门,系统,4,8,100,2027-01-04T09:00:00+08:00\n", encoding="utf-8")
    samples = tmp_path / "samples.csv"
    start = 1798992000  # 2027-01-04T00:00:00+08:00
    samples.write_text(SAMPLE_HEADER + "".join(f"new-1,{start + i * 300},0.5,5,10\n" for i in range(288 * 20)))
    db = tmp_path / "rs.db"
    assert main(["evaluate", "--inventory", str(inv), "--samples", str(samples), "--at",
                 "2027-01-25T00:00:00+08:00", "--db", str(db), "--format", "json"]) == 0
    out = capsys.readouterr()
    assert "deployment deadline in 2027" in out.err and "new-1" in out.err and "暂缓判定" in out.err
    assert json.loads(out.out)["findings"] == []  # neither undeployed nor released: its deadline is held
    assert _counts(db)["runs"] == 1


def test_an_implausible_year_in_at_is_a_message_not_a_traceback(tmp_path, capsys):
    inv, samples = write_inputs(tmp_path)
    for at in ("0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59+08:00"):
        assert main(["evaluate", "--inventory", str(inv), "--samples", str(samples), "--at", at,
                     "--db", str(tmp_path / "rs.db")]) == 2
        assert "outside the years 2000-2100" in capsys.readouterr().err
    assert not (tmp_path / "rs.db").exists()


def test_a_duplicated_column_is_an_error_and_nothing_is_charged_to_another_server(tmp_path, capsys):
    inv, _ = write_inputs(tmp_path)
    samples = tmp_path / "dup.csv"
    # with cpu_pct twice, validation used to switch off: 150 % was accepted and the ghost's rows
    # were charged to the last server of the inventory, which was then told to expand
    samples.write_text("server_id,timestamp,cpu_pct,mem_pct,disk_pct,cpu_pct\n"
                       "ghost,2026-11-19T10:00:00+08:00,150,-5,30,1\n", encoding="utf-8")
    assert evaluate(inv, samples, tmp_path / "rs.db") == 2
    assert f"{samples}:1: header: column 'cpu_pct' appears twice (columns 3 and 6)" in capsys.readouterr().err
    assert not (tmp_path / "rs.db").exists()
    dup_inv = tmp_path / "inv2.csv"
    dup_inv.write_text(INV_HEADER + ",name\nx,a,市档案馆,门户网站,4,8,100,2026-01-01,b\n", encoding="utf-8")
    assert evaluate(dup_inv, samples, tmp_path / "rs.db") == 2
    assert "column 'name' appears twice" in capsys.readouterr().err


@pytest.mark.parametrize("field, value, message", [
    ("delivered_at", "20261101", "'20261101' looks like a date without separators (write 2026-11-01)"),
    ("delivered_at", "1700", "'1700' as epoch seconds is outside 2000-2100"),
    ("timestamp", "20261119", "'20261119' looks like a date without separators (write 2026-11-19)"),
    ("timestamp", "٢٠٢٦", "is not an ISO 8601 time or epoch seconds"),
])
def test_digit_only_times_are_epoch_seconds_only_in_a_plausible_range(tmp_path, capsys, field, value, message):
    inv, samples = write_inputs(tmp_path)
    if field == "delivered_at":
        inv.write_text(inv.read_text(encoding="utf-8").replace("2025-01-10T09:00:00+08:00", value), encoding="utf-8")
        where = f"{inv}:2: delivered_at"
    else:
        samples.write_text(SAMPLE_HEADER + f"big-1,{value},10,20,30\n", encoding="utf-8")
        where = f"{samples}:2: timestamp"
    assert evaluate(inv, samples, tmp_path / "rs.db") == 2
    err = capsys.readouterr().err
    assert where in err and message in err
    assert not (tmp_path / "rs.db").exists()


# --- issue 9 point 4: error locations that lead to the cause --------------------------------------

def test_a_gbk_file_is_reported_at_its_line_with_the_fix(tmp_path, capsys):
    inv, samples = write_inputs(tmp_path)
    lines = samples.read_text(encoding="utf-8").splitlines(keepends=True)
    # 12,000 clean lines, then a comment-like server name written by a Chinese Excel (GBK)
    text = "".join(lines[:12000]) + "big-1,1763560800,10,20,30\n"
    raw = text.encode("utf-8") + "审批库,1763560800,10,20,30\n".encode("gbk") + "".join(lines[12000:]).encode()
    samples.write_bytes(raw)
    assert evaluate(inv, samples, tmp_path / "rs.db") == 2
    err = capsys.readouterr().err
    assert f"{samples}:12002: byte 1 of the line is not UTF-8; the file looks like GBK" in err, err
    assert "save it as UTF-8" in err and "Traceback" not in err
    assert not (tmp_path / "rs.db").exists()


def test_a_utf16_file_says_so(tmp_path, capsys):
    inv, samples = write_inputs(tmp_path)
    inv.write_bytes(inv.read_text(encoding="utf-8").encode("utf-16"))
    assert evaluate(inv, samples, tmp_path / "rs.db") == 2
    assert f"{inv}:1: the file is UTF-16 text: save it as UTF-8" in capsys.readouterr().err


def test_an_unterminated_quote_is_reported_where_the_field_starts_without_the_file_echoed(tmp_path, capsys):
    inv, samples = write_inputs(tmp_path)
    lines = samples.read_text(encoding="utf-8").splitlines(keepends=True)
    samples.write_text("".join(lines[:100]) + '"big-1,1763560800,10,20,30\n' + "".join(lines[100:]),
                       encoding="utf-8")
    assert evaluate(inv, samples, tmp_path / "rs.db") == 2
    err = capsys.readouterr().err
    assert f"{samples}:101: a quoted field starts on this line and is not closed by line" in err, err
    assert len(err) < 600, err  # the 600 KB that follow are not pasted back
    assert not (tmp_path / "rs.db").exists()
    # a short runaway (the csv module reads it to the end of the file) is reported the same way
    samples.write_text(SAMPLE_HEADER + 'big-1,1763560800,10,20,30\nbig-1,"1763561100,10,20,30\n'
                       + "big-1,1763561400,10,20,30\n" * 3, encoding="utf-8")
    assert evaluate(inv, samples, tmp_path / "rs.db") == 2
    err = capsys.readouterr().err
    assert f"{samples}:3: timestamp: a quoted field starts on this line and runs to line 6" in err, err


def test_a_nul_byte_in_an_inventory_id_is_reported_once(tmp_path, capsys):
    inv, samples = write_inputs(tmp_path)
    inv.write_text(inv.read_text(encoding="utf-8").replace("big-1,审批库", "big\x00-1,审批库"), encoding="utf-8")
    assert evaluate(inv, samples, tmp_path / "rs.db") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {inv}:3: server_id: contains a NUL byte; is this a UTF-8 CSV text file? "
                   "(reported once: the rest of the file is not checked)"], err
    samples.write_text(samples.read_text(encoding="utf-8").replace("big-1,", "big\x00-1,"), encoding="utf-8")
    inv, _ = write_inputs(tmp_path / "again") if (tmp_path / "again").mkdir() is None else None
    assert evaluate(inv, samples, tmp_path / "rs.db") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and ": server_id: contains a NUL byte" in err[0], err[:3]


def test_a_long_value_is_cut_in_the_message(tmp_path, capsys):
    inv, samples = write_inputs(tmp_path)
    samples.write_text(SAMPLE_HEADER + "big-1,1763560800," + "9" * 5000 + ",20,30\n", encoding="utf-8")
    assert evaluate(inv, samples, tmp_path / "rs.db") == 2
    err = capsys.readouterr().err
    assert "cpu_pct: '9999999999999999999999999999999999999999'… (5000 characters) is outside 0-100" in err
    assert len(err) < 300


# --- point 5: numbers are plain ASCII decimals ----------------------------------------------------

@pytest.mark.parametrize("where, value", [
    ("cpu_pct", "1_0"), ("cpu_pct", "１２"), ("mem_pct", "٤٠"), ("disk_pct", "inf"), ("cpu_pct", "0x10"),
    ("vcpus", "1_6"), ("vcpus", "１６"), ("ram_gib", "6_4"), ("disk_gib", "٥٠٠"),
])
def test_numbers_are_plain_ascii_decimals(tmp_path, capsys, where, value):
    inv, samples = write_inputs(tmp_path)
    if where in ("vcpus", "ram_gib", "disk_gib"):
        col = {"vcpus": 4, "ram_gib": 5, "disk_gib": 6}[where]
        rows = inv.read_text(encoding="utf-8").splitlines()
        cells = rows[2].split(",")
        cells[col] = value
        rows[2] = ",".join(cells)
        inv.write_text("\n".join(rows) + "\n", encoding="utf-8")
        path, line = inv, 3
    else:
        cells = ["big-1", "1763560800", "10", "20", "30"]
        cells[{"cpu_pct": 2, "mem_pct": 3, "disk_pct": 4}[where]] = value
        samples.write_text(SAMPLE_HEADER + ",".join(cells) + "\n", encoding="utf-8")
        path, line = samples, 2
    assert evaluate(inv, samples, tmp_path / "rs.db") == 2
    err = capsys.readouterr().err
    assert f"{path}:{line}: {where}: {value!r} is not" in err and "plain decimals only" in err, err
    assert not (tmp_path / "rs.db").exists()


def test_plain_decimals_in_every_spelling_are_read(tmp_path, capsys):
    inv, _ = write_inputs(tmp_path)
    samples = tmp_path / "samples.csv"
    samples.write_text(SAMPLE_HEADER + "big-1,1763560800,+10,20.,.5\nbig-1,1763561100,1.5e-05,20,30\n",
                       encoding="utf-8")
    assert evaluate(inv, samples, tmp_path / "rs.db") == 0


# --- point 6: silent emptiness is warned, with counts ---------------------------------------------

def test_a_header_only_samples_file_warns(tmp_path, capsys):
    inv, samples = write_inputs(tmp_path)
    samples.write_text(SAMPLE_HEADER, encoding="utf-8")
    assert evaluate(inv, samples, tmp_path / "rs.db") == 0
    err = capsys.readouterr().err
    assert f"warning: {samples}: no samples (only the header): all 4 servers are insufficient_data" in err


def test_samples_shifted_out_of_the_window_warn(tmp_path, capsys):
    inv, samples = write_inputs(tmp_path)
    year = 365 * 86400
    with samples.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(SAMPLE_HEADER.strip().split(","))
        for t in T[:1000]:
            w.writerow(["big-1", int(t) - year, 10, 20, 30])
    assert evaluate(inv, samples, tmp_path / "rs.db") == 0
    err = capsys.readouterr().err
    assert (f"warning: {samples}: none of its 1,000 samples (2025-10-21 – 2025-10-24) lies in the window "
            "2026-10-21 00:00 – 2026-11-20 00:00") in err, err
    assert "all 4 servers are insufficient_data; check --at and the file" in err


def test_samples_after_the_window_warn(tmp_path, capsys):
    inv, samples = write_inputs(tmp_path)
    with samples.open("a", newline="", encoding="utf-8") as fh:
        for i in range(3):
            fh.write(f"big-1,{int(AT.timestamp()) + 86400 * (i + 1)},10,20,30\n")
    assert evaluate(inv, samples, tmp_path / "rs.db") == 0
    err = capsys.readouterr().err
    assert "3 of " in err and "samples are after the end of the window" in err, err


def test_a_delivery_after_at_warns(tmp_path, capsys):
    inv, samples = write_inputs(tmp_path)
    inv.write_text(inv.read_text(encoding="utf-8").replace("2025-01-10T09:00:00+08:00", "2027-01-10T09:00:00+08:00"),
                   encoding="utf-8")
    assert evaluate(inv, samples, tmp_path / "rs.db") == 0
    err = capsys.readouterr().err
    assert "warning: 1 of 4 servers were delivered after 2026-11-20T00:00:00+08:00" in err
    assert "idle-1 on 2027-01-10T09:00:00+08:00" in err


def test_a_clean_full_file_gives_no_warning(tmp_path, capsys):
    inv, samples = write_inputs(tmp_path)
    assert evaluate(inv, samples, tmp_path / "rs.db") == 0
    assert "warning" not in capsys.readouterr().err


# --- issue 10 point 6: samples of servers not in the inventory are skipped, with a warning -----------

def test_samples_of_released_servers_are_skipped_with_a_warning(tmp_path, capsys):
    inv, samples = write_inputs(tmp_path)
    assert evaluate(inv, samples, tmp_path / "a.db") == 0
    plain = json.loads(capsys.readouterr().out)["findings"]
    with samples.open("a", encoding="utf-8") as fh:
        for i in range(7):
            for sid in ("old-1", "old-2", "old-3", "old-4", "old-5", "old-6"):
                fh.write(f"{sid},{1763560800 + i * 300},1,2,3\n")
    assert evaluate(inv, samples, tmp_path / "b.db") == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["findings"] == plain  # nothing charged to anyone else
    assert (f"warning: {samples}: 42 samples of 6 servers not in the inventory were skipped (released?): "
            "'old-1', 'old-2', 'old-3', 'old-4', 'old-5' and 1 more") in out.err, out.err


def test_the_readmes_samples_example_is_what_the_tool_says(tmp_path, capsys):
    """README, "CSV input": the two errors of a bad file, then the warning for a server not in the inventory,
    word for word (issue 23.10)."""
    import re
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    part = readme[readme.index("A bad file is reported problem by problem"):]
    errors, warning = re.findall(r"```\n(.*?)```", part, re.S)[:2]
    inv = tmp_path / "inv.csv"
    inv.write_text(INV_HEADER + "\nbig-1,审批库,市行政审批服务局,业务审批系统,16,64,500,2025-03-01T00:00:00+08:00\n",
                   encoding="utf-8")
    rows = [f"big-1,2026-11-19T10:{m:02d}:00+08:00,11,21,30" for m in range(0, 35, 5)]
    bad = rows[:1] + ["big-1,2026-11-19 10:05,11.2,,30.0"] + rows[2:5] + ["big-1,2026-11-19T10:25:00+08:00,11,120,30"]
    samples = tmp_path / "samples.csv"
    samples.write_text("server_id,timestamp,cpu_pct,mem_pct,disk_pct\n" + "\n".join(bad) + "\n", encoding="utf-8")
    at = "2026-11-20T00:00:00+08:00"
    common = ["--inventory", str(inv), "--samples", str(samples), "--at", at, "--db", str(tmp_path / "rs.db")]
    assert main(["evaluate", *common]) == 2
    said = capsys.readouterr().err.replace(str(samples), "samples.csv")
    assert said.strip() == errors.strip()
    assert not (tmp_path / "rs.db").exists() or sqlite3.connect(tmp_path / "rs.db").execute(
        "select count(*) from runs").fetchone() == (0,)
    samples.write_text("server_id,timestamp,cpu_pct,mem_pct,disk_pct\n" + "\n".join(
        [*rows, "ghost-9,2026-11-19T10:35:00+08:00,11,21,30"]) + "\n", encoding="utf-8")
    assert main(["evaluate", *common]) == 0
    assert warning.strip() in capsys.readouterr().err.replace(str(samples), "samples.csv")


def test_a_command_that_makes_a_new_default_store_says_where(tmp_path, capsys, monkeypatch):
    """Without --config or --db a command opens the default [store] (state_dir); when that store is new, it
    says so — a forgotten --config is seen at once, not after a week of notices in the wrong store."""
    from rightsizer.cli import common
    from rightsizer.settings import Settings

    here = Settings.model_validate({"store": {"state_dir": str(tmp_path)}})  # the default, moved to tmp_path
    monkeypatch.setattr(common, "load_settings", lambda path: here)
    assert main(["sweep", "--now", "2026-11-23T09:00:00+08:00"]) == 0
    err = capsys.readouterr().err
    assert f"creating a new store {tmp_path / 'rightsizer.db'}" in err and "--config" in err
    assert main(["sweep", "--now", "2026-11-24T09:00:00+08:00"]) == 0  # it exists now: nothing to say
    assert "creating a new store" not in capsys.readouterr().err
