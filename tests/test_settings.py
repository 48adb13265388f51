from pathlib import Path

import pytest
from pydantic import BaseModel

from rightsizer.cli import main
from rightsizer.settings import ConfigError, Settings, load_settings

EXAMPLE = Path(__file__).parent.parent / "config" / "rightsizer.example.toml"


def _paths(model: type[BaseModel], prefix=""):
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            yield from _paths(ann, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}"


def test_example_config_is_valid_and_equals_the_defaults_but_for_a_flavor_catalogue():
    s = load_settings(EXAMPLE)
    assert s.sizing.flavors and len(s.sizing.flavors) >= 12  # a realistic catalogue (no default one)
    assert s.model_copy(update={"sizing": s.sizing.model_copy(update={"flavors": []})}) == Settings()


def test_example_config_documents_every_key():
    text = EXAMPLE.read_text(encoding="utf-8")
    for path in _paths(Settings):
        table, _, key = path.rpartition(".")
        assert (f"[{table}]" in text if table else True), f"table [{table}] missing from the example"
        documented = f"\n{key} =" in text or f"\n# {key} =" in text or f"\n[{path}]" in text or f"\n# [[{path}]]" in text
        assert documented, f"key {path} not in {EXAMPLE.name}"


def test_check_config_reports_each_error_with_key_path(tmp_path, capsys):
    f = tmp_path / "bad.toml"
    f.write_text('timezone = "Mars/Base"\n[window]\ndayz = 3\ncoverage_min = 2\n[policy.shrink]\nmode = "some"\n')
    assert main(["check-config", str(f)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert f"error: {f}: window.dayz: unknown key (typo?)" in err
    assert any(line.startswith(f"error: {f}: window.coverage_min:") for line in err)
    assert any(line.startswith(f"error: {f}: policy.shrink.mode:") for line in err)
    assert any("unknown time zone 'Mars/Base'" in line for line in err)
    assert len(err) == 4


def test_check_config_syntax_error_names_the_line(tmp_path, capsys):
    f = tmp_path / "bad.toml"
    f.write_text('[window]\ndays = 30\ndays = \n')
    assert main(["check-config", str(f)]) == 2
    assert "line 3" in capsys.readouterr().err


def test_check_config_ok(capsys):
    assert main(["check-config", str(EXAMPLE)]) == 0
    assert "OK" in capsys.readouterr().out


def test_store_url_from_env_and_file(tmp_path, monkeypatch):
    monkeypatch.setenv("RS_DB", "postgresql://u:s3cret-pw@db/rs")
    assert Settings.model_validate({"store": {"url_env": "RS_DB"}}).store.resolved_url().endswith("@db/rs")
    f = tmp_path / "url"
    f.write_text("postgresql://u:file-pw@db/rs\n")
    assert Settings.model_validate({"store": {"url_file": str(f)}}).store.resolved_url() == "postgresql://u:file-pw@db/rs"
    monkeypatch.delenv("RS_DB")
    with pytest.raises(ConfigError) as exc:
        Settings.model_validate({"store": {"url_env": "RS_DB"}}).store.resolved_url()
    assert "RS_DB" in str(exc.value)


def test_only_one_url_source():
    with pytest.raises(Exception, match="only one"):
        Settings.model_validate({"store": {"url": "sqlite://", "url_env": "X"}})


def test_secret_in_a_bad_value_is_not_echoed(tmp_path, capsys):
    # A password typed into the wrong key must not be printed back.
    f = tmp_path / "bad.toml"
    f.write_text('[store]\nurl = "postgresql://u:hunter2@db/rs"\nurl_env = "X"\n')
    assert main(["check-config", str(f)]) == 2
    assert "hunter2" not in capsys.readouterr().err


def test_a_number_format_without_the_sequence_is_refused(tmp_path, capsys):
    # Without {seq} every notice of a year gets one number and each sweep fails on UNIQUE.
    f = tmp_path / "c.toml"
    f.write_text('[notices]\nnumber_format = "{prefix}〔{year}〕号"\n', encoding="utf-8")
    assert main(["check-config", str(f)]) == 2
    assert "notices.number_format: needs {seq} and {year}" in capsys.readouterr().err
    f.write_text('[notices]\nnumber_format = "{prefix}第{seq}号"\n', encoding="utf-8")
    assert main(["check-config", str(f)]) == 2


def test_a_bom_is_allowed_and_deep_nesting_is_a_message_not_a_traceback(tmp_path, capsys):
    f = tmp_path / "bom.toml"
    f.write_bytes("\ufefftimezone = \"Asia/Shanghai\"\n".encode("utf-8"))
    assert main(["check-config", str(f)]) == 0
    deep = tmp_path / "deep.toml"
    deep.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    assert main(["check-config", str(deep)]) == 2
    assert "nested too deeply" in capsys.readouterr().err


def test_a_postgresql_url_without_its_driver_names_the_extra(tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "psycopg", None)  # as on a machine where the extra was not installed
    monkeypatch.setenv("RS_DB", "postgresql+psycopg://u:pw-secret@127.0.0.1/rs")
    f = tmp_path / "c.toml"
    f.write_text('[store]\nurl = { env = "RS_DB" }\n', encoding="utf-8")
    assert main(["sweep", "--config", str(f)]) == 1
    err = capsys.readouterr().err
    assert "pip install 'rightsizer[postgresql]'" in err and "pw-secret" not in err
