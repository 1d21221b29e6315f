"""Housekeeping: retention purges old messages; old event ids are forgotten either way."""

from __future__ import annotations

from bot.maintenance import EVENT_MEMORY_SECONDS, tidy
from bot.store.factory import create_store
from bot.types import ChatMessage, ConversationKey, HistoryMessage, Role

KEY = ConversationKey("test", "space", "c1")
DAY = 86_400.0


async def test_retention_purges_old_messages_and_keeps_recent_ones(tmp_path):
    store = create_store(f"sqlite:///{tmp_path / 'parley.db'}")
    await store.open()
    try:
        now = 100 * DAY
        old = [ChatMessage(Role.USER, "old", created_at=now - 40 * DAY, tokens=2)]
        recent = [ChatMessage(Role.USER, "recent", created_at=now - DAY, tokens=2)]
        await store.append(KEY, [*old, ChatMessage(Role.ASSISTANT, "a", created_at=now - 40 * DAY)])
        await store.append(KEY, [*recent, ChatMessage(Role.ASSISTANT, "b", created_at=now - DAY)])
        assert await tidy(store, None, now) == 0
        assert await tidy(store, 30, now) == 2
        assert [m.content for m in await store.load(KEY, 1000)] == ["recent", "b"]
    finally:
        await store.close()


async def test_old_event_ids_are_forgotten_without_retention(tmp_path):
    store = create_store(f"sqlite:///{tmp_path / 'parley.db'}")
    await store.open()
    try:
        assert await store.claim_event("evt")
        await tidy(store, None, now=1e12)  # far in the future: the claim is long past
        assert await store.claim_event("evt")
        await tidy(store, None, now=0.0 + EVENT_MEMORY_SECONDS)
        assert not await store.claim_event("evt")
    finally:
        await store.close()


async def test_a_channels_kept_messages_expire_after_place_memory_days(tmp_path):
    store = create_store(f"sqlite:///{tmp_path / 'parley.db'}")
    await store.open()
    try:
        now = 200 * DAY
        place = "test:space:c1"
        for number, age in ((1, 91), (2, 89)):
            message = HistoryMessage(str(number), "Ada", f"release {number}", now - age * DAY, "l")
            await store.keep_message(place, "ada", message)
        await tidy(store, None, now, place_memory_days=90)
        assert [m.id for m in await store.search_place(place, ["release"], 8)] == ["2"]
    finally:
        await store.close()
