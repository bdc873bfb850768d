"""``hall-server``: run a hall, run the demo hall, manage accounts, devices and webhooks."""

from __future__ import annotations

import argparse
import getpass
import logging
import socket
import ssl
import sys
import time
from pathlib import Path

from aiohttp import web

from hall_server.config import DEMO_CONFIG, ConfigError, HallConfig, load_config
from hall_server.core.access import Role
from hall_server.core.integration import TYPES, parse_types
from hall_server.guard.keys import IdentityKeyError
from hall_server.store.accounts import Accounts
from hall_server.store.db import SchemaTooNew, Store


def _serve_args(p: argparse.ArgumentParser, db_default: str) -> None:
    p.add_argument(
        "--db",
        default=db_default,
        help=f"SQLite file (default {db_default}); "
        "created with its schema if missing, migrated forward if older",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; "
        "0.0.0.0 to serve kiosks and boards on the hall's network)",
    )
    p.add_argument("--port", type=int, default=8080, help="TCP port (default 8080)")
    p.add_argument(
        "--tls-cert",
        help="serve HTTPS with this certificate chain (PEM); kiosk agents then verify it. "
        "Without it, put the hall behind a TLS reverse proxy (README, Security)",
    )
    p.add_argument("--tls-key", help="the certificate's private key (PEM)")
    p.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="logging detail (default info)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hall-server",
        description="hallq hall server: queue engine, REST API, boards, kiosks and devices.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser(
        "serve",
        help="run a hall from its configuration file",
        description="Run a hall. Opening hours in the config apply.",
    )
    serve.add_argument("--config", required=True, help="hall configuration (TOML), see README")
    _serve_args(serve, "./hall.db")

    demo = sub.add_parser(
        "demo",
        help="run a ready-made demo hall (open around the clock)",
        description="Run the demo town hall: 10 services, 11 windows, 2 "
        "kiosks with simulated printer and card reader. A fresh database "
        "gets the accounts admin, manager and staff1..staff11 (password "
        "'demo').",
    )
    _serve_args(demo, "./hallq-demo.db")
    demo.add_argument(
        "--simulate",
        action="store_true",
        help="simulate visitors arriving and windows calling them",
    )

    replay = sub.add_parser(
        "replay",
        help="run a day of arrivals through the queue engine on a virtual clock",
        description="Replay a day (planning, wait-estimate evaluation): every open window calls "
        "the next visitor as soon as it is free. Writes one row per ticket and prints the "
        "day's p50/p90 wait and service level.",
    )
    replay.add_argument("--config", required=True, help="hall configuration (TOML)")
    replay.add_argument(
        "--arrivals", required=True, help="CSV: t_s,service,service_s,no_show[,priority]"
    )
    replay.add_argument("--out", required=True, help="result CSV, one row per ticket")
    replay.add_argument("--windows", help="CSV: t_s,window,action (open or close)")

    user = sub.add_parser("user", help="manage accounts")
    usub = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = usub.add_parser("add", help="add or update an account; the password is read from stdin")
    add.add_argument("name", help="user name")
    add.add_argument(
        "--role",
        required=True,
        choices=[r.value for r in Role],
        help="staff act on their window; managers see reports; admins do all",
    )
    add.add_argument(
        "--window",
        action="append",
        default=[],
        help="bind a staff account to a window (repeat for several)",
    )
    add.add_argument(
        "--display-name",
        default="",
        help="the name the window screen and reports show (default: the user name, which "
        "the window screen shows as the staff number, 工号)",
    )
    add.add_argument("--db", default="./hall.db", help="SQLite file (default ./hall.db)")

    device = sub.add_parser("device", help="manage kiosk device agents (hall-devices)")
    dsub = device.add_subparsers(dest="device_command", required=True, metavar="ACTION")
    dadd = dsub.add_parser(
        "add",
        help="create (or replace) a kiosk's or pad's device token and a pairing address",
        description="Print a new device token (for 'hall-devices --kiosk KIOSK --token TOKEN' "
        "and API clients: Authorization: Bearer TOKEN) and a one-time pairing address for the "
        "kiosk's (or, with --pad, the window's evaluator pad's) browser: single use, valid 10 "
        "minutes, effective at once. Only hashes are stored; an earlier token stops working.",
    )
    dremove = dsub.add_parser(
        "remove", help="revoke a kiosk's or pad's token and unpair its browsers"
    )
    for p in (dadd, dremove):
        p.add_argument("kiosk", help="kiosk id (or window id with --pad), as in the config")
        p.add_argument("--pad", action="store_true", help="the window's evaluator pad")
        p.add_argument("--db", default="./hall.db", help="SQLite file (default ./hall.db)")
        p.add_argument("--config", help="hall configuration, to check that the device exists")
    dadd.add_argument(
        "--url",
        help="the hall's address for the pairing link (default: the config's public_url, "
        "else http://127.0.0.1:8080)",
    )

    hook = sub.add_parser(
        "webhook",
        help="manage webhook receivers (signed HTTP POSTs of the hall's events)",
        description="Receivers get the hall's events as Standard Webhooks: in order, at least "
        "once, retried for days. A running server picks changes up within seconds.",
    )
    hsub = hook.add_subparsers(dest="webhook_command", required=True, metavar="ACTION")
    hadd = hsub.add_parser(
        "add",
        help="register a receiver and print its secret (shown this once)",
        description="Event types: " + ", ".join(TYPES) + " (or '*' for all).",
    )
    hadd.add_argument("url", help="the receiver's http:// or https:// address")
    hadd.add_argument(
        "--events", required=True, help="comma-separated event types, e.g. ticket.called"
    )
    hadd.add_argument("--description", help="a note for managers (who runs the receiver)")
    hlist = hsub.add_parser("list", help="list receivers with their state")
    hremove = hsub.add_parser("remove", help="remove a receiver and its delivery log")
    henable = hsub.add_parser("enable", help="try a receiver that was given up on again now")
    hreplay = hsub.add_parser(
        "replay",
        help="send a range of messages again",
        description="By outbox sequence number (--from/--to, as in the delivery log) or by "
        "time (--since/--until, ISO 8601 with offset).",
    )
    for p in (hremove, henable, hreplay):
        p.add_argument("id", type=int, help="receiver id (see 'webhook list')")
    hreplay.add_argument("--from", dest="from_seq", type=int, help="first sequence number")
    hreplay.add_argument("--to", dest="to_seq", type=int, help="last sequence number")
    hreplay.add_argument("--since", help="first time, e.g. 2026-11-29T08:00:00+08:00")
    hreplay.add_argument("--until", help="last time")
    for p in (hadd, hlist, hremove, henable, hreplay):
        p.add_argument("--db", default="./hall.db", help="SQLite file (default ./hall.db)")
    return parser


