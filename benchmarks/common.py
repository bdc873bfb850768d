"""What the server benchmarks share: a real ``hall-server`` in a subprocess (the test suite's
``ServerProcess``), process memory and CPU from /proc, percentiles and a printed table."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import resource
import sys
import time
import tomllib
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import ServerProcess, kiosk_hall_toml  # noqa: E402

DEMO_TOML = ROOT / "hall_server" / "data" / "demo-hall.toml"

__all__ = [
    "BoardSwarm",
    "KioskAgents",
    "ServerProcess",
    "city_toml",
    "cpu_cell",
    "cpu_s",
    "kiosk_hall_toml",
    "kiosks_toml",
    "latency_cells",
    "percentile",
    "raise_open_files",
    "rss_mb",
    "table",
    "with_kiosks",
]


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (``p`` in 0..100) of unsorted values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def latency_cells(values_ms: Sequence[float]) -> list[str]:
    """The p50 and p99 columns of a table, in milliseconds."""
    return [f"{percentile(values_ms, 50):.1f}", f"{percentile(values_ms, 99):.1f}"]


def cpu_cell(cpu_seconds: float, elapsed: float) -> str:
    """A process's CPU use over a measurement, as a share of one core."""
    return f"{100 * cpu_seconds / elapsed:.0f}%"


