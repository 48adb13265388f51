"""``rightsizer daemon`` as a real process, as systemd runs it: a NOTIFY_SOCKET the test binds (every
datagram recorded), WATCHDOG_USEC, signals, its stderr log."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

RIGHTSIZER = str(Path(sys.executable).parent / "rightsizer")


class NotifySocket:
    """A datagram socket like systemd's: records each message the service sends, in order."""

    def __init__(self, path: Path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.messages: list[tuple[float, str]] = []
        self.lock = threading.Lock()
        self.closed = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while not self.closed.is_set():
            try:
                data = self.sock.recv(4096)
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            with self.lock:
                self.messages.append((time.monotonic(), data.decode()))

    def all(self) -> list[str]:
        with self.lock:
            return [m for _, m in self.messages]

    def wait_for(self, pattern: str, after: int = 0, timeout: float = 30) -> int:
        """Index of the first message from ``after`` on that matches ``pattern`` (a regex)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            msgs = self.all()
            for i in range(after, len(msgs)):
                if re.search(pattern, msgs[i]):
                    return i
            time.sleep(0.05)
        raise AssertionError(f"no notify message matching {pattern!r} in {timeout:g} s; got {self.all()[-10:]}")

    def close(self) -> None:
        self.closed.set()
        self.sock.close()


# The daemons' clock in these tests: a Friday morning, a working day, whatever day the tests run on (on a
# Saturday in Beijing the sweep rightly issues nothing, and a test that waits for a notice would wait in vain).
# Every daemon of a run shares one clock that goes on from there (a restarted daemon does not go back in time).
WORKDAY = "2026-11-20T10:00:00+08:00"
_STARTED = time.time()


def workday_now() -> str:
    """The shared clock now: :data:`WORKDAY` plus the time since the tests began."""
    return (datetime.fromisoformat(WORKDAY) + timedelta(seconds=time.time() - _STARTED)).isoformat()


class DaemonProc:
    def __init__(self, config: Path, log: Path, notify: NotifySocket | None = None, now: str | None = None,
                 watchdog_usec: int = 0, env: dict[str, str] | None = None, command: list[str] | None = None):
        self.log = log
        cmd = [*(command or [RIGHTSIZER, "daemon", "--config", str(config)]), "--now", now or workday_now()]
        full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(log.parent), **(env or {})}
        if notify is not None:
            full_env["NOTIFY_SOCKET"] = str(notify.path)
        if watchdog_usec:
            full_env["WATCHDOG_USEC"] = str(watchdog_usec)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log.open("a"), env=full_env)

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def port(self, timeout: float = 30) -> int:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            found = re.findall(r"/metrics on 127\.0\.0\.1:(\d+)", self.text())
            if found:
                return int(found[-1])
            if self.proc.poll() is not None:
                raise AssertionError(f"the daemon exited with {self.proc.returncode}: {self.text()[-2000:]}")
            time.sleep(0.05)
        raise AssertionError(f"the daemon did not start in {timeout:g} s: {self.text()[-2000:]}")

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


def wait_until(predicate, timeout: float = 60, what: str = "condition", step: float = 0.1,
               daemon: DaemonProc | None = None):
    """``predicate()`` once it is true; fails after ``timeout`` — at once if ``daemon`` has exited."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = predicate()
        if got:
            return got
        if daemon is not None and daemon.proc.poll() is not None:
            raise AssertionError(f"{what}: the daemon exited with {daemon.proc.returncode}: {daemon.text()[-3000:]}")
        time.sleep(step)
    raise AssertionError(f"{what}: not reached in {timeout:g} s")
