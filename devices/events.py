"""Fan events out from a device thread to plain callbacks and to asyncio consumers.

Device I/O runs in its own thread (blocking pyserial is the reliable choice on every OS), so
events cross into an event loop with `loop.call_soon_threadsafe`, never by touching loop
objects from the device thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


class EventHub(Generic[T]):
    """Thread-safe publisher: `emit` from any thread, consume by callback or `stream()`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[T], object]] = []

    def subscribe(self, callback: Callable[[T], object]) -> Callable[[], None]:
        """Call `callback(event)` from the emitting thread; returns an unsubscribe function."""
        with self._lock:
            self._callbacks.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return unsubscribe

    def emit(self, event: T) -> None:
        """Deliver to every subscriber; a failing subscriber is logged, never fatal."""
        with self._lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            try:
                callback(event)
            except Exception:
                log.exception("event callback %r failed", callback)

    async def stream(self, first: Callable[[], Iterable[T]] = tuple) -> AsyncIterator[T]:
        """Async iterator of events, starting with `first()` (e.g. the current state),
        called after subscribing so that no change between the two is lost."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[T] = asyncio.Queue()

        def forward(event: T) -> None:
            # RuntimeError: the loop closed while the device thread still runs.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(queue.put_nowait, event)

        unsubscribe = self.subscribe(forward)
        try:
            for event in first():
                yield event
            while True:
                yield await queue.get()
        finally:
            unsubscribe()
