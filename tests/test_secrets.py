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
