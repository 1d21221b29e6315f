"""Benchmarks: each module prints its figures (see docs/benchmarks.md for the commands)."""

from __future__ import annotations

import os


def load_average() -> str:
    """The machine's load average, printed beside figures taken on a shared machine."""
    return "load average " + " ".join(f"{n:.2f}" for n in os.getloadavg())
