"""Console: prints the notice to a stream (the demo's default, and a dry run).

Configuration example::

    [[notifiers]]
    name = "console"
    type = "console"
"""

from __future__ import annotations

import sys
from typing import TextIO

from .base import Message, SendResult
from .config import ConsoleSettings




class ConsoleNotifier:
    attaches = ()

    def __init__(self, cfg: ConsoleSettings, stream: TextIO | None = None):
        self.cfg, self.name = cfg, cfg.name
        self.stream = stream or sys.stdout

    def send(self, msg: Message) -> SendResult:
        rule = "=" * 72
        to = ", ".join(msg.recipients) or self.name
        self.stream.write(f"{rule}\n[{self.name}] to: {to}\n{msg.subject}\n{rule}\n{msg.text}\n")
        self.stream.flush()
        return SendResult(True, detail=f"console {self.name}: printed")
