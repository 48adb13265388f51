"""``rightsizer store copy``: SQLite -> PostgreSQL -> SQLite gives back every row as it was; a non-empty
target or a source not at the head is refused before anything is written; no password on the command line."""
from __future__ import annotations

import sqlalchemy as sa

import previous
from rightsizer.cli import main
from rightsizer.db import Store
from rightsizer.db import notices as db_notices
from rightsizer.db import schema as t


def _rows(url: str) -> dict[str, list[dict]]:
    with Store(url).read() as c:
        return {tbl.name: [dict(r._mapping) for r in c.execute(sa.select(tbl).order_by(*tbl.primary_key.columns))]
                for tbl in t.md.sorted_tables if tbl is not t.schema_version}


def test_copy_round_trip_sqlite_postgresql_sqlite(tmp_path, pg_cluster, capsys):
    src = f"sqlite:///{tmp_path / 'city.db'}"
    previous.make_store(previous.checkout(tmp_path / "prev"), src, tmp_path / "work")
    pg, back = pg_cluster.fresh(), f"sqlite:///{tmp_path / 'back.db'}"
    assert main(["store", "copy", "--from", src, "--to", pg]) == 1  # not at the head yet: nothing copied
    assert "store migrate" in capsys.readouterr().err
    assert main(["store", "migrate", "--db", src]) == 0
    assert "r0015 (was legacy-8)" in capsys.readouterr().out
    assert main(["store", "copy", "--from", src, "--to", pg]) == 0
    assert "copied" in capsys.readouterr().out
    assert main(["store", "copy", "--from", pg, "--to", back]) == 0
    want = _rows(src)
    assert sum(map(len, want.values())) > 50 and want["notices"] and want["deliveries"]
    assert _rows(pg) == want and _rows(back) == want
    # a copied PostgreSQL store goes on numbering ids after the copied ones
    with Store(pg).begin() as c:
        top = c.execute(sa.select(sa.func.max(t.notices.c.id))).scalar()
        assert db_notices.create(c, "平大数据调〔2026〕99号", "市档案馆", None, "2026-10-09T09:00:00+08:00") == top + 1
    # a target that holds rows is refused, and is left as it was
    before = _rows(pg)
    assert main(["store", "copy", "--from", src, "--to", pg]) == 1
    assert "not empty" in capsys.readouterr().err and _rows(pg) == before


def test_a_password_in_a_url_on_the_command_line_is_refused_and_not_shown(tmp_path, capsys):
    code = main(["store", "copy", "--from", str(tmp_path / "a.db"), "--to",
                 "postgresql+psycopg://rs:s3cret-pw@127.0.0.1/rs"])
    err = capsys.readouterr().err
    assert code == 2 and "pgpass" in err and "s3cret-pw" not in err
