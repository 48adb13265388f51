"""Accounts, sign-in and API tokens of the console.

* local accounts: ``rightsizer users add NAME --role … [--department D]`` with the password read
  from standard input, hashed with argon2id (argon2-cffi's defaults); ``passwd``, ``disable``;
* sign-in: a password, limited to ``[web] login_max_failures`` failures per account and per
  address within ``login_window_seconds`` (counted in the store, so every copy of the console
  shares the limit); or the single-sign-on header, believed only from ``[web] trusted_proxies``;
* sessions live in the store: the browser holds a random id, the store its SHA-256, with the
  session's CSRF token and its expiry;
* API tokens (``rightsizer tokens add``) are printed once and stored as a SHA-256.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
import threading
from dataclasses import dataclass
from datetime import date, datetime, timezone

from ..db import Store
from ..db import accounts as db_accounts
from ..errors import NotFoundError, UsageError
from ..lifecycle import ROLES, Viewer, check
from ..settings import WebSettings

TOKEN_PREFIX = "rsz_"


def _network(address: str) -> str:
    """Where an attempt comes from, for the limit: an IPv4 address, or an IPv6 address's /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    return str(ipaddress.ip_network(f"{ip}/64", strict=False)) if ip.version == 6 else str(ip)


_VERIFYING = threading.BoundedSemaphore(2)  # concurrent argon2 checks (each takes its memory_cost of RAM)


def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _check_role(role: str, department: str | None) -> None:
    if role not in ROLES:
        raise UsageError(f"--role: {role!r} is one of {', '.join(ROLES)}")
    if role == "department" and not department:
        raise UsageError("--department: a department account names its department")
    if role != "department" and department:
        raise UsageError(f"--department: only a department account has one (this is {role})")


COMMON = frozenset({"1234567890", "0123456789", "12345678910", "1234567890a", "a123456789", "qwertyuiop",
                    "1qaz2wsx3edc", "1q2w3e4r5t", "password123", "passw0rd123", "administrator", "admin123456",
                    "abc1234567", "abcd123456", "woaini1314", "zxcvbnm123", "qwerty123456", "iloveyou123",
                    "aa123456789", "rightsizer", "rightsizer123", "gov123456789", "zhengwuyun"})


def _check_password(password: str, name: str = "") -> str:
    """At least 10 characters, not the account's name, not one character repeated, not a common password."""
    password = password.rstrip("\r\n")
    if len(password) < 10:
        raise UsageError("the password needs at least 10 characters")
    low = password.lower()
    if name and name.lower() in low:
        raise UsageError("the password must not contain the account's name")
    if len(set(password)) <= 2:
        raise UsageError("the password must not be one or two characters repeated")
    if low in COMMON or low.rstrip("!@#.") in COMMON:
        raise UsageError("the password is on the list of common passwords")
    return password


def add_user(store: Store, now: datetime, name: str, role: str, department: str | None, password: str | None) -> None:
    """A local account; ``password=None`` makes a single-sign-on-only account (no password sign-in)."""
    _check_role(role, department)
    if not name.strip():
        raise UsageError("the account name is empty")
    hashed = _hasher().hash(_check_password(password, name)) if password is not None else ""
    with store.begin() as conn:
        if db_accounts.user(conn, name) is not None:
            raise UsageError(f"account {name!r} exists already (passwd changes its password)")
        db_accounts.add_user(conn, name, role, department, hashed, now)
        db_accounts.log(conn, now, "cli", "operator", "user.add", name, department, {}, {"role": role})


def set_password(store: Store, now: datetime, name: str, password: str) -> None:
    hashed = _hasher().hash(_check_password(password, name))
    with store.begin() as conn:
        if not db_accounts.update_user(conn, name, password_hash=hashed):
            raise NotFoundError(f"no account {name!r}")
        db_accounts.end_sessions_of(conn, name)
        db_accounts.log(conn, now, "cli", "operator", "user.passwd", name, None, {}, {})


def unlock(store: Store, now: datetime, name: str) -> int:
    """An operator lifts the login limit of an account (from every address); how many failures it forgot."""
    with store.begin() as conn:
        if db_accounts.user(conn, name) is None:
            raise NotFoundError(f"no account {name!r}")
        n = db_accounts.clear_account(conn, name)
        db_accounts.log(conn, now, "cli", "operator", "user.unlock", name, None, {"failures": n}, {"failures": 0})
    return n


