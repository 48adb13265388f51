"""One exception hierarchy for the CLI, the daemon and the web console, with its exit codes.

* ``0`` — success;
* ``2`` — bad input or configuration (:class:`InputError` and its kinds): the message
  names the file, line and field, or the key path; nothing was written;
* ``1`` — a source or the store failed (:class:`SourceError`, :class:`StoreError`, and
  an ``OSError`` or SQLAlchemy error reaching the top): the message never holds a secret
  or a database URL.

A job raises these; an entry point maps them with :func:`describe`. An exception that is
none of them is a bug and keeps its traceback.

Stdlib only: every layer may import this module.
"""

from __future__ import annotations

import sys

EXIT_OK, EXIT_FAILURE, EXIT_INPUT = 0, 1, 2


class RightsizerError(Exception):
    """Base of every expected failure; ``lines()`` is what the user reads."""

    exit_code = EXIT_FAILURE

    def lines(self) -> list[str]:
        return str(self).splitlines() or [type(self).__name__]


class InputError(RightsizerError):
    """Bad input: a file, an argument or a configuration; ``problems`` holds one line each."""

    exit_code = EXIT_INPUT
    MAX_SHOWN = 50

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        shown = self.problems[:self.MAX_SHOWN]
        more = len(self.problems) - len(shown)
        super().__init__("\n".join(shown) + (f"\n... and {more} more problems" if more else ""))


class ConfigError(InputError):
    """A configuration that cannot be used; each problem is prefixed with the file or key path."""

    def __init__(self, path: str, problems: list[str] | str):
        self.path = path
        probs = [problems] if isinstance(problems, str) else list(problems)
        super().__init__([f"{path}: {p}" for p in probs])
        self.problems = probs  # without the path, as pydantic reported them


class UsageError(InputError):
    """A bad command-line value or request."""


class NotFoundError(UsageError):
    """The thing asked for does not exist (a notice number, an exemption)."""


class StateError(UsageError):
    """A transition the current state does not allow (acknowledging a withdrawn notice)."""


class CalendarError(InputError):
    """A day the working-day calendar cannot classify, or a broken override file."""


class SourceError(RightsizerError):
    """A source (the cloud, a TSDB) could not be read; nothing was written."""


class StoreError(RightsizerError):
    """The store could not be opened, read or written."""


def _sqlalchemy_error(exc: BaseException) -> bool:
    mod = sys.modules.get("sqlalchemy.exc")  # never imported here: only if the store is in use
    return mod is not None and isinstance(exc, mod.SQLAlchemyError)


def describe(exc: BaseException) -> tuple[int, list[str]] | None:
    """``(exit code, lines to print)`` for an expected failure; ``None`` for a bug."""
    if isinstance(exc, RightsizerError):
        return exc.exit_code, exc.lines()
    if isinstance(exc, OSError) or _sqlalchemy_error(exc):
        # The store URL may carry a password: say what failed, never the URL.
        reason = getattr(exc, "orig", None) or getattr(exc, "strerror", None) or type(exc).__name__
        return EXIT_FAILURE, [f"store or file access failed: {reason}"]
    return None
