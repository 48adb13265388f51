"""Accounts: users, sessions, API tokens, failed logins and the audit log of every action.

Secrets are never stored: passwords as argon2 hashes (made by the caller), session ids and API
tokens as SHA-256 digests of random values the browser or the client system holds.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .schema import api_token_terms, api_tokens, audit, login_failures, users, web_sessions


# -- accounts ------------------------------------------------------------------------------------------------

def add_user(conn: Connection, name: str, role: str, department: str | None, password_hash: str, at: datetime) -> None:
    conn.execute(users.insert().values(name=name, role=role, department=department, password_hash=password_hash,
                                       disabled=False, created_at=at))


def user(conn: Connection, name: str):
    return conn.execute(sa.select(users).where(users.c.name == name)).first()


def update_user(conn: Connection, name: str, **values) -> bool:
    return conn.execute(users.update().where(users.c.name == name).values(**values)).rowcount == 1


# -- sessions ------------------------------------------------------------------------------------------------

def add_session(conn: Connection, id_hash: str, user_name: str, role: str, department: str | None, csrf: str,
                via: str, now: float, expires: float) -> None:
    conn.execute(web_sessions.insert().values(id_hash=id_hash, user=user_name, role=role, department=department,
                                              csrf=csrf, via=via, created_at=now, expires_at=expires))


def session(conn: Connection, id_hash: str, now: float):
    return conn.execute(sa.select(web_sessions).where(web_sessions.c.id_hash == id_hash,
                                                      web_sessions.c.expires_at > now)).first()


def live_sso_session(conn: Connection, user_name: str, now: float):
    """The newest live single-sign-on session of the account, or ``None``."""
    return conn.execute(sa.select(web_sessions).where(web_sessions.c.user == user_name, web_sessions.c.via == "sso",
                                                      web_sessions.c.expires_at > now)
                        .order_by(web_sessions.c.expires_at.desc()).limit(1)).first()


def end_sso_sessions_of(conn: Connection, user_name: str) -> int:
    return conn.execute(web_sessions.delete().where(web_sessions.c.user == user_name, web_sessions.c.via == "sso")
                        ).rowcount


def end_session(conn: Connection, id_hash: str) -> None:
    conn.execute(web_sessions.delete().where(web_sessions.c.id_hash == id_hash))


def end_sessions_of(conn: Connection, user_name: str) -> int:
    return conn.execute(web_sessions.delete().where(web_sessions.c.user == user_name)).rowcount


def prune_sessions(conn: Connection, now: float) -> int:
    return conn.execute(web_sessions.delete().where(web_sessions.c.expires_at <= now)).rowcount


# -- API tokens ----------------------------------------------------------------------------------------------

def add_token(conn: Connection, name: str, role: str, department: str | None, token_hash: str, at: datetime,
              expires_on: date | None = None, user: str | None = None) -> None:
    tid = conn.execute(api_tokens.insert().values(name=name, role=role, department=department, token_hash=token_hash,
                                                  disabled=False, created_at=at)).inserted_primary_key[0]
    conn.execute(api_token_terms.insert().values(token_id=tid, expires_on=expires_on, user=user))


def _tokens():
    return (sa.select(api_tokens, api_token_terms.c.expires_on, api_token_terms.c.user, api_token_terms.c.last_used_at)
            .outerjoin(api_token_terms, api_token_terms.c.token_id == api_tokens.c.id))


def token(conn: Connection, token_hash: str):
    """The enabled token of this hash with its terms (expiry, account, last use), or ``None``."""
    return conn.execute(_tokens().where(api_tokens.c.token_hash == token_hash, api_tokens.c.disabled.is_(False))).first()


def tokens(conn: Connection) -> list:
    return conn.execute(_tokens().order_by(api_tokens.c.name)).all()


def disable_tokens(conn: Connection, *, name: str | None = None, user: str | None = None) -> int:
    """Revoke the token called ``name``, or every token made for the account ``user``; how many."""
    if name is not None:
        q = api_tokens.update().where(api_tokens.c.name == name)
    else:
        ids = sa.select(api_token_terms.c.token_id).where(api_token_terms.c.user == user)
        q = api_tokens.update().where(api_tokens.c.id.in_(ids))
    return conn.execute(q.values(disabled=True)).rowcount


def used(conn: Connection, token_id: int, at: datetime) -> None:
    """Record a use (at most once a minute a token: a read of the API stays nearly a read)."""
    t = api_token_terms
    if conn.execute(sa.select(t.c.token_id).where(t.c.token_id == token_id)).first() is None:
        conn.execute(t.insert().values(token_id=token_id, last_used_at=at))
        return
    conn.execute(t.update().where(t.c.token_id == token_id, sa.or_(t.c.last_used_at.is_(None),
                                                                   t.c.last_used_at < at - timedelta(minutes=1)))
                 .values(last_used_at=at))


def token_named(conn: Connection, name: str):
    return conn.execute(sa.select(api_tokens).where(api_tokens.c.name == name)).first()


# -- the login rate limit ------------------------------------------------------------------------------------

def add_failure(conn: Connection, keys: list[str], now: float) -> None:
    conn.execute(login_failures.insert(), [{"key": k, "at": now} for k in keys])


def reserve_attempt(conn: Connection, keys: list[str], now: float, since: float, limit: int,
                    account: str | None = None, free: int = 0) -> list[int] | float | None:
    """Count an attempt for every key *before* its password is checked, atomically: ``None`` when a key has had
    ``limit`` attempts since ``since`` (nothing written), else the ids of the rows written — the caller deletes
    them when the password was right. Concurrent attempts are serialised per key (PostgreSQL: a transaction
    advisory lock on each key; SQLite: its one writer), so that 29 guesses at once are 5 checks, not 29."""
    if conn.dialect.name == "postgresql":
        for k in sorted({*keys, *([account] if account else [])}):
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": k})
    if any(failures(conn, k, since) >= limit for k in keys):
        return None
    if account:  # the account from anywhere: past ``free`` failures, the next try waits 1, 2, 4 … 30 s after the last
        n = failures(conn, account, since)
        if n >= free:
            last = conn.execute(sa.select(sa.func.max(login_failures.c.at)).where(login_failures.c.key == account)
                                ).scalar() or 0.0
            wait = last + min(30.0, 2.0 ** (n - free)) - now
            if wait > 0:
                return wait  # refused, and how long to wait: no thread is put to sleep
    return [conn.execute(login_failures.insert().values(key=k, at=now)).inserted_primary_key[0]
            for k in (*keys, *([account] if account else []))]


def clear_account(conn: Connection, name: str) -> int:
    """An operator's unlock: every failure counted against the account, from any address."""
    return conn.execute(login_failures.delete().where(sa.or_(
        login_failures.c.key == f"acct:{name}",
        sa.and_(login_failures.c.key.startswith("pair:"), login_failures.c.key.endswith(f"/{name}", autoescape=True)))
    )).rowcount