def _webhook(args: argparse.Namespace) -> None:
    from datetime import datetime

    from hall_server.http.webhooks import check_url, shown_url
    from hall_server.store.outbox import Outbox

    store = _open_store(args.db)
    outbox = Outbox(store)
    try:
        if args.webhook_command == "add":
            try:
                url, events = check_url(args.url), parse_types(args.events)
            except ValueError as e:
                sys.exit(f"hall-server: {e}")
            rid, secret = outbox.add(url, events, args.description, time.time())
            print(secret)
            print(
                f"webhook {rid} -> {shown_url(url)} for {', '.join(events)} saved in "
                f"{Path(args.db)}; the secret above (for the receiver) is not shown again",
                file=sys.stderr,
            )
        elif args.webhook_command == "list":
            for r in outbox.receivers():
                state = "failing" if r["state"] == "active" and r["failures"] else r["state"]
                print(
                    f"{r['id']}\t{state}\t{shown_url(r['url'])}\t{','.join(r['events'])}\t"
                    f"delivered {r['delivered']}, waiting {outbox.backlog(r)}"
                    + (f"\tlast error: {r['last_error']}" if r["failures"] else "")
                )
        elif args.webhook_command == "remove":
            if not outbox.remove(args.id):
                sys.exit(f"hall-server: no webhook {args.id}")
            print(f"webhook {args.id} removed")
        elif args.webhook_command == "enable":
            if not outbox.enable(args.id):
                sys.exit(f"hall-server: no webhook {args.id}")
            print(f"webhook {args.id} enabled")
        else:
            if args.from_seq is None and args.since is None:
                sys.exit("hall-server: give --from or --since")
            try:
                since, until = (
                    datetime.fromisoformat(t).timestamp() if t else None
                    for t in (args.since, args.until)
                )
            except ValueError as e:
                sys.exit(f"hall-server: {e}")
            got = outbox.replay(args.id, args.from_seq, args.to_seq, since, until)
            if got is None:
                sys.exit(f"hall-server: no webhook {args.id}")
            print(f"webhook {args.id}: {got[2]} message(s) from {got[0]} to {got[1]} to send again")
    finally:
        outbox.close()
        store.close()


