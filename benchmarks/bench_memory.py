"""How much memory does the server need for idle boards?

A real ``hall-server`` (the demo hall) in a subprocess; its resident memory (VmRSS) with no
websocket, then with 1,000 and 10,000 idle board websockets held open by client processes.

    python benchmarks/bench_memory.py [--quick]     # --quick: 0, 100 and 1,000 boards
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import BoardSwarm, ServerProcess, raise_open_files, rss_mb, table


def settled_rss(pid: int) -> float:
    """RSS once the server has digested the connections (a heartbeat, a state message)."""
    time.sleep(1.0)
    return rss_mb(pid)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    steps = [100, 1000] if args.quick else [1000, 10000]
    raise_open_files(steps[-1] + 1024)
    directory = Path(tempfile.mkdtemp(prefix="hallq-bench-"))
    server = ServerProcess(directory / "memory.db", demo=True).start()
    assert server.proc is not None
    swarms: list[BoardSwarm] = []
    rows = []
    try:
        base = settled_rss(server.proc.pid)
        rows.append(["0", f"{base:.1f}", ""])
        held = 0
        for boards in steps:
            swarms.append(BoardSwarm(server.url, boards - held, processes=4))
            held = boards
            rss = settled_rss(server.proc.pid)
            rows.append([f"{boards:,}", f"{rss:.1f}", f"{(rss - base) * 1024 / boards:.1f}"])
    finally:
        for swarm in swarms:
            swarm.stop()
        server.stop()
    print("server memory with idle board websockets")
    print(table(["boards", "RSS MB", "KB per board"], rows))


if __name__ == "__main__":
    main()
