"""Arbitrary message text through the real discord.py client and the Discord door, against the
peer: in a guild channel with the bot mentioned, in a DM, and as a reply to the bot. Every message
gets exactly one answer, nothing it sends can ping anyone or exceed Discord's length limit, and
nothing crashes."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from adapters.discord.translate import strip_mention
from bot import commands
from bot.replies import split_message
from bot.types import Author, ConversationKey, Incoming, Kind
from tests.discord.conftest import Running, discord_settings, serving
from tests.fuzz.loop import LoopHarness
from tests.fuzz.strategies import command_text
from tests.peers.discord_peer import DiscordPeer, PeerUser, Recorded
from tests.support.backends import ScriptedBackend

BOT_ID = 1_100_000_000_000_000_001
MENTIONS = (f"<@{BOT_ID}>", f"<@!{BOT_ID}>")
NO_MENTIONS = {"parse": []}
MAX_LEN = 2000
MAX_CONTENT = 5000
EMPTY_LINE = "Ask me something: the message was empty."
WATCHED_LOGGERS = ("bot", "adapters", "discord", "asyncio")

DISCORD_MARKUP = (
    *MENTIONS,
    "@everyone",
    "@here",
    "<@&123456789012345678>",
    "<@223456789012345678>",
    "<@!223456789012345678>",
    "<#323456789012345678>",
    "<:parley:423456789012345678>",
    "```",
    "```python\n",
    "`",
    "**",
    "||",
    "> ",
    "\n",
    " ",
    "\u200b",
    "/reset",
    "!system x",
    "/model",
    "/help",
    "/stop",
    "/nope",
)
long_run = st.builds(
    lambda unit, times: unit * times, st.text(min_size=1, max_size=30), st.integers(30, 250)
)
"""Text of a few hundred to a few thousand characters, cheap to generate."""
discord_text = st.lists(
    st.one_of(st.text(max_size=40), st.sampled_from(DISCORD_MARKUP), long_run), max_size=12
).map("".join)
addressed_command = st.builds(
    lambda mention, command: mention + command,
    st.sampled_from(["", *(f"{m} " for m in MENTIONS), *MENTIONS]),
    command_text,
)
content = (discord_text | addressed_command).map(lambda text: text[:MAX_CONTENT])
"""What a user types: arbitrary Unicode salted with mentions, markup and command-like words."""
places = st.sampled_from(["guild", "dm", "reply"])


@dataclass
class Turn:
    """One user message and what the bot sent for it."""

    message: dict[str, Any]
    answer: list[dict[str, Any]]
    """The bot's messages in the channel since the user's, as they finally read."""
    writes: list[Recorded]
    model_calls: int


class DiscordHarness(LoopHarness):
    """The peer and the Discord door on their own event loop, for a synchronous hypothesis test."""

    def __init__(self, tmp_path: Path) -> None:
        super().__init__()
        self.peer = DiscordPeer(bot_id=BOT_ID)
        self.general = self.peer.add_channel("general")
        self.alice = self.peer.add_member("Alice")
        self.dm = self.peer.add_dm(self.alice)
        self.backend = ScriptedBackend()
        self.run(self.peer.start())
        self.on_close(self.peer.close)
        config = discord_settings(
            self.peer,
            tmp_path,
            user_turns_per_minute=None,
            conversation_turns_per_minute=None,
            discord_edit_interval=0.2,
        )
        self.running: Running = self.enter(serving(self.peer, config, self.backend))
        opening = self.post(self.general, f"{MENTIONS[0]} hello", mentions=(self.peer.bot,))
        self.bot_message = int(opening.answer[0]["id"])

    def post(
        self,
        channel: int,
        text: str,
        *,
        mentions: tuple[PeerUser, ...] = (),
        reply_to: int | None = None,
    ) -> Turn:
        """Post a message and wait until the bot has answered it and is idle again."""
        return self.run(self._post(channel, text, mentions, reply_to))

    async def _post(
        self, channel: int, text: str, mentions: tuple[PeerUser, ...], reply_to: int | None
    ) -> Turn:
        peer, dialogue = self.peer, self.running.runtime.dialogue
        seen, calls = len(peer.requests), len(self.backend.calls)
        earlier = {m["id"] for m in peer.bot_messages(channel)}
        message = await peer.post_message(
            channel, self.alice, text, mentions=mentions, reply_to=reply_to
        )
        await peer.wait_for(lambda: self.replies_to(message))
        # The turn ends with store writes the peer does not see: no event to wait on.
        while dialogue.in_flight:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        answer = [m for m in peer.bot_messages(channel) if m["id"] not in earlier]
        writes = [w for w in peer.requests[seen:] if w in peer.message_writes()]
        return Turn(message, answer, writes, len(self.backend.calls) - calls)

    def replies_to(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        channel = int(message["channel_id"])
        return [
            m
            for m in self.peer.bot_messages(channel)
            if (m.get("message_reference") or {}).get("message_id") == message["id"]
        ]


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[DiscordHarness]:
    made = DiscordHarness(tmp_path)
    yield made
    made.close()


def command_of(text: str) -> commands.CommandSpec | None:
    incoming = Incoming(
        key=ConversationKey("discord", "dm", "0"),
        author=Author(id="0", name="Alice"),
        text=text,
        event_id="0",
        kind=Kind.MENTION,
    )
    parsed = commands.parse(incoming)
    return parsed[0] if parsed is not None else None


def assert_answered_once(turn: Turn) -> None:
    """One reply to the message, continued in unreferenced messages; all of them safe."""
    assert turn.writes
    for write in turn.writes:
        assert write.body["allowed_mentions"] == NO_MENTIONS, write.body
        assert len(write.body.get("content", "")) <= MAX_LEN  # the buttons edit carries none
    assert [m.get("message_reference", {}).get("message_id") for m in turn.answer] == [
        turn.message["id"]
    ] + [None] * (len(turn.answer) - 1)
    shown = [m["content"] for m in turn.answer]
    text = strip_mention(turn.message["content"], BOT_ID)
    if not text:
        assert shown == [EMPTY_LINE]
        assert turn.model_calls == 0
    elif (spec := command_of(text)) is not None:
        assert shown and all(piece.strip() for piece in shown)
        # Only the commands that ask the model (summarize, translate) may call it, once.
        assert turn.model_calls <= (1 if spec.asks_model else 0)
    else:
        assert shown == split_message(f"echo: {text}", MAX_LEN)
        assert turn.model_calls == 1


def test_any_message_is_answered_once_and_safely(
    harness: DiscordHarness, caplog: pytest.LogCaptureFixture
) -> None:
    peer = harness.peer

    @settings(max_examples=60, deadline=None)
    @given(text=content, place=places)
    @example(text="", place="dm")
    @example(text=f"{MENTIONS[1]} \n ", place="reply")
    @example(text=f"{MENTIONS[0]} @everyone hi", place="guild")
    @example(text="!system x", place="guild")
    @example(text="x" * MAX_CONTENT, place="dm")
    def one_message(text: str, place: str) -> None:
        if place == "guild":
            addressed = text if any(m in text for m in MENTIONS) else f"{MENTIONS[0]} {text}"
            turn = harness.post(harness.general, addressed, mentions=(peer.bot,))
        elif place == "dm":
            turn = harness.post(harness.dm, text)
        else:
            turn = harness.post(harness.general, text, reply_to=harness.bot_message)
        assert_answered_once(turn)

    one_message()
    gc.collect()  # a task that died with an exception is reported when collected
    errors = [
        record
        for record in caplog.records
        if record.levelno >= logging.ERROR and record.name.startswith(WATCHED_LOGGERS)
    ]
    assert not errors, [record.getMessage() for record in errors]
