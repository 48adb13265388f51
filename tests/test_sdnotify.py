"""The shared sd_notify helper talks systemd's datagram protocol, to a path or an abstract socket."""
from __future__ import annotations

import os
import socket

from rightsizer.sdnotify import notify


def _listen(addr: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(addr)
    s.settimeout(5)
    return s


def test_ready_and_status_reach_a_path_socket(tmp_path, monkeypatch):
    path = str(tmp_path / "notify.sock")
    with _listen(path) as s:
        monkeypatch.setenv("NOTIFY_SOCKET", path)
        assert notify("READY=1", "STATUS=evaluating 2,000 servers")
        assert s.recv(4096).decode() == "READY=1\nSTATUS=evaluating 2,000 servers"


def test_abstract_namespace_socket(monkeypatch):
    name = f"rightsizer-test-{os.getpid()}"
    with _listen("\0" + name) as s:
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert notify("STOPPING=1")
        assert s.recv(4096) == b"STOPPING=1"


def test_outside_systemd_or_with_the_supervisor_gone_it_does_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert notify("READY=1") is False
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "nobody-listens.sock"))
    assert notify("WATCHDOG=1") is False  # logged, never raised