def rss_mb(pid: int) -> float:
    """Resident memory of a process (VmRSS), in MB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_s(pid: int) -> float:
    """User plus system CPU seconds a process (all its threads) has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raise_open_files(wanted: int) -> int:
    """Raise this process's open-file limit (children inherit it); returns the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return max(soft, target)


def city_toml(windows: int = 100, hours: str = "00:00-24:00", kiosks: int | None = None) -> str:
    """A city center: the demo hall's catalog and kiosks with ``windows`` windows, as many for
    a service as its share of the work (share x mean service time), every third also taking
    the next service. With ``kiosks``, that many kiosks ``k1``... instead of the demo's two,
    their printers on kiosk PCs (an agent each, ``hall-devices``), as a center has them."""
    text = DEMO_TOML.read_text(encoding="utf-8")
    services = tomllib.loads(text)["service"]
    work = [s.get("share", 0.1) * s["mean_service_min"] for s in services]
    counts = [max(2, round(windows * w / sum(work))) for w in work]
    while sum(counts) != windows:
        i = counts.index(max(counts))
        counts[i] += 1 if sum(counts) < windows else -1
    head, _, rest = text.partition("[[window]]")
    kiosk_blocks = rest[rest.index("[[kiosk]]") :] if kiosks is None else kiosks_toml(kiosks)
    head = head.replace('hours = ["00:00-24:00"]', f'hours = ["{hours}"]')
    blocks = []
    for i, (s, n) in enumerate(zip(services, counts, strict=True)):
        other = services[(i + 1) % len(services)]["code"]
        for k in range(n):
            codes = [s["code"], other] if k % 3 == 2 else [s["code"]]
            blocks.append(f'[[window]]\nid = "{len(blocks) + 1}"\nservices = {codes!r}\n')
    return head + "\n".join(blocks).replace("'", '"') + "\n" + kiosk_blocks


def kiosks_toml(n: int) -> str:
    """Kiosks ``k1``..``kn`` whose printers hang on kiosk PCs (an agent each, see
    `KioskAgents`), as ``[[kiosk]]`` tables."""
    return "".join(f'[[kiosk]]\nid = "k{i}"\nname = "自助机{i}"\n\n' for i in range(1, n + 1))


def with_kiosks(text: str, n: int) -> str:
    """A hall's TOML (the demo's) with its kiosks replaced by `kiosks_toml`."""
    return text[: text.index("[[kiosk]]")] + kiosks_toml(n)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Rows as an aligned plain-text table: labels on the left, numbers right-aligned."""
    cells = [[str(h) for h in headers]] + [
        [f"{v:,.1f}" if isinstance(v, float) else str(v) for v in row] for row in rows
    ]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append(
            "  ".join(
                c.ljust(w) if n == 0 or i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


class BoardSwarm:
    """Many board websockets, spread over a few client processes so that reading a thousand
    copies of each message is not one core's job; each board notes when every call arrived."""

    def __init__(self, url: str, boards: int, processes: int = 4) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.procs = []
        share = [boards // processes + (i < boards % processes) for i in range(processes)]
        for n in filter(None, share):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_boards_process, args=(url, n, child), daemon=True)
            proc.start()
            self.pipes.append(parent)
            self.procs.append(proc)
        for pipe in self.pipes:
            if pipe.recv() != "ready":
                raise RuntimeError("a board process failed to connect")

    def stop(self) -> list[list[tuple[str, float]]]:
        """Close every board; returns, per board, (number, arrival time) of each call heard."""
        for pipe in self.pipes:
            pipe.send("stop")
        heard = [board for pipe in self.pipes for board in pipe.recv()]
        for proc in self.procs:
            proc.join(10)
        return heard


def _boards_process(url: str, count: int, pipe: Connection) -> None:
    raise_open_files(count + 256)
    asyncio.run(_boards(url, count, pipe))


async def _boards(url: str, count: int, pipe: Connection) -> None:
    heard: list[list[tuple[str, float]]] = [[] for _ in range(count)]
    opening = asyncio.Semaphore(32)  # the server's accept backlog is finite
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def board() -> aiohttp.ClientWebSocketResponse:
            async with opening:
                ws = await session.ws_connect(f"{url}/ws/board", max_msg_size=0, compress=15)
                await ws.receive()  # the snapshot
            return ws

        sockets = await asyncio.gather(*(board() for _ in heard))

        async def listen(ws: aiohttp.ClientWebSocketResponse, log: list[tuple[str, float]]) -> None:
            async for msg in ws:
                if msg.type is aiohttp.WSMsgType.TEXT and msg.data.startswith('{"type":"call"'):
                    log.append((json.loads(msg.data)["number"], time.time()))

        listeners = [
            asyncio.create_task(listen(ws, log)) for ws, log in zip(sockets, heard, strict=True)
        ]
        pipe.send("ready")
        await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
        await asyncio.gather(*(ws.close() for ws in sockets))
        await asyncio.gather(*listeners)
    pipe.send(heard)


class KioskAgents:
    """Many kiosks' device agents (``run_agent``, what ``hall-devices`` runs on a kiosk PC),
    each with a simulated printer, in a process of their own: the server sends every print
    job over the agent's websocket and hears it printed, as it does from kiosk PCs.

    ``instant``: agents that speak the same protocol on the same websockets but report each
    job printing and done at once, without rendering it. A kiosk PC prints on its own CPU;
    on the benchmark's two cores, fifty simulated printers rendering hundreds of tickets a
    second would measure the simulators, not the server (the throughput benchmark uses these).
    """

    def __init__(self, url: str, tokens: dict[str, str], instant: bool = False) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.pipe, child = ctx.Pipe()
        target = _instant_agents_process if instant else _agents_process
        self.proc = ctx.Process(target=target, args=(url, tokens, child), daemon=True)
        self.proc.start()
        if self.pipe.recv() != "ready":
            raise RuntimeError("the kiosk agents failed to connect")

    def stop(self) -> int:
        """Disconnect every agent; returns how many tickets their printers cut."""
        self.pipe.send("stop")
        printed: int = self.pipe.recv()
        self.proc.join(10)
        return printed


def _agents_process(url: str, tokens: dict[str, str], pipe: Connection) -> None:
    asyncio.run(_agents(url, tokens, pipe))


async def _agents(url: str, tokens: dict[str, str], pipe: Connection) -> None:
    from devices.agent import DeviceLoop, run_agent

    settings = {"timeout": 0.3, "settle": 0.05}  # the simulator answers at once
    loops = {
        k: DeviceLoop.open(k, "sim:", printer_settings=settings, server_url=url) for k in tokens
    }
    connected = {k: asyncio.Event() for k in tokens}
    tasks = [
        asyncio.create_task(run_agent(url, k, token, loops[k], on_connected=connected[k].set))
        for k, token in tokens.items()
    ]
    async with asyncio.timeout(60):
        await asyncio.gather(*(e.wait() for e in connected.values()))
    pipe.send("ready")
    await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    printed = 0
    for loop in loops.values():
        assert loop.printer is not None and loop.printer.simulator is not None
        printed += len(loop.printer.simulator.tickets)
        await asyncio.to_thread(loop.close)
    pipe.send(printed)


def _instant_agents_process(url: str, tokens: dict[str, str], pipe: Connection) -> None:
    asyncio.run(_instant_agents(url, tokens, pipe))


async def _instant_agents(url: str, tokens: dict[str, str], pipe: Connection) -> None:
    from devices.agent import VERSION, agent_url
    from devices.protocol import Hello, JobReport, to_dict

    printed = 0
    ready = {k: asyncio.Event() for k in tokens}

    async def agent(session: aiohttp.ClientSession, kiosk: str, token: str) -> None:
        nonlocal printed
        headers = {"Authorization": f"Bearer {token}"}
        async with session.ws_connect(agent_url(url, kiosk), headers=headers) as ws:
            await ws.receive_json()  # welcome
            await ws.send_json(to_dict(Hello(VERSION, True, False)))
            ready[kiosk].set()
            async for msg in ws:
                m = json.loads(msg.data)
                if m.get("type") == "print":
                    for state in ("printing", "done"):
                        await ws.send_json(to_dict(JobReport(m["job"], m["attempt"], state)))
                    printed += 1

    async with aiohttp.ClientSession() as session:
        tasks = [asyncio.create_task(agent(session, k, t)) for k, t in tokens.items()]
        async with asyncio.timeout(60):
            await asyncio.gather(*(e.wait() for e in ready.values()))
        pipe.send("ready")
        await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    pipe.send(printed)
