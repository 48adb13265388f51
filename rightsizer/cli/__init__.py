"""Command line: argparse → a job of :mod:`rightsizer.jobs` → print. One module per command group:

* :mod:`.evaluate` — ``check-config``, ``calendar``, ``inventory sync``, ``evaluate``, ``agent``;
* :mod:`.notices` — ``sweep``, ``deliver``, ``notices …``;
* :mod:`.web` — ``web``, ``users``, ``tokens``;
* :mod:`.store` — ``report``, ``store``, ``daemon``, ``demo``;
* :mod:`.common` — times, the configuration, the store, printing.

Exit status (:mod:`rightsizer.errors`): 0 success, 2 bad input or configuration (the
message says what and where; nothing is written), 1 a source or the store failed.
Heavy modules (SQLAlchemy, numpy, the SDKs) are imported by the commands that use them,
so the in-guest agent starts small.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import describe
from . import evaluate, notices, store, web


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rightsizer", description="Right-size government-cloud servers (平度 第十三条).")
    p.add_argument("--version", action="version", version=f"%(prog)s {__import__('rightsizer').__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    for group in (evaluate, notices, store, web):
        group.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:
        return 0
    except Exception as exc:
        known = describe(exc)
        if known is None:
            raise  # a bug: keep the traceback
        code, lines = known
        for line in lines:
            print(f"error: {line}", file=sys.stderr)
        return code
