"""The benchmark script runs end to end on a tiny inventory; no timing is checked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"
SCENARIOS = (
    "1 inventory cold (list -A -o csv --refresh)",
    "2a inventory warm (list -A -o csv)",
    "2b inventory warm table (list -A)",
    "3 bulk reset (reset - --yes -o json)",
    "4 health (health -A -o json)",
    "4b health, the big inventory, same calls (tool only)",
    "5 show, cold cache (show NUMBER -o json)",
    "6a start-up: meetzy-numbers --help",
    "6b start-up: cached list, one small account",
    "6c start-up: python -c pass",
    "7 peak RSS, cold inventory",
)


def test_tiny_benchmark_prints_every_scenario(tmp_path: Path) -> None:
    report = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--tiny", "--json", str(report)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = next(line for line in lines if line.startswith("scenario "))
    for column in ("tool", "baseline", "ratio", "tool req", "base req", "lower bd"):
        assert column in header
    for name in SCENARIOS:
        assert any(line.startswith(name) for line in lines), name
    # A scenario that raised is reported as an "error:" row instead of a figure.
    assert "error: " not in result.stdout
    assert report.exists()
