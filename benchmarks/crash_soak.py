"""Crash soak: kill -9 a real hall server at random instants under mixed traffic, many times.

Not part of the CI suite (1,000 trials take most of an hour); run it after changes to the
store, the hall's writer, appointments, ratings or print jobs:

    python benchmarks/crash_soak.py              # 1,000 trials
    python benchmarks/crash_soak.py --trials 50  # a quick look

Each trial starts ``hall-server serve`` on the same SQLite file, drives a paired kiosk taking
tickets (each one a print job on the kiosk's simulated printer), five clerks calling and
finishing, phones booking appointments and holders rating finished tickets, all at once, and
SIGKILLs the server at a random instant among them. Then, on the file left behind:

- every write that was acknowledged (201/200) is there: tickets, finishes, bookings, ratings;
- no ticket number was given twice (in the day, across all restarts);
- nothing is counted twice: one rating per ticket, one print job per ticket;
- every kiosk ticket on file has its print job and every job its ticket (one commit);

and the next trial restarts on that file. The table at the end gives the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from common import ServerProcess  # first: puts the project on sys.path

from hall_server.config import DEMO_CONFIG, load_config
from tests.support import add_demo_accounts, paired

SERVICES = ["social-insurance", "medical-insurance", "household-registration", "civil-affairs"]
CLERKS = {"1": "staff1", "2": "staff2", "3": "staff3", "4": "staff4", "5": "staff5"}
SOAK_SECURITY = """
[security]
trusted_proxies = ["127.0.0.1"]

