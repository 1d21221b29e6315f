"""Housekeeping on a schedule: retention of messages, and forgetting old event ids and counters."""

from __future__ import annotations

import asyncio
import logging
import time

from bot.store.base import Housekeeping

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 3600.0
EVENT_MEMORY_SECONDS = 2 * 86_400.0
"""How long an event id is remembered for dedupe: platforms redeliver within minutes."""


async def tidy(
    store: Housekeeping, retention_days: int | None, now: float, place_memory_days: int = 90
) -> int:
    """One round: expire old event ids and counters; purge channels' kept messages past their
    retention, and messages past retention."""
    await store.expire(now - EVENT_MEMORY_SECONDS)
    expired = await store.purge_place_messages(now - place_memory_days * 86_400.0)
    if expired:
        log.info(
            "memory of the place: deleted %d messages older than %d days",
            expired,
            place_memory_days,
        )
    if retention_days is None:
        return 0
    purged = await store.purge(now - retention_days * 86_400.0)
    if purged:
        log.info("retention: deleted %d messages older than %d days", purged, retention_days)
    return purged


async def keep_tidy(
    store: Housekeeping, retention_days: int | None, place_memory_days: int = 90
) -> None:
    """Run `tidy` every hour until cancelled; a failed round is logged and retried next time."""
    while True:
        try:
            await tidy(store, retention_days, time.time(), place_memory_days)
        except Exception:
            log.warning("housekeeping failed; trying again in an hour", exc_info=True)
        await asyncio.sleep(INTERVAL_SECONDS)
