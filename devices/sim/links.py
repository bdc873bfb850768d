"""Attach a simulator to a real byte channel: a pty pair or a loopback TCP port.

Drivers are tested through the same pyserial / socket code they use on hardware, so the
simulators never get called directly by a driver: a link owns a thread that reads what the
driver wrote and hands it to the simulator's ``receive(data, send)``.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import Protocol, Self

_TICK = 0.05  # how often link threads look at their stop flag


class Handler(Protocol):
    """What a simulator offers a link: bytes in, replies out through `send`."""

    def receive(self, data: bytes, send: Callable[[bytes], None]) -> None: ...


class _Link:
    """Shared thread life cycle; subclasses implement `_serve_once` and `_release`."""

    address: str

    def __init__(self, handler: Handler, name: str) -> None:
        self._handler = handler
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._serve_once()

    def _serve_once(self) -> None:
        raise NotImplementedError

    def _release(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Stop serving and drop the channel, like pulling the cable out."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)
        self._release()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PtyLink(_Link):
    """A pty pair: the driver opens `path` (the slave) as if it were /dev/ttyUSB0."""

    def __init__(self, handler: Handler) -> None:
        import tty  # POSIX only; TcpLink is the portable choice

        super().__init__(handler, "sim-pty")
        self._master, self._slave = os.openpty()
        # Raw mode, or the line discipline would echo our replies back and mangle CR/LF.
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.path = os.ttyname(self._slave)
        self.address = f"serial://{self.path}"
        self._thread.start()

    def _serve_once(self) -> None:
        ready, _, _ = select.select([self._master], [], [], _TICK)
        if not ready:
            return
        try:
            data = os.read(self._master, 65536)
        except BlockingIOError:
            return
        except OSError:  # the fds were closed under us
            self._stop.wait(_TICK)
            return
        if data:
            self._handler.receive(data, self._send)

    def _send(self, data: bytes) -> None:
        deadline = time.monotonic() + 1.0
        view = memoryview(data)
        while view and not self._stop.is_set():
            try:
                view = view[os.write(self._master, view) :]
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return  # nobody reads the other end: the bytes are lost, as on a wire
                time.sleep(0.005)
            except OSError:
                return

    def _release(self) -> None:
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)


class TcpLink(_Link):
    """A listening socket on 127.0.0.1; a new client replaces the previous one."""

    def __init__(self, handler: Handler, port: int = 0, host: str = "127.0.0.1") -> None:
        super().__init__(handler, "sim-tcp")
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, port))
        self._listener.listen(4)
        self.host, self.port = self._listener.getsockname()
        self.address = f"tcp://{self.host}:{self.port}"
        self._conn: socket.socket | None = None
        self._thread.start()

    def _serve_once(self) -> None:
        watch = [self._listener] + ([self._conn] if self._conn else [])
        try:
            ready, _, _ = select.select(watch, [], [], _TICK)
        except (OSError, ValueError):  # closed under us
            self._stop.wait(_TICK)
            return
        if self._listener in ready:
            conn, _ = self._listener.accept()
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._drop_conn()
            self._conn = conn
            return
        if self._conn is not None and self._conn in ready:
            conn = self._conn
            try:
                data = conn.recv(65536)
            except OSError:
                data = b""
            if not data:
                self._drop_conn()
                return
            self._handler.receive(data, lambda reply: self._send(conn, reply))

    def _send(self, conn: socket.socket, data: bytes) -> None:
        with contextlib.suppress(OSError):
            conn.sendall(data)

    def _drop_conn(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.close()
            self._conn = None

    def _release(self) -> None:
        self._drop_conn()
        with contextlib.suppress(OSError):
            self._listener.close()
