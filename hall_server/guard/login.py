"""The login rule, one for the hall's staff and the city hub's supervisors.

Guessing is slowed per client, never by locking an account: a lockout by user name lets anyone
who knows a name (a clerk's, the city's supervisor's) lock its owner out from anywhere. Wrong
passwords are counted per client (``login``) and per client and name (``login_user``) on the
moving windows of ``limiter.py``; a try being checked holds its place in both budgets, so
parallel guesses cannot slip past them, and a right password costs nothing. The check itself
(scrypt) runs in the bounded hashing pool of ``passwords.py``, shed with 503 when it is full.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from hall_server.guard.edge import TooMany
from hall_server.guard.limiter import Exhausted, Limiter
from hall_server.guard.passwords import Busy, HashPool
from hall_server.http.errors import ApiError

T = TypeVar("T")


async def checked_login(
    limiter: Limiter,
    hashing: HashPool,
    client: str,
    username: str,
    check: Callable[[], T | None],
) -> T | None:
    """``check()`` (slow: it runs in ``hashing``) under the login limits of ``client``: its
    answer, None for a wrong name or password. Raises 429 (``too_many_attempts``, with the
    seconds to wait) when the client has no tries left, 503 when every hashing slot is taken."""
    try:
        with (
            limiter.attempt("login", client) as failed,
            limiter.attempt("login_user", client, username.lower()) as failed_user,
        ):
            user = await hashed(hashing, check)
            if user is None:
                failed()
                failed_user()
            return user
    except Exhausted as e:
        raise TooMany(
            e.retry_after, "wrong passwords from this client", "too_many_attempts"
        ) from None


async def hashed(hashing: HashPool, fn: Callable[..., T], *args: object) -> T:
    """``fn(*args)`` in the hashing pool; 503 at once when it is full."""
    try:
        return await hashing.run(fn, *args)
    except Busy:
        raise ApiError(
            503, "busy", "too many logins at once; try again", headers={"Retry-After": "1"}
        ) from None
