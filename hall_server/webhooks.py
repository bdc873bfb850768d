"""Webhook delivery: the outbox pumped, each receiver served in order, signed, retried.

Theory of operation. The hall's listeners wake the pump after every commit (ratings and alarms
are found by polling twice a second); the pump copies new facts into the outbox
(``outbox.py``). Each receiver has one loop: it takes the next messages after its cursor (a
replay range first) and POSTs them one by one, in order, each signed as the Standard Webhooks
specification says (``webhook-id``, ``webhook-timestamp``, ``webhook-signature: v1,BASE64``
of HMAC-SHA256 over ``id.timestamp.body``), signed by the spec authors' own library. A 2xx
moves the cursor; anything else (an error status, a refused connection, a timeout, a redirect)
stops the receiver until its next try, ``retry_base_s`` doubling with jitter up to
``retry_cap_s``; after ``give_up_after_h`` hours of failing it is disabled, keeping its place,
until a manager enables or replays it. Progress and the delivery log are written a few times a
second, so a crash sends a handful of messages again: at least once, receivers deduplicate by
``id``. Scheduling uses the wall clock, not the hall's (whose time may be simulated): receivers
check the timestamp against theirs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import aiohttp
from standardwebhooks.webhooks import Webhook

from hall_server import __version__
from hall_server.config import HallConfig
from hall_server.core import integration
from hall_server.core.engine import Event
from hall_server.core.integration import Message
from hall_server.core.ratings import REASONS
from hall_server.hall import Hall
from hall_server.i18n import translator
from hall_server.store.db import Store
from hall_server.store.outbox import Outbox

log = logging.getLogger(__name__)

POLL_S = 0.5
SYNC_S = 2.0
FLUSH_S = 0.25
PRUNE_S = 3600.0


class Webhooks:
    """The pump and one delivery loop per receiver, for one hall."""

    def __init__(self, store: Store, config: HallConfig) -> None:
        self.config = config
        self.rules = config.webhooks
        self.outbox = Outbox(store)
        self._pump_wake = asyncio.Event()
        self._loops: dict[int, _Receiver] = {}
        self._session: aiohttp.ClientSession | None = None
        #: reasons named in records as the pad shows them
        zh = translator("zh")
        self._reasons = {code: zh(f"rating.reason.{code}") for code in REASONS}
        self._sync_now = False

    # -- what the rest of the hall calls ----------------------------------------------------------

    def on_events(self, events: Sequence[Event], hall: Hall) -> None:
        """A hall listener: new facts are on disk."""
        self._pump_wake.set()

    def wake(self, receiver: int | None = None) -> None:
        """Something changed for a receiver (replay, enable) or for all of them."""
        for rid, loop in self._loops.items():
            if receiver is None or rid == receiver:
                loop.wake.set()

    def receivers_changed(self) -> None:
        """A receiver was added or removed here: look now rather than at the next poll."""
        self._sync_now = True
        self._pump_wake.set()

    # -- making messages ------------------------------------------------------------------------

    def iso(self, at: float | None) -> str | None:
        if at is None:
            return None
        return datetime.fromtimestamp(at, self.config.tz).isoformat(timespec="seconds")

    def convert(
        self, table: str, row: dict[str, Any], ticket: dict[str, Any] | None
    ) -> list[Message]:
        if table == "events":
            m = integration.from_event(row, ticket, self.iso)
            return [m] if m else []
        if table == "ratings":
            return integration.from_rating(row, ticket, self.config, self.iso, self._reasons)
        return [integration.from_alarm(row, self.iso)]

    def body(self, msg_id: str, message: Message) -> str:
        return integration.body(msg_id, message, self.config.hall.id, self.iso)

    # -- running ------------------------------------------------------------------------------

    async def run(self) -> None:
        self._session = aiohttp.ClientSession(
            headers={"User-Agent": f"hallq/{__version__} (webhooks)"},
            timeout=aiohttp.ClientTimeout(total=self.rules.timeout_s),
        )
        next_sync = next_prune = 0.0
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(POLL_S):
                        await self._pump_wake.wait()
                self._pump_wake.clear()
                try:
                    now = time.monotonic()
                    if now >= next_sync or self._sync_now:
                        self._sync_now = False
                        await self._sync()
                        next_sync = now + SYNC_S
                    if self._loops and await asyncio.to_thread(
                        self.outbox.pump, self.convert, self.body
                    ):
                        self.wake()
                    if now >= next_prune:
                        keep = time.time() - self.rules.keep_days * 86400
                        await asyncio.to_thread(self.outbox.prune, keep)
                        next_prune = now + PRUNE_S
                except Exception:
                    log.exception("webhook pump failed; trying again")
                    await asyncio.sleep(POLL_S)
        finally:
            for loop in self._loops.values():
                loop.task.cancel()
            await asyncio.gather(*(lp.task for lp in self._loops.values()), return_exceptions=True)
            await self._session.close()
            self.outbox.close()

    async def _sync(self) -> None:
        """Start a loop for each receiver (also those added by ``hall-server webhook add`` in
        another process), end the loops of removed ones."""
        ids = {r["id"] for r in await asyncio.to_thread(self.outbox.receivers)}
        for rid in ids - self._loops.keys():
            self._loops[rid] = _Receiver(self, rid)
            self._pump_wake.set()
        for rid in self._loops.keys() - ids:
            self._loops.pop(rid).task.cancel()
        for rid, loop in list(self._loops.items()):
            if loop.task.done():
                self._loops.pop(rid)

    async def send(
        self, url: str, signer: Webhook, msg: dict[str, Any]
    ) -> tuple[bool, int | None, str | None]:
        """POST one message; (delivered?, HTTP status, what went wrong)."""
        assert self._session is not None
        now = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "webhook-id": msg["id"],
            "webhook-timestamp": str(math.floor(now.timestamp())),
            "webhook-signature": signer.sign(msg["id"], now, msg["body"]),
        }
        try:
            async with self._session.post(
                url, data=msg["body"].encode(), headers=headers, allow_redirects=False
            ) as resp:
                if 200 <= resp.status < 300:
                    return True, resp.status, None
                text = (await resp.content.read(200)).decode(errors="replace").strip()
                return False, resp.status, f"HTTP {resp.status} {resp.reason or ''} {text}"[:300]
        except TimeoutError:
            return False, None, f"no answer within {self.rules.timeout_s:g} s"
        except (aiohttp.ClientError, OSError, ValueError) as e:
            return False, None, f"{type(e).__name__}: {e}"[:300]


class _Receiver:
    """One receiver's delivery loop."""

    def __init__(self, hooks: Webhooks, receiver: int) -> None:
        self.hooks = hooks
        self.id = receiver
        self.wake = asyncio.Event()
        self.task = asyncio.create_task(self._run(), name=f"webhook-{receiver}")

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self.wake.wait()
        self.wake.clear()

    async def _run(self) -> None:
        outbox = self.hooks.outbox
        secret = await asyncio.to_thread(outbox.secret, self.id)
        if secret is None:
            return
        signer = Webhook(secret)
        while True:
            try:
                r = await asyncio.to_thread(outbox.receiver, self.id)
                if r is None:
                    return
                wait = (r["next_attempt_at"] or 0) - time.time()
                if r["state"] == "disabled" or wait > 0:
                    await self._sleep(wait if r["state"] != "disabled" else 60.0)
                    continue
                replaying, msgs = await asyncio.to_thread(outbox.next_messages, r)
                if not msgs:
                    await self._sleep(5.0)
                    continue
                await self._deliver(r, signer, replaying, msgs)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook %s: delivery loop failed; trying again", self.id)
                await asyncio.sleep(1.0)

    async def _deliver(
        self, r: dict[str, Any], signer: Webhook, replaying: bool, msgs: list[dict[str, Any]]
    ) -> None:
        """Send in order until one fails; progress saved a few times a second and at the end."""
        hooks, rules = self.hooks, self.hooks.rules
        state: dict[str, Any] = {}
        attempts: list[tuple[Any, ...]] = []
        flushed = time.monotonic()
        try:
            for msg in msgs:
                t0 = time.monotonic()
                ok, status, error = await hooks.send(r["url"], signer, msg)
                now = time.time()
                attempt = r["failures"] + 1
                ms = round((time.monotonic() - t0) * 1000, 1)
                attempts.append(
                    (
                        self.id,
                        msg["seq"],
                        msg["id"],
                        msg["type"],
                        now,
                        attempt,
                        int(replaying),
                        status,
                        int(ok),
                        error,
                        ms,
                    )
                )
                state |= {"last_attempt_at": now, "last_status": status}
                if ok:
                    if replaying:
                        state["replay_next"] = msg["seq"] + 1
                    else:
                        state["cursor"] = r["cursor"] = msg["seq"]
                    r["failures"] = 0
                    r["delivered"] += 1
                    state |= {
                        "failures": 0,
                        "failing_since": None,
                        "next_attempt_at": None,
                        "last_success_at": now,
                        "last_error": None,
                        "delivered": r["delivered"],
                    }
                    if time.monotonic() - flushed > FLUSH_S:
                        await asyncio.to_thread(hooks.outbox.save, self.id, state, attempts)
                        state, attempts, flushed = {}, [], time.monotonic()
                    continue
                since = r["failing_since"] or now
                delay = integration.retry_delay(
                    attempt, rules.retry_base_s, rules.retry_cap_s, random.random()
                )
                state |= {
                    "failures": attempt,
                    "failing_since": since,
                    "next_attempt_at": now + delay,
                    "last_error": error,
                }
                if now - since >= rules.give_up_after_h * 3600:
                    state["state"] = "disabled"
                    log.warning("webhook %s disabled after failing since %s", self.id, since)
                break
        finally:
            if state or attempts:  # also when cancelled: what was delivered is recorded
                await asyncio.shield(asyncio.to_thread(hooks.outbox.save, self.id, state, attempts))
