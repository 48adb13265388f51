"""未备案: the registered-system catalogue and the unregistered finding."""
import json
import sqlite3
from dataclasses import replace

import pytest

from collectors.csv_import import InputError, RegisteredSystem, read_catalogue
from policies.unregistered import find_unregistered
from rightsizer.cli import main
from rightsizer.models import Kind
from rightsizer.settings import parse_settings

from helpers import AT, make_server
from test_evaluate_cli import write_inputs

CATALOGUE = [RegisteredSystem("SYS-001", "门户网站", "市教育和体育局", "平备〔2024〕001号"),
             RegisteredSystem("SYS-002", "视频会议", "市教育和体育局", "平备〔2024〕002号")]


def server(sid, system="", name=None, dept="市教育和体育局"):
    s = make_server(sid, dept=dept)
    return replace(s, system=system, name=name or sid)


def kinds(found):
    return {f.server_id for f in found if f.kind is Kind.UNREGISTERED}


def test_system_match_by_id_or_by_name_within_the_department():
    s = parse_settings({})
    found = find_unregistered([server("a", "SYS-001"), server("b", "视频会议"), server("c", "视频会议", dept="市卫生健康局"),
                               server("d", ""), server("e", "SYS-999")], CATALOGUE, s)
    assert kinds(found) == {"c", "d", "e"}  # a name only counts inside its own department
    f = next(f for f in found if f.server_id == "d")
    assert f.evidence["looked_for"] == "the server names no system"
    assert float(f.evidence["monthly_cost_cny"]) == 8 * 60 + 16 * 30 + 200 * 0.5
    assert f.monthly_saving_cny == 0 and f.recommended is None


def test_name_pattern_and_explicit_list():
    s = parse_settings({"catalogue": {"match": "name_pattern", "name_pattern": r"^(?P<system>SYS-\d{3})-",
                                      "servers": {"legacy-9": "SYS-001"}}})
    found = find_unregistered([server("x", name="SYS-001-web-1"), server("y", name="SYS-404-db"),
                               server("z", name="random"), server("legacy-9", name="random")], CATALOGUE, s)
    assert kinds(found) == {"y", "z"}
    only_list = parse_settings({"catalogue": {"match": "list", "servers": {"x": "SYS-002"}}})
    assert kinds(find_unregistered([server("x", "SYS-001"), server("w", "SYS-001")], CATALOGUE, only_list)) == {"w"}


def test_bad_pattern_is_a_config_error():
    from rightsizer.settings import ConfigError

    with pytest.raises(ConfigError) as e:
        parse_settings({"catalogue": {"match": "name_pattern", "name_pattern": "^(SYS-\\d+)"}})
    assert 'needs a named group "system"' in str(e.value)


def test_catalogue_errors_name_file_line_and_field(tmp_path):
    f = tmp_path / "systems.csv"
    f.write_text("system_id,name,department,filing_no\nSYS-1,门户网站,市教育和体育局,平备001\n"
                 "SYS-1,视频会议,市教育和体育局,平备002\nSYS-3,,市卫生健康局,平备003\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        read_catalogue(f)
    assert e.value.problems == [f"{f}:3: system_id: duplicate 'SYS-1' (first on line 2)", f"{f}:4: name: empty"]


def test_evaluate_with_catalogue_flags_unregistered_and_bad_catalogue_writes_nothing(tmp_path, capsys):
    inv, samples = write_inputs(tmp_path)
    cat = tmp_path / "systems.csv"
    cat.write_text("system_id,name,department,filing_no\nSYS-1,门户网站,市档案馆,平备〔2024〕001号\n"
                   "SYS-2,业务审批系统,市行政审批服务局,平备〔2024〕002号\n", encoding="utf-8")
    db = tmp_path / "rs.db"
    args = ["evaluate", "--inventory", str(inv), "--samples", str(samples), "--at", AT.isoformat(), "--db", str(db),
            "--format", "json"]
    assert main([*args, "--catalogue", str(cat)]) == 0
    found = json.loads(capsys.readouterr().out)["findings"]
    assert {f["server_id"] for f in found if f["kind"] == "unregistered"} == {"hot-1", "gap-1"}
    before = sqlite3.connect(db).execute("select count(*), max(id) from findings").fetchone()
    cat.write_text("system_id,name,department\nSYS-1,门户网站,市档案馆\n", encoding="utf-8")
    assert main([*args, "--catalogue", str(cat)]) == 2
    assert "header: missing column(s) filing_no" in capsys.readouterr().err
    assert sqlite3.connect(db).execute("select count(*), max(id) from findings").fetchone() == before