def forget_attempt(conn: Connection, ids: list[int]) -> None:
    conn.execute(login_failures.delete().where(login_failures.c.id.in_(ids)))


def failures(conn: Connection, key: str, since: float) -> int:
    return conn.execute(sa.select(sa.func.count()).where(login_failures.c.key == key,
                                                         login_failures.c.at > since)).scalar()


def clear_failures(conn: Connection, keys: list[str]) -> None:
    conn.execute(login_failures.delete().where(login_failures.c.key.in_(keys)))


def prune_failures(conn: Connection, before: float) -> None:
    """Failures older than the window no longer count: the table stays small."""
    conn.execute(login_failures.delete().where(login_failures.c.at <= before))


# -- the audit log -------------------------------------------------------------------------------------------

def log(conn: Connection, at: datetime, actor: str, role: str, action: str, target: str, department: str | None,
        before: dict | None, after: dict | None) -> None:
    conn.execute(audit.insert().values(at=at, actor=actor, role=role, action=action, target=target,
                                       department=department,
                                       before=json.dumps(before or {}, ensure_ascii=False, default=str),
                                       after=json.dumps(after or {}, ensure_ascii=False, default=str)))


def audit_log(conn: Connection, limit: int = 500) -> list:
    return conn.execute(sa.select(audit).order_by(audit.c.id.desc()).limit(limit)).all()
