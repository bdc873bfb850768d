"""Staff log in and out: ``/api/v1/auth/*`` (a bearer token, and the same as a cookie for
pages)."""

from __future__ import annotations

import json

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from hall_server.core.access import Role
from hall_server.guard.edge import LIMITER, client_key
from hall_server.guard.login import checked_login, hashed
from hall_server.guard.passwords import PASSWORDS, password_problem
from hall_server.http.common import ACCOUNTS, COOKIE, HALL, ApiError, body, require, token_of
from hall_server.store.accounts import SESSION_TTL_S

routes = web.RouteTableDef()


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class LoginRequest(_Body):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    window: str | None = Field(default=None, max_length=16)


@routes.post("/api/v1/auth/login")
async def login(request: web.Request) -> web.Response:
    req = await body(request, LoginRequest)
    accounts = request.app[ACCOUNTS]
    user = await check_password(request, req.username, req.password)
    if user is None:
        raise ApiError(401, "bad_credentials", "wrong user name or password")
    windows = json.loads(user["windows"] or "[]")
    window = req.window or (windows[0] if windows else None)
    hall = request.app[HALL]
    if window is not None:
        if window not in hall.windows_cfg:
            raise ApiError(
                404, "unknown_window", f"no window {window!r}", params={"window": window}
            )
        if user["role"] == Role.STAFF and windows and window not in windows:
            raise ApiError(403, "forbidden", f"{req.username} may not work at window {window}")
    token = accounts.open_session(user["username"], window)
    hall.set_staffed(accounts.staffed_windows(), accounts.clerks())
    resp = web.json_response(
        {
            "token": token,
            "role": user["role"],
            "username": user["username"],
            "window": window,
            "windows": windows,
        }
    )
    _session_cookie(request, resp, token)
    return resp


def _session_cookie(request: web.Request, resp: web.StreamResponse, token: str) -> None:
    resp.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        max_age=SESSION_TTL_S,
        secure=request.secure,
    )


async def check_password(request: web.Request, username: str, password: str) -> dict | None:
    """The user row if the password is right, under the login rule (``guard/login.py``)."""
    accounts = request.app[ACCOUNTS]
    return await checked_login(
        request.app[LIMITER],
        request.app[PASSWORDS],
        client_key(request.remote),
        username,
        lambda: accounts.check(username, password),
    )


class PasswordChange(_Body):
    password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


@routes.post("/api/v1/auth/password")
async def change_password(request: web.Request) -> web.Response:
    """A user sets a new password (the current one proves it is them): every session of the
    account ends, on every device, and this client gets a fresh one."""
    who = require(request, Role.STAFF)
    req = await body(request, PasswordChange)
    if await check_password(request, who.username, req.password) is None:
        raise ApiError(403, "bad_credentials", "the current password is wrong")
    rules = request.app[HALL].config.security
    problem = password_problem(req.new_password, who.username, rules.password_min_length)
    if problem:
        raise ApiError(422, "weak_password", problem)
    accounts = request.app[ACCOUNTS]
    await hashed(request.app[PASSWORDS], accounts.set_password, who.username, req.new_password)
    token = accounts.open_session(who.username, who.window)
    resp = web.json_response({"token": token, "username": who.username})
    _session_cookie(request, resp, token)
    return resp


@routes.post("/api/v1/auth/logout")
async def logout(request: web.Request) -> web.Response:
    token = token_of(request)
    if token:
        accounts = request.app[ACCOUNTS]
        accounts.close_session(token)
        request.app[HALL].set_staffed(accounts.staffed_windows(), accounts.clerks())
    resp = web.json_response({"ok": True})
    resp.del_cookie(COOKIE)
    return resp


@routes.get("/api/v1/staff")
async def colleagues(request: web.Request) -> web.Response:
    """The window clerks by display name and 工号, with the window each is logged in at now:
    whom a ticket can be transferred to (staff only: this is the hall's staff list)."""
    require(request, Role.STAFF)
    return web.json_response(request.app[ACCOUNTS].colleagues())


@routes.get("/api/v1/auth/me")
async def me(request: web.Request) -> web.Response:
    who = require(request, Role.STAFF)
    return web.json_response(
        {"username": who.username, "role": who.role, "window": who.window, "windows": who.windows}
    )
