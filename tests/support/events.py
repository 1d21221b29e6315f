"""Build translated events for core tests."""

from __future__ import annotations

import uuid

from bot.types import Author, ConversationKey, Incoming, Kind


def message(
    text: str,
    *,
    conversation: str = "c1",
    user: str = "u1",
    name: str = "Ann",
    platform: str = "test",
    event_id: str | None = None,
    is_admin: bool = False,
    is_bot: bool = False,
) -> Incoming:
    return Incoming(
        key=ConversationKey(platform, "space", conversation),
        author=Author(user, name, is_bot=is_bot, is_admin=is_admin),
        text=text,
        event_id=event_id or uuid.uuid4().hex,
        kind=Kind.MENTION,
    )