[security.limits]
book = "100000/minute"
book_contact = "100000/minute"
rate = "100000/minute"
kiosk_ticket = "100000/minute"
write = "100000/minute"
"""


@dataclass
class Acked:
    """What the clients were told succeeded, over all trials."""

    tickets: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> ticket
    finished: set[str] = field(default_factory=set)
    bookings: set[str] = field(default_factory=set)
    ratings: set[str] = field(default_factory=set)  # ticket ids
    rateable: list[str] = field(default_factory=list)  # tokens of finished tickets


@dataclass
class Tally:
    trials: int = 0
    lost: int = 0
    repeated_numbers: int = 0
    double_counted: int = 0
    trial_s: list[float] = field(default_factory=list)


async def kiosk(http: aiohttp.ClientSession, token: str, acked: Acked, rng: random.Random) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    while True:
        body = {"service": rng.choice(SERVICES)}
        async with http.post("/api/v1/tickets", json=body, headers=auth) as r:
            if r.status == 201:
                t = (await r.json())["ticket"]
                acked.tickets[t["id"]] = t


async def clerk(
    http: aiohttp.ClientSession, window: str, token: str, acked: Acked, rng: random.Random
) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    while True:
        async with http.post(f"/api/v1/windows/{window}/call", headers=auth) as r:
            if r.status != 200:
                await asyncio.sleep(0.01)
                continue
            t = (await r.json())["ticket"]
        async with http.post(f"/api/v1/windows/{window}/finish", headers=auth) as r:
            if r.status == 200:
                acked.finished.add(t["id"])
                acked.rateable.append(t["token"])
        await asyncio.sleep(rng.uniform(0, 0.01))


async def phones(http: aiohttp.ClientSession, days: list[str], acked: Acked, rng: random.Random):
    while True:
        body = {
            "service": rng.choice(SERVICES),
            "date": rng.choice(days),
            "slot": rng.choice(["09:00", "09:30", "10:00", "14:00", "15:00"]),
            "name": "测试",
            "phone": f"13{rng.randrange(10**9):09d}",
        }
        headers = {"X-Forwarded-For": f"198.51.100.{rng.randrange(1, 250)}"}
        async with http.post("/api/v1/appointments", json=body, headers=headers) as r:
            if r.status == 201:
                acked.bookings.add((await r.json())["code"])


async def holders(
    http: aiohttp.ClientSession, acked: Acked, rng: random.Random, killed: asyncio.Event
) -> None:
    while not killed.is_set():
        if not acked.rateable:
            await asyncio.sleep(0.01)
            continue
        token = acked.rateable.pop(rng.randrange(len(acked.rateable)))
        body = {"token": token, "level": rng.choice([5, 4, 3, 1]), "options": ["slow"]}
        async with http.post("/api/v1/ratings", json=body) as r:
            if r.status == 201:
                acked.ratings.add((await r.json())["ticket"])


async def traffic(server: ServerProcess, tokens: dict[str, str], acked: Acked, rng) -> None:
    """All clients at once, until the server is killed at a random instant among them."""
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(server.url, timeout=timeout) as http:
        async with http.get("/api/v1/appointments/days") as r:
            days = [d["date"] for d in await r.json()]
        tasks = [asyncio.create_task(kiosk(http, tokens["k1"], acked, rng))]
        tasks += [
            asyncio.create_task(clerk(http, w, tokens[w], acked, random.Random(rng.random())))
            for w in CLERKS
        ]
        tasks.append(asyncio.create_task(phones(http, days, acked, random.Random(rng.random()))))
        killed = asyncio.Event()
        tasks.append(asyncio.create_task(holders(http, acked, random.Random(rng.random()), killed)))
        await asyncio.sleep(rng.uniform(0.05, 0.8))
        assert server.proc is not None
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait()
        killed.set()
        done, idle = await asyncio.wait(tasks, timeout=10)
        for task in idle:  # a client with nothing to send (no ticket to rate yet)
            task.cancel()
        await asyncio.gather(*idle, return_exceptions=True)
        for task in done:  # the others stopped on their cut connection, and only so
            exc = task.exception()
            if exc is None and task.get_coro().__name__ == "holders":
                continue
            if not isinstance(exc, aiohttp.ClientError | TimeoutError | OSError):
                raise exc or AssertionError("a client stopped by itself")


def check(db: Path, acked: Acked, tally: Tally) -> None:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = {r[0]: r[1] for r in conn.execute("SELECT id, status FROM tickets")}
        tally.lost += sum(1 for t in acked.tickets if t not in rows)
        tally.lost += sum(1 for t in acked.finished if rows.get(t) != "done")
        codes = {r[0] for r in conn.execute("SELECT code FROM appointments")}
        tally.lost += len(acked.bookings - codes)
        rated = [r[0] for r in conn.execute("SELECT ticket_id FROM ratings")]
        tally.lost += len(acked.ratings - set(rated))
        tally.double_counted += len(rated) - len(set(rated))
        (jobs_twice,) = conn.execute(
            "SELECT count(*) FROM (SELECT ticket_id FROM print_jobs GROUP BY ticket_id "
            "HAVING count(*) > 1)"
        ).fetchone()
        tally.double_counted += jobs_twice
        (unprinted,) = conn.execute(  # a kiosk ticket and its print job are one commit
            "SELECT count(*) FROM tickets WHERE kiosk IS NOT NULL "
            "AND id NOT IN (SELECT ticket_id FROM print_jobs)"
        ).fetchone()
        (orphans,) = conn.execute(
            "SELECT count(*) FROM print_jobs WHERE ticket_id NOT IN (SELECT id FROM tickets)"
        ).fetchone()
        tally.lost += unprinted + orphans
        (repeats,) = conn.execute(
            "SELECT count(*) FROM (SELECT day, number FROM tickets GROUP BY day, number "
            "HAVING count(*) > 1)"
        ).fetchone()
        tally.repeated_numbers = repeats
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=1000, help="kills (default 1000)")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    rng = random.Random(seed)
    work = Path(tempfile.mkdtemp(prefix="hallq-soak-"))
    config = work / "hall.toml"
    config.write_text(DEMO_CONFIG.read_text(encoding="utf-8") + SOAK_SECURITY, encoding="utf-8")
    db = work / "hall.db"
    add_demo_accounts(db, load_config(config))
    acked, tally = Acked(), Tally()
    server = ServerProcess(db, config)
    server.start()
    tokens = {w: server.login(user) for w, user in CLERKS.items()}  # sessions survive kills
    tokens["k1"] = paired(db, "k1")
    started = time.monotonic()
    for trial in range(args.trials):
        t0 = time.monotonic()
        if trial:
            server.start(timeout=120)  # a busy machine restarts slowly; that is not a failure
        asyncio.run(traffic(server, tokens, acked, rng))
        check(db, acked, tally)
        tally.trials += 1
        tally.trial_s.append(time.monotonic() - t0)
        if (trial + 1) % 25 == 0:
            print(
                f"  {trial + 1} trials: acknowledged {len(acked.tickets)} tickets, "
                f"{len(acked.finished)} finishes, {len(acked.bookings)} bookings, "
                f"{len(acked.ratings)} ratings; lost {tally.lost}, numbers twice "
                f"{tally.repeated_numbers}, counted twice {tally.double_counted}",
                flush=True,
            )
    server.start()
    server.stop()
    check(db, acked, tally)
    elapsed = time.monotonic() - started
    print(f"\ncrash soak, seed {seed}, database {db}")
    print(f"{'trials (kill -9)':32} {tally.trials}")
    print(f"{'acknowledged tickets':32} {len(acked.tickets)}")
    print(f"{'acknowledged finishes':32} {len(acked.finished)}")
    print(f"{'acknowledged bookings':32} {len(acked.bookings)}")
    print(f"{'acknowledged ratings':32} {len(acked.ratings)}")
    print(f"{'lost after a kill':32} {tally.lost}")
    print(f"{'ticket numbers given twice':32} {tally.repeated_numbers}")
    print(f"{'counted twice (ratings, prints)':32} {tally.double_counted}")
    print(f"{'time':32} {elapsed:.0f} s ({elapsed / max(1, tally.trials):.2f} s a trial)")
    if tally.lost or tally.repeated_numbers or tally.double_counted:
        sys.exit(1)


if __name__ == "__main__":
    main()
