"""How long from a clerk's call to the number on a thousand boards?

A real ``hall-server`` (the demo hall) runs in a subprocess; 1 board, then 1,000 boards (real
websockets, in a few client processes) listen while three windows call one visitor after the
other. For every call and board: arrival time minus the moment the call request was sent, so
the HTTP request, the durable commit and the fan-out are all inside. The client processes share
the machine with the server, so their own reading is inside too.

    python benchmarks/bench_board.py [--boards 1000] [--calls 100] [--quick]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import (
    BoardSwarm,
    ServerProcess,
    cpu_cell,
    cpu_s,
    latency_cells,
    raise_open_files,
    table,
)

TARGET_P99_MS = 50.0
WINDOWS = ("1", "2", "3")  # the demo hall's social-insurance windows


def measure(directory: Path, boards: int, calls: int, gap_s: float) -> list[str]:
    server = ServerProcess(directory / f"boards-{boards}.db", demo=True).start()
    assert server.proc is not None
    try:
        tokens = {w: server.login(f"staff{w}") for w in WINDOWS}
        for _ in range(calls):
            status, _ = server.request(
                "POST", "/api/v1/tickets", {"service": "social-insurance"}, token=tokens["1"]
            )
            assert status == 201
        swarm = BoardSwarm(server.url, boards)
        sent: dict[str, float] = {}
        cpu0, started = cpu_s(server.proc.pid), time.monotonic()
        for i in range(calls):
            window = WINDOWS[i % len(WINDOWS)]
            at = time.time()
            status, body = server.request(
                "POST", f"/api/v1/windows/{window}/call", token=tokens[window]
            )
            assert status == 200 and body is not None
            sent[body["ticket"]["number"]] = at
            time.sleep(gap_s)
        time.sleep(1.0)  # stragglers; anything later counts as not delivered
        cpu = cpu_s(server.proc.pid) - cpu0
        elapsed = time.monotonic() - started
        heard = swarm.stop()
    finally:
        server.stop()
    latencies = [(t - sent[n]) * 1000 for board in heard for n, t in board if n in sent]
    delivered = len(latencies) / (len(sent) * boards)
    return [
        f"{boards:,} board{'s' * (boards > 1)}",
        f"{calls}",
        *latency_cells(latencies),
        f"{max(latencies):.1f}",
        f"{100 * delivered:.2f}%",
        cpu_cell(cpu, elapsed),
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--boards", type=int, default=1000)
    p.add_argument("--calls", type=int, default=100)
    p.add_argument("--gap", type=float, default=0.05, help="seconds between calls")
    p.add_argument("--quick", action="store_true", help="20 calls")
    args = p.parse_args()
    calls = 20 if args.quick else args.calls
    raise_open_files(args.boards + 1024)
    directory = Path(tempfile.mkdtemp(prefix="hallq-bench-"))
    rows = [
        measure(directory, 1, calls, args.gap),
        measure(directory, args.boards, calls, args.gap),
    ]
    print(
        f"call -> board latency (call sent -> message read), {args.gap * 1000:g} ms between calls"
    )
    headers = ["boards", "calls", "p50 ms", "p99 ms", "max ms", "delivered", "server CPU"]
    print(table(headers, rows))
    p99 = float(rows[-1][3])
    verdict = "meets" if p99 <= TARGET_P99_MS else "MISSES"
    print(
        f"target: p99 <= {TARGET_P99_MS:g} ms with {args.boards:,} boards: {verdict} ({p99:.1f} ms)"
    )


if __name__ == "__main__":
    main()