def disable_user(store: Store, now: datetime, name: str) -> None:
    with store.begin() as conn:
        if not db_accounts.update_user(conn, name, disabled=True):
            raise NotFoundError(f"no account {name!r}")
        db_accounts.end_sessions_of(conn, name)
        gone = db_accounts.disable_tokens(conn, user=name)  # a token made for the account dies with it
        db_accounts.log(conn, now, "cli", "operator", "user.disable", name, None, {"disabled": False},
                        {"disabled": True, "tokens_revoked": gone})


def add_token(store: Store, now: datetime, name: str, role: str | None, department: str | None,
              expires: date | None = None, user: str | None = None) -> str:
    """A new API token: returned once, stored as its SHA-256. ``expires``: the last day it works; ``user``: the
    account it is made for (its role and department; it dies with ``users disable``)."""
    if expires is not None and expires < now.date():
        raise UsageError(f"--expires {expires.isoformat()} is in the past")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with store.begin() as conn:
        if user is not None:
            acct = db_accounts.user(conn, user)
            if acct is None or acct.disabled:
                raise NotFoundError(f"no enabled account {user!r}")
            if (role or acct.role) != acct.role or (department or acct.department) != acct.department:
                raise UsageError(f"--user {user}: the token has the account's role and department "
                                 f"({acct.role}{', ' + acct.department if acct.department else ''})")
            role, department = acct.role, acct.department
        if role is None:
            raise UsageError("--role (or --user) is needed")
        _check_role(role, department)
        if db_accounts.token_named(conn, name) is not None:
            raise UsageError(f"token {name!r} exists already")
        db_accounts.add_token(conn, name, role, department, digest(token), now, expires, user)
        db_accounts.log(conn, now, "cli", "operator", "token.add", name, department, {},
                        {"role": role, "expires": expires.isoformat() if expires else None, "user": user})
    return token


def tokens(store: Store, viewer: Viewer | None = None) -> list:
    """Every token with its terms — never its secret (only the hash is stored). A viewer must be an operator."""
    if viewer is not None:
        check(viewer, "tokens")
    with store.read() as conn:
        return db_accounts.tokens(conn)


def revoke_token(store: Store, now: datetime, name: str, viewer: Viewer | None = None) -> None:
    """Stop a token at once (the CLI's operator, or one at the console)."""
    if viewer is not None:
        check(viewer, "tokens")
    who = viewer or Viewer("cli", "operator", None)
    with store.begin() as conn:
        if not db_accounts.disable_tokens(conn, name=name):
            raise NotFoundError(f"no token {name!r}")
        db_accounts.log(conn, now, who.name, who.role, "token.revoke", name, None, {"disabled": False},
                        {"disabled": True})


def viewer_of_token(store: Store, token: str, now: datetime) -> Viewer | None:
    """The viewer of a live token: enabled, not past its last day, its account (if any) enabled; its use
    recorded."""
    with store.read() as conn:
        row = db_accounts.token(conn, digest(token))
        acct = db_accounts.user(conn, row.user) if row is not None and row.user else None
    if row is None or (row.expires_on is not None and now.date() > row.expires_on):
        return None
    if row.user and (acct is None or acct.disabled):
        return None
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        try:  # best-effort and rare: an API read does not wait on the store's writer for its bookkeeping
            with store.begin() as conn:
                db_accounts.used(conn, row.id, now)
        except Exception:  # noqa: BLE001 — a busy store or two first uses at once: the next call records it
            pass
    return Viewer(f"token:{row.name}", row.role, row.department)


# -- sign-in and sessions ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Session:
    id: str  # what the cookie holds (never stored)
    viewer: Viewer
    csrf: str
    expires_at: float


class LoginRefused(Exception):
    def __init__(self, why: str, limited: bool = False):
        super().__init__(why)
        self.limited = limited


