"""One bad gateway event never takes the Discord door down, and its content is never logged."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.discord.conftest import World, serving
from tests.discord.test_door import ask
from tests.support.backends import ScriptedBackend

SECRET_WORDS = "the launch code is 0000"


def malformed_messages(world: World) -> list[dict[str, Any]]:
    """MESSAGE_CREATE payloads discord.py cannot parse, with words that must not be logged."""
    peer = world.peer

    def good() -> dict[str, Any]:
        return peer.loose_message(world.general, world.alice, SECRET_WORDS)

    no_author = good()
    del no_author["author"]
    mentions_not_a_list = good() | {"mentions": SECRET_WORDS}
    not_a_snowflake = good() | {"id": SECRET_WORDS}
    attachment = {"id": str(peer.snowflake()), "filename": "a.txt", "size": 1, "url": "x"}
    no_proxy_url = good() | {"attachments": [attachment]}
    return [no_author, mentions_not_a_list, not_a_snowflake, no_proxy_url, {}]


async def test_malformed_events_are_skipped_and_the_door_keeps_answering(
    world: World, settings_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    peer = world.peer
    # INFO: discord.py's own DEBUG lines print whole payloads by design.
    caplog.set_level(logging.INFO)
    async with serving(peer, settings_for(), ScriptedBackend()) as running:
        sessions = peer.connected
        bad = malformed_messages(world)
        for data in bad:
            await peer.dispatch("MESSAGE_CREATE", data, peer.guild_id)
        await ask(peer, world.general, world.alice, "still there?")
        assert running.door.client.is_ready() and not running.door.client.is_closed()
        assert peer.connected == sessions
    skipped = [r for r in caplog.records if "skipped a malformed" in r.getMessage()]
    assert len(skipped) == len(bad)
    assert all(r.levelno == logging.WARNING for r in skipped)
    assert all("MESSAGE_CREATE" in r.getMessage() for r in skipped)
    assert SECRET_WORDS not in caplog.text


async def test_a_handler_error_is_logged_once_without_content(
    world: World, settings_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    peer = world.peer
    async with serving(peer, settings_for(), ScriptedBackend()) as running:
        # A value on_message cannot read, through discord.py's own dispatch and on_error.
        running.door.client.dispatch("message", SECRET_WORDS)
        await ask(peer, world.general, world.alice, "and now?")
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "on_message" in errors[0].getMessage()
    assert "AttributeError" in errors[0].getMessage()
    assert SECRET_WORDS not in caplog.text
