"""Each benchmark in bench/ still runs, at toy sizes: a benchmark CI never runs rots unseen.

Only that it finishes and prints its figures, and that the work it counts was done, is checked:
speed is measured by running the scripts themselves (docs/benchmarks.md), never asserted here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
TINY_MODEL = ("--layers", "1", "--hidden", "32", "--heads", "2", "--tokens", "4", "--rounds", "1")


def run_bench(*args: str, timeout: float = 300, **variables: str) -> str:
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", **variables}
    done = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_core_prints_throughput_latency_and_full_windows() -> None:
    out = run_bench("bench.core", "--turns", "60", "--seconds", "1.5", "--stored", "60")
    assert re.search(r"medians [\d,]+ / [\d,]+: [\d.]+x", out)
    assert "default GC vs tuned" in out and "PARLEY_WINDOW_CACHE_MB=" in out


def test_local_prints_batched_against_alone_and_a_newcomer_joining() -> None:
    batched = run_bench("bench.local", *TINY_MODEL)
    assert re.search(r"speed-up: [\d.]+x", batched)
    joining = run_bench("bench.local", "--join", *TINY_MODEL)
    assert "30-token newcomer" in joining and "500-token newcomer" in joining


def test_tools_audits_every_tool_step_it_counts() -> None:
    out = run_bench("bench.tools", "--turns", "20")
    assert "tool calls audited: 20" in out and "added by the tool step" in out


def test_usage_prints_pricing_and_reports() -> None:
    out = run_bench("bench.usage", "--records", "200")
    assert "append with a usage record, turns/s" in out and "usage report by user" in out


def test_scale_counts_turns_from_one_to_three_postgresql_processes() -> None:
    # Three replicas at the default pool would hold 45 connections; the suite stays under 50.
    out = run_bench(
        "bench.scale", "--conversations", "4", "--turns", "2", PARLEY_DATABASE_POOL_SIZE="2"
    )
    assert "SQLite      1 process" in out and "PostgreSQL  3 processes" in out


@pytest.mark.parametrize("case", ["discord", "slack"])
def test_platforms_answer_every_conversation_through_a_real_parley_process(case: str) -> None:
    out = run_bench("bench.platforms", "--case", case, "--conversations", "1")
    assert re.search(r"answers complete\s+3/3", out), out
