"""The rooms keep their rules: the import contracts (pyproject), and what an import rule cannot
see, the core reading the clock through a module it may import (``datetime``)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_the_core_never_reads_the_clock() -> None:
    clock = re.compile(r"\b(datetime|date)\.(now|today|utcnow)\(|\btime\.(time|monotonic)\(")
    found = [
        f"{path.name}:{n}"
        for path in (ROOT / "hall_server" / "core").glob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if clock.search(line)
    ]
    assert found == []


def test_the_import_contracts_hold() -> None:
    lint = shutil.which("lint-imports", path=str(ROOT / ".venv" / "bin")) or shutil.which(
        "lint-imports"
    )
    if lint is None:
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    done = subprocess.run([lint], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:]
