"""Password checks that cannot starve the server, and the rule a new password must meet.

Checking a password costs ~50 ms of scrypt on purpose. Run on the loop's shared thread pool,
300 bogus logins queued ahead of every other blocking call in the hall (a real login took
19 s). So hashing has its own small pool with a bounded queue: when it is full the login is
answered 503 at once (shed, not queued), and nothing else in the server waits behind it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import TypeVar

from aiohttp import web

T = TypeVar("T")


class Busy(Exception):
    """Every hashing slot is taken; try again in a moment."""


class HashPool:
    """``workers`` threads for password hashing, at most ``queue`` more checks waiting."""

    def __init__(self, workers: int = 2, queue: int = 8) -> None:
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="password")
        self._slots = workers + queue
        self._used = 0  # only touched on the event loop: no lock needed

    @property
    def in_use(self) -> int:
        return self._used

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        if self._used >= self._slots:
            raise Busy
        self._used += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        finally:
            self._used -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


PASSWORDS = web.AppKey("passwords", HashPool)


@cache
def common_passwords() -> frozenset[str]:
    text = (Path(__file__).with_name("common_passwords.txt")).read_text(encoding="utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def password_problem(password: str, username: str = "", min_length: int = 10) -> str | None:
    """Why this new password is refused (an English sentence), or None when it will do."""
    if len(password) < min_length:
        return f"a password needs at least {min_length} characters"
    if len(password) > 256:
        return "a password has at most 256 characters"
    lowered = password.lower()
    core = re.sub(r"[\d!@#$%^&*.]+$", "", lowered)  # "password2024!" is still "password"
    common = common_passwords()
    if lowered in common or core in common or len(set(lowered)) <= 2:
        return "this password is one of the first that attackers try; choose another"
    if username and username.lower() in lowered:
        return "a password must not contain the user name"
    return None
