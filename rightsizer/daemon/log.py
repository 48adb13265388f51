"""The daemon's log: one line per event to stderr — level, job, notice number, message.

journald adds the time; under journald (``JOURNAL_STREAM``) each line carries its syslog priority.
A message never holds a secret; a newline in one never splits an event.
"""

from __future__ import annotations

import logging
import os
import sys

from .scheduler import CURRENT_JOB

_PRIORITY = {"CRITICAL": 2, "ERROR": 3, "WARNING": 4, "INFO": 6, "DEBUG": 7}


class OneLine(logging.Formatter):
    """``LEVEL job=… notice=… message``: one line per event, whatever the message holds."""

    def __init__(self, journal: bool = False):
        super().__init__()
        self.journal = journal

    def format(self, record: logging.LogRecord) -> str:
        job = getattr(record, "job", "") or CURRENT_JOB.get()
        notice = getattr(record, "notice", "")
        text = record.getMessage()
        if record.exc_info:
            text += " | " + " | ".join(self.formatException(record.exc_info).splitlines())
        line = " ".join(p for p in (record.levelname, f"job={job}" if job else "",
                                    f"notice={notice}" if notice else "", text) if p)
        line = line.replace("\r", " ").replace("\n", " | ")
        return f"<{_PRIORITY.get(record.levelname, 6)}>{line}" if self.journal else line


def setup_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLine(journal=bool(os.environ.get("JOURNAL_STREAM"))))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    for noisy in ("apscheduler", "weasyprint", "fontTools", "alembic"):  # "Running job …", PDF layout steps: not events
        logging.getLogger(noisy).setLevel(logging.WARNING)
