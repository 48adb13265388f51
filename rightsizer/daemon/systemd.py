"""What systemd sees of the daemon: the notify protocol (``READY=1``, ``STATUS=``, ``WATCHDOG=1``,
``RELOADING=1``, ``STOPPING=1``) and the watchdog interval it asks for."""

from __future__ import annotations

import os

from ..sdnotify import notify

__all__ = ["notify", "watchdog_usec"]


def watchdog_usec() -> int:
    """systemd's watchdog interval for this process (µs), or 0."""
    pid = os.environ.get("WATCHDOG_PID")
    if pid and pid != str(os.getpid()):
        return 0
    try:
        return int(os.environ.get("WATCHDOG_USEC", "0"))
    except ValueError:
        return 0
