"""``web``, ``users`` and ``tokens``: the console and who may use it."""

from __future__ import annotations

import sys

from ..errors import UsageError
from .common import add_common, db_url, now_of, open_store, parse_time, settings_of


def cmd_web(args) -> int:
    from .. import web

    s = settings_of(args)
    if args.db:
        s = s.model_copy(update={"store": s.store.model_copy(update={"url": db_url(args, s)})})
    print(f"rightsizer web: http://{args.listen or s.web.listen}/ (stop with Ctrl-C)", flush=True)
    now = parse_time(args.now, s, "--now")
    return web.run(s, args.listen, now=now.astimezone(s.tz) if now else None)


def _password(args) -> str:
    data = sys.stdin.readline()
    if not data.strip():
        raise UsageError("the password is read from standard input (one line), e.g. `printf '%s\\n' … | rightsizer "
                         "users add …`")
    return data


def cmd_users(args) -> int:
    from ..jobs import accounts

    s = settings_of(args)
    store, now = open_store(args, s), now_of(args, s)
    if args.users_command == "add":
        accounts.add_user(store, now, args.name, args.role, args.department, None if args.sso_only else _password(args))
        print(f"account {args.name} ({args.role}{', ' + args.department if args.department else ''}) added")
    elif args.users_command == "passwd":
        accounts.set_password(store, now, args.name, _password(args))
        print(f"password of {args.name} changed; its sessions ended")
    elif args.users_command == "disable":
        accounts.disable_user(store, now, args.name)
        print(f"account {args.name} disabled; its sessions ended")
    return 0


def cmd_tokens(args) -> int:
    from ..jobs import accounts

    s = settings_of(args)
    token = accounts.add_token(open_store(args, s), now_of(args, s), args.name, args.role, args.department)
    print(token)
    print(f"(token {args.name}: shown once, stored hashed; use it as `Authorization: Bearer …`)", file=sys.stderr)
    return 0


def register(sub) -> None:
    w = sub.add_parser("web", help="the web console and its API (FastAPI + uvicorn) on [web] listen")
    w.add_argument("--listen", metavar="HOST:PORT", help="default: [web] listen (127.0.0.1:8080)")
    add_common(w)
    w.add_argument("--now", metavar="ISO", help="a fixed clock for the console (replays and demos); default: the clock")
    w.set_defaults(func=cmd_web)

    us = sub.add_parser("users", help="console accounts (argon2 hashes)").add_subparsers(dest="users_command",
                                                                                       required=True)
    ua = us.add_parser("add", help="add an account; the password is read from standard input")
    ua.add_argument("name")
    ua.add_argument("--role", required=True, choices=("operator", "department", "finance"))
    ua.add_argument("--department", help="the department of a department account")
    ua.add_argument("--sso-only", action="store_true", help="no password: signs in only through [web] sso_header")
    up = us.add_parser("passwd", help="set a new password (standard input); ends the account's sessions")
    up.add_argument("name")
    ud = us.add_parser("disable", help="disable an account and end its sessions")
    ud.add_argument("name")
    for c in (ua, up, ud):
        add_common(c)
        c.set_defaults(func=cmd_users)
    tk = sub.add_parser("tokens", help="API bearer tokens").add_subparsers(dest="tokens_command", required=True)
    ta = tk.add_parser("add", help="print a new token once (stored hashed)")
    ta.add_argument("name")
    ta.add_argument("--role", required=True, choices=("operator", "department", "finance"))
    ta.add_argument("--department")
    add_common(ta)
    ta.set_defaults(func=cmd_tokens)
