"""``hall-devices``: connect a kiosk PC's ticket printer and ID-card reader to the hall server.

    hall-devices --server http://HALL-PC:8080 --kiosk k1 --token T \\
        --printer serial:///dev/ttyUSB0?baudrate=9600 --reader serial:///dev/ttyUSB1

The token comes from ``hall-server device add k1`` on the hall server (or the environment
variable HALLQ_DEVICE_TOKEN, which keeps it out of the process list). The agent keeps both
devices open, reconnects to the server for as long as it runs, and stops on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import ssl
import sys

from devices.address import parse_address
from devices.agent import AgentRefused, DeviceLoop, agent_url, run_agent
from devices.escpos_ticket import CUTS, ENCODINGS

TOKEN_ENV = "HALLQ_DEVICE_TOKEN"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hall-devices",
        description="Connect this kiosk PC's ticket printer and ID-card reader to a hallq server.",
        epilog="Device addresses: serial:///dev/ttyUSB0?baudrate=115200, serial://COM3, "
        "tcp://192.168.1.50:9100, usb://04b8:0202, file:///path/out.bin (printer), sim: "
        "(built-in simulator).",
    )
    p.add_argument("--server", required=True, help="the hall server, http://HOST:PORT")
    p.add_argument("--kiosk", required=True, help="this kiosk's id in the hall configuration")
    p.add_argument(
        "--ca",
        help="CA certificate (PEM) that signed the hall server's TLS certificate, for a hall's "
        "own CA; https servers are always verified (system CAs by default)",
    )
    p.add_argument(
        "--token",
        default=os.environ.get(TOKEN_ENV),
        help=f"the kiosk's token from 'hall-server device add' (default: ${TOKEN_ENV})",
    )
    p.add_argument("--printer", help="ticket printer address (none: no printer)")
    p.add_argument("--reader", help="ID-card reader address (none: no reader)")
    p.add_argument(
        "--encoding",
        default="gb18030",
        choices=ENCODINGS,
        help="how the printer takes Chinese text (default gb18030)",
    )
    p.add_argument(
        "--chinese-mode",
        action="store_true",
        help="send FS & before text (printers that print Chinese only in Chinese mode)",
    )
    p.add_argument("--cut", default="partial", choices=CUTS, help="paper cut (default partial)")
    p.add_argument(
        "--printer-baudrate", type=int, default=9600, help="serial printers (default 9600)"
    )
    p.add_argument(
        "--reader-baudrate", type=int, default=115200, help="serial readers (default 115200)"
    )
    p.add_argument(
        "--status-every",
        type=float,
        default=5.0,
        help="seconds between printer status checks and reports (default 5)",
    )
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return p


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if not args.token:
        sys.exit(f"hall-devices: give --token or set {TOKEN_ENV} (see 'hall-server device add')")
    if not (args.printer or args.reader):
        sys.exit("hall-devices: nothing to connect: give --printer and/or --reader")
    try:
        agent_url(args.server, args.kiosk)
        for address in (args.printer, args.reader):
            if address:
                parse_address(address)
    except ValueError as e:
        sys.exit(f"hall-devices: {e}")
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        asyncio.run(_run(args))
    except AgentRefused as e:
        sys.exit(f"hall-devices: refused by {args.server}: {e}")


async def _run(args: argparse.Namespace) -> None:
    loop = DeviceLoop.open(
        args.kiosk,
        args.printer,
        args.reader,
        printer_settings={
            "encoding": args.encoding,
            "chinese_mode": args.chinese_mode,
            "cut": args.cut,
            "baudrate": args.printer_baudrate,
        },
        reader_settings={"baudrate": args.reader_baudrate},
        server_url=args.server,
        status_every=args.status_every,
    )
    tls = ssl.create_default_context(cafile=args.ca) if args.ca else None
    agent = asyncio.create_task(
        run_agent(args.server, args.kiosk, args.token, loop, ssl_context=tls)
    )
    for sig in (signal.SIGINT, signal.SIGTERM):
        # Windows, or not the main thread: Ctrl-C still interrupts.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            asyncio.get_running_loop().add_signal_handler(sig, agent.cancel)
    try:
        await agent
    except asyncio.CancelledError:
        logging.getLogger(__name__).info("stopping")
    finally:
        await asyncio.to_thread(loop.close)


if __name__ == "__main__":
    main()
