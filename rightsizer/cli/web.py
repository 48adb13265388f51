"""``web``, ``users`` and ``tokens``: the console and who may use it."""

from __future__ import annotations

import sys

from ..errors import UsageError
from .common import add_common, db_url, now_of, open_store, parse_date, parse_time, settings_of


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
    elif args.users_command == "unlock":
        n = accounts.unlock(store, now, args.name)
        print(f"account {args.name}: {n} failed sign-ins forgotten; it may sign in again from anywhere")
    return 0


def cmd_tokens(args) -> int:
    from ..format import minute
    from ..jobs import accounts
    from ..tables import table

    s = settings_of(args)
    store, now = open_store(args, s), now_of(args, s)
    if args.tokens_command == "list":
        rows = [[t.name, t.role, t.department or "", minute(t.created_at, s.tz),
                 minute(t.last_used_at, s.tz) if t.last_used_at else "never",
                 t.expires_on.isoformat() if t.expires_on else "-", t.user or "-",
                 "revoked" if t.disabled else ("expired" if t.expires_on and now.date() > t.expires_on else "active")]
                for t in accounts.tokens(store)]
        print(table(["name", "role", "department", "created", "last used", "expires", "account", "state"], rows))
        return 0
    if args.tokens_command == "revoke":
        accounts.revoke_token(store, now, args.name)
        print(f"token {args.name} revoked")
        return 0
    token = accounts.add_token(store, now, args.name, args.role, args.department,
                               parse_date(args.expires, "--expires") if args.expires else None, args.user)
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
    uu = us.add_parser("unlock", help="lift the login limit of an account (its failed sign-ins, from every address)")
    uu.add_argument("name")
    for c in (ua, up, ud, uu):
        add_common(c)
        c.set_defaults(func=cmd_users)
    tk = sub.add_parser("tokens", help="API bearer tokens").add_subparsers(dest="tokens_command", required=True)
    ta = tk.add_parser("add", help="print a new token once (stored hashed)")
    ta.add_argument("name")
    ta.add_argument("--role", choices=("operator", "department", "finance"), help="(default with --user: the account's)")
    ta.add_argument("--department")
    ta.add_argument("--expires", metavar="DATE", help="the last day it works (YYYY-MM-DD)")
    ta.add_argument("--user", metavar="NAME", help="the account it is made for: it dies with `users disable NAME`")
    tl = tk.add_parser("list", help="every token: name, role, department, created, last used, expiry — never the secret")
    tr = tk.add_parser("revoke", help="revoke a token (it stops working at once)")
    tr.add_argument("name")
    for c in (ta, tl, tr):
        add_common(c, now=True)
        c.set_defaults(func=cmd_tokens)
