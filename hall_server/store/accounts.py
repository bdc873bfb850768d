"""Accounts, passwords and sessions.

Passwords are hashed with scrypt (salted, deliberately slow, in the standard library). A login
opens a session whose random token is the bearer token of the API and the cookie of the pages;
only a SHA-256 of it is stored, so a copy of the database opens no session.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import secrets
import time

from hall_server.core.access import Principal, Role
from hall_server.store.db import Store

SESSION_TTL_S = 12 * 3600
_N, _R, _P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    got = hashlib.scrypt(
        password.encode(),
        salt=base64.b64decode(salt),
        n=int(n),
        r=int(r),
        p=int(p),
        dklen=len(base64.b64decode(digest)),
    )
    return hmac.compare_digest(got, base64.b64decode(digest))


@functools.cache
def _dummy_hash() -> str:
    """A hash to check unknown user names against, made once: their answer then costs exactly
    one scrypt, like a known name's (it cost two, 140 vs 79 ms, which told names apart)."""
    return hash_password(secrets.token_urlsafe(16))


def password_matches(password: str, stored: str | None) -> bool:
    """Whether ``password`` is the one hashed in ``stored``; an unknown user (None) is checked
    against a dummy hash, so that both cost one scrypt. Slow on purpose: call it off the loop."""
    if stored is None:
        verify_password(password, _dummy_hash())
        return False
    return verify_password(password, stored)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    """Guessing is slowed per client before a password is checked (``guard/``), never by
    locking the account: a stranger could otherwise lock a clerk out of their own window."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db

    def add(
        self,
        username: str,
        password: str,
        role: Role,
        windows: list[str] | None = None,
        display_name: str = "",
    ) -> None:
        if not username or len(password) < 4:
            raise ValueError("a user needs a name and a password of at least 4 characters")
        with self.store.writing() as db:
            # a new password ends every session opened with the old one
            db.execute("DELETE FROM sessions WHERE username = ?", [username])
            db.table("users").upsert(
                {
                    "username": username,
                    "password_hash": hash_password(password),
                    "role": Role(role).value,
                    "windows": json.dumps(windows or []),
                    "display_name": display_name or username,
                    "created_at": time.time(),
                },
                pk="username",
            )

    def exists(self, username: str) -> bool:
        return self.db["users"].count_where("username = ?", [username]) > 0

    def check(self, username: str, password: str) -> dict | None:
        """The user row if the password is right. Slow on purpose: call it off the loop."""
        rows = list(self.db.query("SELECT * FROM users WHERE username = ?", [username]))
        user = rows[0] if rows else None
        stored = user["password_hash"] if user else None
        return user if password_matches(password, stored) else None  # same cost when unknown

    def set_password(self, username: str, password: str) -> None:
        """Replace the password and end every session of the user (on every device)."""
        digest = hash_password(password)
        with self.store.writing() as db:
            db.execute("DELETE FROM sessions WHERE username = ?", [username])
            db.execute("UPDATE users SET password_hash = ? WHERE username = ?", [digest, username])

    def open_session(self, username: str, window: str | None) -> str:
        """A new session; the ended ones of everybody go at the same time (every query already
        skips them, but a hall's year of logins would otherwise stay in the file)."""
        token = secrets.token_urlsafe(32)
        now = time.time()
        with self.store.writing() as db:
            db.execute("DELETE FROM sessions WHERE expires_at <= ?", [now])
            db.table("sessions").insert(
                {
                    "token_hash": _token_hash(token),
                    "username": username,
                    "window": window,
                    "created_at": now,
                    "expires_at": now + SESSION_TTL_S,
                }
            )
        return token

    def display_names(self) -> dict[str, str]:
        """Login name -> the name people know (reports list staff by it)."""
        rows = self.db.query("SELECT username, display_name FROM users")
        return {r["username"]: r["display_name"] or r["username"] for r in rows}

    def staffed_windows(self) -> set[str]:
        """Windows with a clerk logged in at them (a session that has not run out)."""
        rows = self.db.query(
            "SELECT DISTINCT window FROM sessions WHERE window IS NOT NULL AND expires_at > ?",
            [time.time()],
        )
        return {r["window"] for r in rows}

    def colleagues(self) -> list[dict[str, str | None]]:
        """Every window clerk (staff role) by display name and 工号, with the window they are
        logged in at now (their latest live session), for transfers to a colleague."""
        rows = self.db.query(
            "SELECT u.username, u.display_name, ("
            "  SELECT s.window FROM sessions s WHERE s.username = u.username"
            "  AND s.window IS NOT NULL AND s.expires_at > ? ORDER BY s.created_at DESC LIMIT 1"
            ") AS window FROM users u WHERE u.role = ? ORDER BY u.username",
            [time.time(), Role.STAFF.value],
        )
        return [
            {
                "username": r["username"],
                "name": r["display_name"] or r["username"],
                "staff_no": r["username"],
                "window": r["window"],
            }
            for r in rows
        ]

    def clerks(self) -> dict[str, str]:
        """Window -> the clerk working it now (the latest live staff session opened at it)."""
        rows = self.db.query(
            "SELECT s.window, s.username FROM sessions s JOIN users u ON u.username = s.username"
            " WHERE s.window IS NOT NULL AND s.expires_at > ? AND u.role = ?"
            " ORDER BY s.created_at",
            [time.time(), Role.STAFF.value],
        )
        return {r["window"]: r["username"] for r in rows}  # the latest session wins

    def close_session(self, token: str) -> None:
        with self.store.writing() as db:
            db.execute("DELETE FROM sessions WHERE token_hash = ?", [_token_hash(token)])

    def clerk_at(self, window: str) -> dict[str, str] | None:
        """Who works a window now (the latest live session opened at it), as the window screen
        shows them: display name and staff number (the login name is the 工号)."""
        rows = list(
            self.db.query(
                "SELECT u.username, u.display_name FROM sessions s "
                "JOIN users u ON u.username = s.username "
                "WHERE s.window = ? AND s.expires_at > ? AND u.role = ? "
                "ORDER BY s.created_at DESC LIMIT 1",
                [window, time.time(), Role.STAFF.value],
            )
        )
        if not rows:
            return None
        r = rows[0]
        return {
            "username": r["username"],
            "name": r["display_name"] or r["username"],
            "staff_no": r["username"],
        }

    def principal(self, token: str) -> Principal | None:
        rows = list(
            self.db.query(
                "SELECT u.username, u.role, u.windows, s.window, s.expires_at FROM sessions s "
                "JOIN users u ON u.username = s.username WHERE s.token_hash = ?",
                [_token_hash(token)],
            )
        )
        if not rows or rows[0]["expires_at"] < time.time():
            return None
        r = rows[0]
        return Principal(
            r["username"], Role(r["role"]), tuple(json.loads(r["windows"])), r["window"]
        )
