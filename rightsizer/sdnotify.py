"""systemd's notify protocol (``sd_notify``), stdlib only, for the agent and the daemon.

``notify("READY=1")`` sends one datagram to ``$NOTIFY_SOCKET`` (a path, or ``@name`` in
the abstract namespace). Outside systemd (no ``NOTIFY_SOCKET``) it does nothing and
returns ``False``; a socket that cannot be reached is logged, never raised — a service
does not die because its supervisor is gone.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger("rightsizer.sdnotify")


def notify(*fields: str) -> bool:
    """Send ``fields`` (e.g. ``"READY=1"``, ``"STATUS=…"``) as one message; ``True`` if sent."""
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr or not fields:
        return False
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        try:
            s.connect(addr)
            s.sendall("\n".join(fields).encode())
        except OSError as exc:
            log.warning("sd_notify failed: %s", exc)
            return False
    return True
