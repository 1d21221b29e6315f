"""The core knows no platform, not even by name: a new door needs no edit of bot/ (issue 12)."""

from __future__ import annotations

import re
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "bot"
PLATFORMS = re.compile(r"discord|slack", re.IGNORECASE)


def test_no_file_of_the_core_names_a_platform_docstrings_and_comments_included():
    named = [
        f"{path.relative_to(CORE.parent)}:{number}: {line.strip()}"
        for path in sorted(CORE.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if PLATFORMS.search(line)
    ]
    assert named == []
