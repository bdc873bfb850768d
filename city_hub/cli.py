"""``hall-hub``: run the city hub, register halls, manage accounts."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import sys
import time

from aiohttp import web

from .auth import ROLES, add_user, new_token, token_hash
from .store import Hall, SchemaTooNew, open_store

DB_HELP = "SQLite file or postgresql://USER@HOST:PORT/DB (default ./hallq-hub.db)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hall-hub",
        description="hallq city hub: the halls of a city push their events and live state to "
        "it; it supervises them live, computes their figures and publishes the catalog.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the hub")
    serve.add_argument("--db", default="./hallq-hub.db", help=DB_HELP)
    serve.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8090, help="TCP port (default 8090)")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.add_argument(
        "--trusted-proxy",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="the reverse proxy in front of the hub (address or network; repeatable): logins "
        "are limited per client, read from its X-Forwarded-For",
    )

    hall = sub.add_parser("hall", help="register halls")
    hsub = hall.add_subparsers(dest="hall_command", required=True, metavar="ACTION")
    hadd = hsub.add_parser(
        "add",
        help="register a hall (or give it a new token) and print its push token",
        description="Prints the push token once; only its hash is stored. Takes effect at "
        "once. Put the token in the hall's [network] table (token or token_file).",
    )
    hadd.add_argument("id", help="the hall's id, as [hall] id in its configuration")
    hadd.add_argument("--name", required=True)
    hadd.add_argument("--level", required=True, choices=["city", "town", "village"])
    hadd.add_argument("--parent", help="the hall above it (a village's town center)")
    hadd.add_argument("--lat", type=float, help="latitude, degrees")
    hadd.add_argument("--lon", type=float, help="longitude, degrees")
    hadd.add_argument("--db", default="./hallq-hub.db", help=DB_HELP)

    user = sub.add_parser("user", help="manage accounts")
    usub = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    uadd = usub.add_parser("add", help="add or update an account (password from stdin)")
    uadd.add_argument("name")
    uadd.add_argument("--role", required=True, choices=ROLES)
    uadd.add_argument("--scope", help="for a manager: the hall they see, with those under it")
    uadd.add_argument("--db", default="./hallq-hub.db", help=DB_HELP)

    demo = sub.add_parser(
        "demo",
        help="run a hub with a simulated city network (city, 18 towns, 225 villages)",
        description="Every hall is a real hall server with simulated visitors and clerks, "
        "pushing to this hub over HTTP; prints the accounts (password 'demo') and addresses. "
        "The halls' own databases go beside the hub's, in DB.halls/.",
    )
    demo.add_argument("--db", default="./hallq-hub-demo.db", help="SQLite file of the hub")
    demo.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    demo.add_argument("--port", type=int, default=8090, help="TCP port (default 8090)")
    demo.add_argument("--speed", type=float, default=8.0, help="time compression (default 8)")
    demo.add_argument("--towns", type=int, default=18, help="town centers (default 18)")
    demo.add_argument("--villages", type=int, default=225, help="village points (default 225)")
    demo.add_argument("--idle", action="store_true", help="no simulated visitors (for tests)")
    return parser


async def _hall_add(args: argparse.Namespace) -> str:
    if (args.lat is None) != (args.lon is None):
        raise ValueError("give both --lat and --lon, or neither")
    if args.lat is not None and not (-90 <= args.lat <= 90 and -180 <= args.lon <= 180):
        raise ValueError("--lat/--lon out of range")
    store = await open_store(args.db)
    try:
        token = new_token()
        hall = Hall(args.id, args.name, args.level, args.parent, args.lat, args.lon)
        await store.add_hall(hall, token_hash(token), time.time())
        return token
    finally:
        await store.close()


async def _user_add(args: argparse.Namespace, password: str) -> None:
    store = await open_store(args.db)
    try:
        await add_user(store, args.name, password, args.role, args.scope)
    finally:
        await store.close()


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            from .app import make_app

            logging.basicConfig(
                level=args.log_level.upper(),
                format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            )
            asyncio.run(_check(args.db))
            web.run_app(
                make_app(args.db, trusted_proxies=args.trusted_proxy),
                host=args.host,
                port=args.port,
                print=lambda s: print(s, flush=True),
                shutdown_timeout=5,
            )
        elif args.command == "demo":
            from .demo import run

            logging.basicConfig(level="WARNING", format="%(levelname)s %(name)s: %(message)s")
            with contextlib.suppress(KeyboardInterrupt):
                asyncio.run(
                    run(
                        args.host,
                        args.port,
                        args.db,
                        args.speed,
                        args.towns,
                        args.villages,
                        args.idle,
                    )
                )
        elif args.command == "hall":
            token = asyncio.run(_hall_add(args))
            print(token)
            print(
                f"hall {args.id} registered; in its configuration: [network] hub = "
                '"http://THIS-HUB:PORT" and token_file = (a file holding the line above)',
                file=sys.stderr,
            )
        elif args.command == "user":
            password = (
                sys.stdin.readline().rstrip("\n")
                if not sys.stdin.isatty()
                else getpass.getpass("password: ")
            )
            asyncio.run(_user_add(args, password))
            print(f"user {args.name} ({args.role}) saved")
    except (ValueError, SchemaTooNew, OSError) as e:
        sys.exit(f"hall-hub: {e}")


async def _check(db: str) -> None:
    """Open (create, migrate) the database before binding the port: refuse early."""
    await (await open_store(db)).close()


if __name__ == "__main__":
    main()
