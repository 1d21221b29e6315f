"""Rate limits count in fixed minutes: a test that needs one window starts well inside one."""

from __future__ import annotations

import asyncio
import time


async def inside_one_minute(seconds_needed: float) -> None:
    """Wait for the next minute if fewer than `seconds_needed` are left of this one."""
    into_the_minute = time.time() % 60
    if into_the_minute > 60 - seconds_needed:
        await asyncio.sleep(60.5 - into_the_minute)