def login(store: Store, web: WebSettings, name: str, password: str, address: str, now: datetime) -> Session:
    """A session for a correct password; :class:`LoginRefused` (one message whatever was wrong)."""
    if len(name) > 255 or len(password) > 1024:  # no account has such a name; argon2 is not fed megabytes
        raise LoginRefused("用户名或密码错误")
    t = now.timestamp()
    # limited: this account from this address (the address first: a name cannot forge another's key), and this
    # address; the account as a whole is slowed, never locked for everyone (behind the proxy every user would
    # share its address — issue 24.4). An IPv6 client counts per /64 (one host has all of it).
    where = _network(address)
    keys = [f"pair:{where}/{name}", f"ip:{where}"]
    since = t - web.login_window_seconds
    with store.begin() as conn:  # the attempt is counted before the password is checked (issue 24.3)
        db_accounts.prune_failures(conn, since)
        reserved = db_accounts.reserve_attempt(conn, keys, t, since, web.login_max_failures, f"acct:{name}",
                                               web.login_max_failures)
        row = db_accounts.user(conn, name) if isinstance(reserved, list) else None
    if not isinstance(reserved, list):
        wait = f"，请 {int(reserved) + 1} 秒后再试" if reserved else "，请稍后再试"
        raise LoginRefused("登录失败次数过多" + wait, limited=True)
    ok = False
    with _VERIFYING:  # argon2 takes its memory per check: a bounded number at once, the rest wait their turn
        if row is not None and not row.disabled and row.password_hash:
            from argon2.exceptions import VerificationError

            try:
                ok = _hasher().verify(row.password_hash, password)
            except VerificationError:
                ok = False
        else:
            _hasher().hash("timing: as slow as a real check")
    if not ok:
        with store.begin() as conn:  # the reserved attempt stays (a failure); who tried, from where, is audited
            db_accounts.log(conn, now, name, row.role if row is not None else "-", "login.failed",
                            f"from {address}", row.department if row is not None else None, {}, {})
        raise LoginRefused("用户名或密码错误")
    with store.begin() as conn:
        db_accounts.forget_attempt(conn, reserved)
        db_accounts.clear_failures(conn, [f"pair:{where}/{name}", f"acct:{name}"])  # signed in: no more delay
        return _start(conn, web, Viewer(row.name, row.role, row.department), "password", t)


def sso(store: Store, web: WebSettings, name: str, address: str, now: datetime) -> Session:
    """A session for the account the trusted proxy names (the account must exist and be enabled)."""
    if not web.sso_header or not trusted(web, address):
        raise LoginRefused("单点登录只接受来自受信任代理的请求")
    with store.begin() as conn:
        row = db_accounts.user(conn, name)
        if row is None or row.disabled:
            raise LoginRefused(f"统一身份认证账号 {name} 未在本系统开通")
        live = db_accounts.live_sso_session(conn, name, now.timestamp())
        if live is not None:  # the proxy vouches for every request: its live session serves (no new row, no cookie)
            return Session("", Viewer(row.name, row.role, row.department), live.csrf, live.expires_at)
        return _start(conn, web, Viewer(row.name, row.role, row.department), "sso", now.timestamp())


def trusted(web: WebSettings, address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(n, strict=False) for n in web.trusted_proxies)


def _start(conn, web: WebSettings, viewer: Viewer, via: str, t: float) -> Session:
    sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    expires = t + web.session_hours * 3600
    db_accounts.prune_sessions(conn, t)
    db_accounts.add_session(conn, digest(sid), viewer.name, viewer.role, viewer.department, csrf, via, t, expires)
    db_accounts.log(conn, datetime.fromtimestamp(t, timezone.utc), viewer.name, viewer.role,
               "login", via, viewer.department, {}, {})
    return Session(sid, viewer, csrf, expires)


def session(store: Store, sid: str, now: float) -> Session | None:
    """The live session of ``sid`` at ``now`` (epoch seconds), or ``None``."""
    with store.read() as conn:
        row = db_accounts.session(conn, digest(sid), now)
        user = db_accounts.user(conn, row.user) if row is not None else None
    if row is None or user is None or user.disabled:
        return None
    return Session(sid, Viewer(row.user, row.role, row.department), row.csrf, row.expires_at)


def logout(store: Store, sid: str, viewer: Viewer | None = None, now: datetime | None = None) -> None:
    """End a session (a reused SSO one, ``sid`` "": the account's SSO sessions); audited when the viewer signs out
    (not when a new sign-in ends the browser's old one)."""
    with store.begin() as conn:
        if sid:
            db_accounts.end_session(conn, digest(sid))
        elif viewer is not None:
            db_accounts.end_sso_sessions_of(conn, viewer.name)
        if viewer is not None and now is not None:
            db_accounts.log(conn, now, viewer.name, viewer.role, "logout", viewer.name, viewer.department, {}, {})


def audit_download(store: Store, viewer: Viewer, now: datetime, what: str, department: str | None) -> None:
    """A document or a report taken away (a notice's PDF, a monthly report, an evaluation export): audited."""
    with store.begin() as conn:
        db_accounts.log(conn, now, viewer.name, viewer.role, "download", what, department, {}, {})
