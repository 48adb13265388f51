"""One exception hierarchy: every kind maps to its exit code and to lines a user reads."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from collectors.prometheus import PrometheusError
from collectors.psutil_local import AgentError
from notifiers.base import NotifierConfigError
from rightsizer.errors import (EXIT_FAILURE, EXIT_INPUT, CalendarError, ConfigError, InputError, NotFoundError,
                               SourceError, StateError, StoreError, UsageError, describe)


@pytest.mark.parametrize("exc, code", [
    (InputError(["a.csv:3: cpu_pct: '120' is outside 0-100"]), EXIT_INPUT),
    (ConfigError("bad.toml", ["window.dayz: unknown key (typo?)"]), EXIT_INPUT),
    (UsageError("--at: 'x' is not an ISO 8601 time"), EXIT_INPUT),
    (NotFoundError("no notice #9"), EXIT_INPUT),
    (StateError("… is withdrawn; ack needs one of delivered"), EXIT_INPUT),
    (CalendarError("working-day calendar has no data for 2027"), EXIT_INPUT),
    (AgentError("agent: port: bad"), EXIT_INPUT),
    (NotifierConfigError("notifier x: unknown type 'sms'"), EXIT_INPUT),
    (SourceError("openstack: HTTP 401"), EXIT_FAILURE),
    (PrometheusError("HTTP 503 from /api/v1/query"), EXIT_FAILURE),
    (StoreError("cannot open"), EXIT_FAILURE),
    (FileNotFoundError(2, "No such file or directory"), EXIT_FAILURE),
])
def test_each_kind_has_its_exit_code(exc, code):
    assert describe(exc)[0] == code


def test_a_bug_is_not_described_so_it_keeps_its_traceback():
    assert describe(KeyError("x")) is None
    assert describe(ZeroDivisionError()) is None


def test_config_problems_carry_their_path_and_a_long_list_is_cut():
    assert describe(ConfigError("bad.toml", ["a: x", "b: y"]))[1] == ["bad.toml: a: x", "bad.toml: b: y"]
    lines = describe(InputError([f"f.csv:{i}: x: bad" for i in range(2, 80)]))[1]
    assert len(lines) == 51 and lines[-1] == "... and 28 more problems"


def test_a_database_error_never_shows_the_url_or_its_password(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path}/missing/dir/x.db")
    with pytest.raises(sa.exc.OperationalError) as info:
        engine.connect()
    code, lines = describe(info.value)
    assert code == EXIT_FAILURE and lines[0].startswith("store or file access failed:")
    assert str(tmp_path) not in " ".join(lines)