def _open_store(db: str) -> Store:
    try:
        return Store(db)
    except SchemaTooNew as e:
        sys.exit(f"hall-server: {db}: {e}")


def _run(
    config: HallConfig, args: argparse.Namespace, banner: str = "", simulate: bool = False
) -> None:
    from hall_server.app import make_app

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    _open_store(args.db).close()  # refuse a too-new schema before binding the port
    tls = _tls_context(args)
    base = _base_url(args.host, args.port, "https" if tls else "http")
    app = make_app(config, args.db, simulate=simulate, base_url=base)
    if banner:
        print(banner, flush=True)
    web.run_app(
        app,
        host=args.host,
        port=args.port,
        print=lambda s: print(s, flush=True),
        shutdown_timeout=5,
        ssl_context=tls,
        keepalive_timeout=15,  # an idle client holds no connection for long
    )


def _tls_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    if not args.tls_cert and not args.tls_key:
        return None
    if not (args.tls_cert and args.tls_key):
        sys.exit("hall-server: --tls-cert and --tls-key go together")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(args.tls_cert, args.tls_key)
    except (OSError, ssl.SSLError) as e:
        sys.exit(f"hall-server: cannot use {args.tls_cert} / {args.tls_key}: {e}")
    return context


def _base_url(host: str, port: int, scheme: str = "http") -> str:
    """Where phones and kiosk PCs reach this server (the QR on printed tickets, when the
    config has no public_url): for 0.0.0.0, this machine's address on its main network."""
    if host in ("0.0.0.0", "::"):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.connect(("192.0.2.1", 9))  # no packet is sent; this only picks the interface
                host = s.getsockname()[0]
            except OSError:
                host = "127.0.0.1"
    return f"{scheme}://{host}:{port}"


def _device(args: argparse.Namespace) -> None:
    from hall_server.guard.credentials import pad
    from hall_server.store.devices import add_pairing, add_token, remove_token, revoke

    config = load_config(args.config) if args.config else None
    if config is not None:
        what, known = (
            ("window", [w.id for w in config.window])
            if args.pad
            else (
                "kiosk",
                [k.id for k in config.kiosk],
            )
        )
        if args.kiosk not in known:
            sys.exit(f"hall-server: no {what} {args.kiosk!r} in {args.config} ({', '.join(known)})")
    device = pad(args.kiosk) if args.pad else args.kiosk
    label = f"window {args.kiosk}'s pad" if args.pad else f"kiosk {args.kiosk}"
    store = _open_store(args.db)
    try:
        if args.device_command == "add":
            token = add_token(store, device)
            code = add_pairing(store, device)
            base = args.url or (config and config.hall.public_url) or "http://127.0.0.1:8080"
            page = f"rate/{args.kiosk}" if args.pad else f"kiosk/{args.kiosk}"
            print(token)
            print(f"{base.rstrip('/')}/{page}?pair={code}")
            agent = (
                ""
                if args.pad
                else f"; on the kiosk PC: hall-devices --server https://THIS-PC:PORT --kiosk "
                f"{args.kiosk} --token TOKEN --printer ADDRESS --reader ADDRESS"
            )
            print(
                f"device token for {label} (line 1) saved as a hash in {Path(args.db)}; open the "
                f"pairing address (line 2) in its browser within 10 minutes, once{agent}",
                file=sys.stderr,
            )
        else:
            removed = remove_token(store, device)
            unpaired = revoke(store, device)
            if not removed and not unpaired:
                sys.exit(f"hall-server: {label} has no token and no paired browser")
            print(f"{label}: token revoked, {unpaired} browser(s) unpaired")
    finally:
        store.close()


