"""``hall-server replay`` on small hand-checked days, through the real CLI."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT

HALL = """
[hall]
id = "replay-test"
name = "回放测试大厅"
hours = ["08:30-17:30"]

[[service]]
code = "tax"
prefix = "H"
name = "税务"
target_wait_min = 5

[[window]]
id = "1"
services = ["tax"]

[[window]]
id = "2"
services = ["tax"]
"""


def replay(
    tmp_path: Path, arrivals: str, windows: str | None = None
) -> subprocess.CompletedProcess:
    (tmp_path / "hall.toml").write_text(HALL, encoding="utf-8")
    (tmp_path / "arrivals.csv").write_text(arrivals, encoding="utf-8")
    cmd = [sys.executable, "-m", "hall_server.cli", "replay"]
    cmd += ["--config", str(tmp_path / "hall.toml"), "--arrivals", str(tmp_path / "arrivals.csv")]
    cmd += ["--out", str(tmp_path / "out.csv")]
    if windows is not None:
        (tmp_path / "windows.csv").write_text(windows, encoding="utf-8")
        cmd += ["--windows", str(tmp_path / "windows.csv")]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)


def played(tmp_path: Path, done: subprocess.CompletedProcess) -> list[dict[str, str]]:
    """The rows of a replay that succeeded."""
    assert done.returncode == 0, done.stderr
    with open(tmp_path / "out.csv", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_replay_plays_the_day_through_the_engine_and_prints_a_summary(tmp_path: Path) -> None:
    # Window 2 opens at 100 s. At 300 s both windows are free: window 1 takes H003 (who never
    # comes: 60 s of recalls), window 2 takes H004.
    done = replay(
        tmp_path,
        "t_s,service,service_s,no_show\n0,tax,300,0\n10,tax,200,0\n20,tax,100,1\n30,tax,100,0\n",
        "t_s,window,action\n100,2,open\n",
    )
    rows = played(tmp_path, done)
    got = [(r["number"], r["called_t_s"], r["wait_s"], r["window"], r["status"]) for r in rows]
    assert got == [
        ("H001", "0.0", "0.0", "1", "done"),
        ("H002", "100.0", "90.0", "2", "done"),
        ("H003", "300.0", "280.0", "1", "no_show"),
        ("H004", "300.0", "270.0", "2", "done"),
    ]
    assert {"issued_t_s", "eta_s", "service"} <= set(rows[0])
    assert all(int(r["eta_low_s"]) <= int(r["eta_s"]) <= int(r["eta_high_s"]) for r in rows)
    assert "p90 4.7 min" in done.stdout  # nearest rank of 0, 90, 280, 270 s
    assert "service level (called within the service's target): 100.0%" in done.stdout


def test_a_window_closing_while_serving_finishes_that_visitor_first(tmp_path: Path) -> None:
    done = replay(
        tmp_path,
        "t_s,service,service_s,no_show\n0,tax,300,0\n10,tax,60,0\n",
        "t_s,window,action\n0,2,close\n100,1,close\n400,1,open\n",
    )
    rows = played(tmp_path, done)
    assert [(r["finished_t_s"], r["called_t_s"]) for r in rows] == [("300.0", "0.0"),
                                                                   ("460.0", "400.0")]  # fmt: skip


def test_replay_names_the_line_of_bad_input(tmp_path: Path) -> None:
    done = replay(tmp_path, "t_s,service,service_s,no_show\n0,tax,300,0\n5,bakery,10,0\n")
    assert done.returncode != 0
    assert "arrivals.csv:3: unknown service 'bakery'" in done.stderr
    done = replay(tmp_path, "t_s,service\n0,tax\n")
    assert "header lacks service_s, no_show" in done.stderr
    done = replay(tmp_path, "t_s,service,service_s,no_show\nsoon,tax,300,0\n")
    assert "arrivals.csv:2: t_s must be a number" in done.stderr
