"""A small city lived through the CLI for two weeks of October 2026 (the replay of test_reports), with an
account and a token of each role, for the console's tests."""
from __future__ import annotations

import io
import sys
from datetime import date, datetime, timedelta

import pytest

from rightsizer.cli import main
from rightsizer.db import Store
from rightsizer.settings import load_settings

from test_reports import ARCH, EDU, HEALTH, TZ, write_day

NOW = datetime(2026, 10, 20, 10, tzinfo=TZ)
PASSWORD = "correct horse battery"


def _with_stdin(text: str, argv: list[str]) -> int:
    old = sys.stdin
    sys.stdin = io.StringIO(text)
    try:
        return main(argv)
    finally:
        sys.stdin = old


@pytest.fixture(scope="session")
def console_city(tmp_path_factory):
    d = tmp_path_factory.mktemp("console")
    cfg = d / "rs.toml"
    cfg.write_text(f'[store]\nstate_dir = "{d}"\n[window]\ndays = 14\nstep_seconds = 3600\nmin_days_of_data = 7\n'
                   '[notices]\nlink_base = "http://127.0.0.1:8080/notices"\n'
                   '[web]\nsso_header = "X-Remote-User"\ntrusted_proxies = ["10.0.0.0/24"]\n'
                   "[[notifiers]]\nname = \"console\"\ntype = \"console\"\n"
                   + "".join(f'[departments."{x}"]\nchannels = ["console"]\n' for x in (EDU, ARCH, HEALTH)),
                   encoding="utf-8")
    common = ["--config", str(cfg)]
    day = date(2026, 10, 8)
    while day <= NOW.date():
        at = datetime(day.year, day.month, day.day, 9, tzinfo=TZ)
        inv, smp = write_day(d, day, at)
        assert main(["evaluate", *common, "--inventory", str(inv), "--samples", str(smp), "--at", at.isoformat(),
                     "--format", "json"]) == 0
        assert main(["sweep", *common, "--now", at.isoformat()]) == 0
        assert main(["deliver", *common, "--now", (at + timedelta(minutes=5)).isoformat()]) == 0
        day += timedelta(days=1)
    accounts = {"ops": ("operator", None), "edu": ("department", EDU), "health": ("department", HEALTH),
                "czj": ("finance", None)}
    for name, (role, dept) in accounts.items():
        assert _with_stdin(PASSWORD + "\n", ["users", "add", name, "--role", role, *common,
                                             *(["--department", dept] if dept else [])]) == 0
    tokens = {}
    for name, (role, dept) in accounts.items():
        buf, old = io.StringIO(), sys.stdout
        sys.stdout = buf
        try:
            assert main(["tokens", "add", f"{name}-api", "--role", role, *common,
                         *(["--department", dept] if dept else [])]) == 0
        finally:
            sys.stdout = old
        tokens[name] = buf.getvalue().strip()
    settings = load_settings(cfg)
    return settings, Store.open(settings.store.resolved_url()), tokens, d