def _demo_pairings(db: str, config: HallConfig, base: str) -> list[str]:
    """Pairing addresses for the demo's kiosks and pads, usable any number of times while
    this demo runs, so a newcomer still opens the demo in one step."""
    from hall_server.guard.credentials import pad
    from hall_server.store.devices import add_pairing, remove_reusable_pairings

    store = _open_store(db)
    try:
        remove_reusable_pairings(store)
        lines = []
        for k in config.kiosk:
            code = add_pairing(store, k.id, ttl_s=30 * 86400, single_use=False)
            lines.append(f"  {base}/kiosk/{k.id}?pair={code}")
        for w in config.window:
            code = add_pairing(store, pad(w.id), ttl_s=30 * 86400, single_use=False)
            lines.append(f"  {base}/rate/{w.id}?pair={code}")
        return lines
    finally:
        store.close()


def _end_demo_pairings(db: str) -> None:
    from hall_server.store.devices import remove_reusable_pairings

    store = _open_store(db)
    try:
        remove_reusable_pairings(store)
    finally:
        store.close()


DEMO_STAFF_NAMES = [
    *("王芳", "李强", "张敏", "刘洋", "陈静", "杨帆"),
    *("赵磊", "黄丽", "周杰", "吴婷", "徐明", "孙悦"),
]


def demo_staff_name(i: int) -> str:
    """The demo's clerks have names, as real ones do on window screens and in reports."""
    return DEMO_STAFF_NAMES[(i - 1) % len(DEMO_STAFF_NAMES)]


def _demo_accounts(db: str, config: HallConfig) -> list[str]:
    store = _open_store(db)
    try:
        accounts = Accounts(store)
        if accounts.exists("admin"):
            return []
        lines = []
        accounts.add("admin", "demo", Role.ADMIN)
        accounts.add("manager", "demo", Role.MANAGER)
        lines += ["  admin / demo   (admin)", "  manager / demo (manager)"]
        for i, w in enumerate(config.window, start=1):
            accounts.add(f"staff{i}", "demo", Role.STAFF, [w.id], demo_staff_name(i))
            lines.append(f"  staff{i} / demo  (window {w.id})")
        return lines
    finally:
        store.close()


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            _run(load_config(args.config), args)
        elif args.command == "demo":
            config = load_config(DEMO_CONFIG)
            created = _demo_accounts(args.db, config)
            scheme = "https" if args.tls_cert else "http"
            host = "127.0.0.1" if args.host == "0.0.0.0" else args.host
            base = f"{scheme}://{host}:{args.port}"
            kiosks = "\n".join(_demo_pairings(args.db, config, base))
            accounts = (
                "Accounts created (password 'demo'):\n" + "\n".join(created)
                if created
                else "Accounts: admin, manager, staff1.. (password 'demo')"
            )
            banner = (
                f"hallq demo hall '{config.hall.name}'\n{accounts}\n"
                f"Kiosks and evaluator pads (open once in the device's browser to pair it):\n"
                f"{kiosks}\nPages:\n"
                f"  {base}/board\n  {base}/staff\n  {base}/manager\n  {base}/book\n"
                f"API: {base}/api/v1/health"
            )
            try:
                _run(config, args, banner, simulate=args.simulate)
            finally:
                _end_demo_pairings(args.db)
        elif args.command == "replay":
            from hall_server.replay import ReplayError
            from hall_server.replay import main as replay_main

            try:
                replay_main(
                    load_config(args.config),
                    Path(args.arrivals),
                    Path(args.out),
                    Path(args.windows) if args.windows else None,
                )
            except ReplayError as e:
                sys.exit(f"hall-server: {e}")
        elif args.command == "device":
            _device(args)
        elif args.command == "webhook":
            _webhook(args)
        elif args.command == "user":
            password = (
                sys.stdin.readline().rstrip("\n")
                if not sys.stdin.isatty()
                else getpass.getpass("password: ")
            )
            store = _open_store(args.db)
            try:
                Accounts(store).add(
                    args.name, password, Role(args.role), args.window, args.display_name
                )
            except ValueError as e:
                sys.exit(f"hall-server: {e}")
            finally:
                store.close()
            print(f"user {args.name} ({args.role}) saved in {Path(args.db)}")
    except (ConfigError, IdentityKeyError) as e:
        sys.exit(f"hall-server: {e}")


if __name__ == "__main__":
    main()
