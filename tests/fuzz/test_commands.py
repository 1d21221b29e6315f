"""Any text, command-like or not, through the real DialogueManager: exactly one reply, no crash."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import commands
from bot.config import Settings
from bot.dialogue import INTERNAL_ERROR
from bot.types import Author, ConversationKey, Incoming, Kind
from bot.wiring import Runtime, open_runtime
from tests.fuzz.loop import LoopHarness
from tests.fuzz.strategies import FUZZ, chat_text, command_text
from tests.support.backends import ScriptedBackend

conversations = st.sampled_from(["c1", "c2", "c3"])
authors = st.builds(
    Author, id=st.sampled_from(["u1", "u2"]), name=st.just("Ann"), is_admin=st.booleans()
)


@dataclass
class EndingsSink:
    """Records how an answer ended: ("finish", text) or ("fail", line), as many times as told."""

    max_len: int = 2000
    min_edit_interval: float = 0.0
    endings: list[tuple[str, str]] = field(default_factory=list)

    async def start(self) -> None:
        return None

    async def update(self, text: str) -> None:
        return None

    async def finish(self, text: str) -> None:
        self.endings.append(("finish", text))

    async def fail(self, message: str) -> None:
        self.endings.append(("fail", message))


class Harness(LoopHarness):
    """One runtime on its own event loop, so a synchronous hypothesis test can drive it."""

    def __init__(self, tmp_path: Path) -> None:
        super().__init__()
        config = Settings(
            data_dir=tmp_path,
            user_turns_per_minute=None,
            conversation_turns_per_minute=None,
            shutdown_grace_seconds=5,
        )
        self.runtime: Runtime = self.enter(open_runtime(config, backend=ScriptedBackend()))

    def handle(self, incoming: Incoming) -> list[tuple[str, str]]:
        sink = EndingsSink()
        self.run(self.runtime.dialogue.handle(incoming, sink))
        return sink.endings


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    made = Harness(tmp_path)
    yield made
    made.close()


def assert_one_clean_ending(endings: list[tuple[str, str]]) -> None:
    assert len(endings) == 1, endings
    assert endings[0] != ("fail", INTERNAL_ERROR)


def errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.levelno >= logging.ERROR]


def test_any_message_text_gets_exactly_one_reply(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    @settings(**FUZZ)
    @given(text=command_text | chat_text, conversation=conversations, author=authors)
    def one_turn(text: str, conversation: str, author: Author) -> None:
        incoming = Incoming(
            key=ConversationKey("fuzz", "space", conversation),
            author=author,
            text=text,
            event_id=uuid.uuid4().hex,
            kind=Kind.MENTION,
        )
        parsed = commands.parse(incoming)
        assert parsed is None or parsed[0] in commands.SPECS.values()
        assert_one_clean_ending(harness.handle(incoming))

    one_turn()
    assert not errors(caplog)


def test_any_slash_command_gets_exactly_one_reply(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    @settings(**FUZZ)
    @given(
        command=st.sampled_from([*commands.SPECS, "Reset", "unknown"]) | st.text(max_size=10),
        args=chat_text,
        conversation=conversations,
        author=authors,
    )
    def one_command(command: str, args: str, conversation: str, author: Author) -> None:
        incoming = Incoming(
            key=ConversationKey("fuzz", "space", conversation),
            author=author,
            text=f"/{command} {args}",
            event_id=uuid.uuid4().hex,
            kind=Kind.COMMAND,
            command=command,
            args=args,
        )
        assert_one_clean_ending(harness.handle(incoming))

    one_command()
    assert not errors(caplog)
