"""One way to hold a secret, read and failing the same way for the store, InfluxDB, notifiers and the agent."""
from __future__ import annotations

import pytest

import notifiers
from collectors.config import AgentSettings, InfluxDBSettings
from rightsizer.errors import ConfigError
from rightsizer.secrets import SecretRef
from rightsizer.settings import Settings

SECRET = "s3cret-Value-9"


def _users(ref: dict):
    """Every place a secret is read, each as (key path, a function that reads it)."""
    return [
        ("store.url", lambda: Settings.model_validate({"store": {"url": ref}}).store.resolved_url()),
        ("metrics.influxdb.token", lambda: InfluxDBSettings.model_validate({"token": ref}).token_value()),
        ("notifiers.mail.password", lambda: notifiers.build(
            {"name": "mail", "type": "email", "host": "127.0.0.1", "sender": "a@b", "password": ref})._password),
        ("influxdb.token", lambda: AgentSettings.model_validate(
            {"influxdb": {"url": "http://127.0.0.1:1", "bucket": "b", "token": ref}}).influxdb.token_value()),
    ]


def test_every_user_reads_the_environment_and_files_alike(tmp_path, monkeypatch):
    monkeypatch.setenv("RS_TEST_SECRET", SECRET)
    f = tmp_path / "secret"
    f.write_text(SECRET + "\n", encoding="utf-8")
    for ref in ({"env": "RS_TEST_SECRET"}, {"file": str(f)}):
        assert [read() for _, read in _users(ref)] == [SECRET] * 4


@pytest.mark.parametrize("ref, why", [({"env": "RS_UNSET_SECRET"}, "environment variable RS_UNSET_SECRET is not set"),
                                      ({"file": "/nonexistent/secret"}, "cannot read secret file /nonexistent/secret")])
def test_every_user_fails_the_same_way_naming_the_key_never_the_value(ref, why, monkeypatch):
    monkeypatch.delenv("RS_UNSET_SECRET", raising=False)
    for key, read in _users(ref):
        with pytest.raises(ConfigError) as info:
            read()
        assert str(info.value).startswith(f"{key}: {why}")


def test_the_older_spellings_mean_the_same_secret(monkeypatch):
    assert Settings.model_validate({"store": {"url_env": "X"}}).store.url == SecretRef(env="X")
    assert InfluxDBSettings.model_validate({"token_file": "/t"}).token == SecretRef(file="/t")
    with pytest.raises(Exception, match="give only one of token, token_env, token_file"):
        InfluxDBSettings.model_validate({"token": {"env": "A"}, "token_env": "B"})


def test_a_reference_needs_exactly_one_source():
    for bad in ({}, {"env": "A", "file": "/b"}):
        with pytest.raises(Exception, match="exactly one of env, file"):
            SecretRef.model_validate(bad)


# -- issue 9 point 12: a secret written where its name or path belongs is never printed -----------

PASTED = ["s3cret Value!9", "hunter2$$", "pa:ss@word", "密码123456", "xoxb-1234-abcd/efgh=="]


@pytest.mark.parametrize("value", PASTED)
@pytest.mark.parametrize("where", ["env", "file"])
def test_a_secret_in_env_or_file_is_refused_at_load_without_repeating_it(tmp_path, capsys, where, value):
    from rightsizer.cli import main

    for key, read in _users({where: value}):
        with pytest.raises(Exception) as info:
            read()
        assert value not in str(info.value) and "not shown" in str(info.value), (key, str(info.value))
    cfg = tmp_path / "rs.toml"
    cfg.write_text(f'[[notifiers]]\nname = "mail"\ntype = "email"\nhost = "127.0.0.1"\nsender = "a@b"\n'
                   f'to = ["ops@example.gov.cn"]\npassword = {{ {where} = "{value}" }}\n', encoding="utf-8")
    assert main(["check-config", str(cfg)]) == 2
    out = capsys.readouterr()
    assert value not in out.err + out.out and "notifiers" in out.err


def test_a_name_like_value_that_is_not_set_is_shown_only_begun(monkeypatch):
    monkeypatch.delenv("Xk9pQ2vB7mN4", raising=False)  # looks like a name, but not like a conventional one
    with pytest.raises(ConfigError) as info:
        SecretRef(env="Xk9pQ2vB7mN4").reveal("notifiers.mail.password")
    assert "Xk9pQ2vB7mN4" not in str(info.value) and "Xk…" in str(info.value)


@pytest.mark.parametrize("url", ["postgresql+psycopg://rs:S3cret-pw@db.example/rightsizer",
                                 "postgresql://rs:@db/rs", "mysql://u:p@h/d"])
def test_an_inline_password_in_the_store_url_is_a_configuration_error(url, tmp_path, capsys):
    from rightsizer.cli import main

    with pytest.raises(Exception) as info:
        Settings.model_validate({"store": {"url": url}})
    assert "url = { env = \"RIGHTSIZER_DB_URL\" }" in str(info.value) and url not in str(info.value)
    cfg = tmp_path / "rs.toml"
    cfg.write_text(f'[store]\nurl = "{url}"\n', encoding="utf-8")
    assert main(["check-config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "store.url: the URL holds a password" in err and url.split("@")[0] not in err
    # a URL without a password is fine
    Settings.model_validate({"store": {"url": "postgresql+psycopg://rs@db.example/rightsizer"}})


def test_check_config_skip_secrets_checks_all_but_the_secrets_only_the_service_can_read(tmp_path, capsys):
    """Under systemd the secrets are credentials at /run/credentials/rightsizer.service/…, readable by the
    service alone: an operator checks the rest of the file first; a typo still fails."""
    from rightsizer.cli import main

    cfg = tmp_path / "rs.toml"
    block = ('[[notifiers]]\nname = "mail"\ntype = "email"\nhost = "smtp.example"\nsender = "a@example"\n'
             'password = { file = "/run/credentials/rightsizer.service/smtp-password" }\nto = ["ops@example"]\n')
    cfg.write_text(block, encoding="utf-8")
    assert main(["check-config", str(cfg)]) == 2
    assert "notifiers.mail.password" in capsys.readouterr().err
    assert main(["check-config", "--skip-secrets", str(cfg)]) == 0
    assert "OK (secrets not read)" in capsys.readouterr().out
    cfg.write_text(block + "[daemon]\nlisten = \"nowhere\"\n", encoding="utf-8")
    assert main(["check-config", "--skip-secrets", str(cfg)]) == 2
    assert "daemon.listen" in capsys.readouterr().err
