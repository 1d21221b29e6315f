"""`parley lines`: Parley on a local TCP socket. A client sends its name on the first line,
then one message per line; each message gets one line back (newlines in it written as \\n)."""

from __future__ import annotations

import argparse
import asyncio
import uuid
from typing import TYPE_CHECKING

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from bot.access import AccessPolicy
from bot.config import ConfigError, Settings
from bot.settings_base import SettingsModel, StrList
from bot.types import Author, ConversationKey, Incoming, Kind

if TYPE_CHECKING:
    from bot.wiring import Runtime

NAME = "lines"
NO_ANSWER = "(no answer)"


class LinesSettings(SettingsModel):
    """`[lines]` in the config file; PARLEY_LINES_<FIELD> in the environment."""

    model_config = SettingsConfigDict(env_prefix="PARLEY_LINES_")

    port: int | None = Field(None, ge=1, le=65535)
    """The TCP port the door listens on (unset: the door is off)."""
    host: str = "127.0.0.1"
    """The address it listens on."""
    users: StrList = Field(default_factory=list)
    """Names allowed to talk to Parley (empty: everyone)."""


class LineSink:
    """One answer as one line: only the final text (or the failure) is written."""

    max_len = 1_000_000
    min_edit_interval = 3600.0

    def __init__(self) -> None:
        self.line: str | None = None

    async def start(self) -> None:
        return None

    async def update(self, text: str) -> None:
        return None

    async def finish(self, text: str) -> None:
        self.line = text

    async def fail(self, message: str) -> None:
        self.line = message


class LinesAdapter:
    summary = "answer one line per message on a local TCP socket"
    uses_http_server = False
    chatty_loggers = ()
    settings_model = LinesSettings

    def access_policy(self, settings: Settings) -> AccessPolicy:
        return AccessPolicy(users=frozenset(settings.of(LinesSettings).users))

    def is_configured(self, settings: Settings) -> bool:
        return settings.of(LinesSettings).port is not None

    def check_settings(self, settings: Settings) -> None:
        if not self.is_configured(settings):
            raise ConfigError("PARLEY_LINES_PORT is not set: choose the port to listen on")

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        return None

    def run_offline(self, settings: Settings, args: argparse.Namespace) -> int | None:
        return None

    async def diagnose(self, settings: Settings) -> list[str]:
        lines = settings.of(LinesSettings)
        try:
            server = await asyncio.start_server(lambda r, w: None, lines.host, lines.port)
        except OSError as error:
            where = f"{lines.host}:{lines.port}"
            return [f"cannot listen on {where} ({error.strerror}): fix PARLEY_LINES_PORT"]
        server.close()
        return []

    async def run(self, runtime: Runtime, args: argparse.Namespace) -> int:
        await self.serve(runtime)
        return 0

    async def serve(self, runtime: Runtime) -> None:
        lines = runtime.settings.of(LinesSettings)

        async def talk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            name = (await reader.readline()).decode().strip()
            author = Author(id=name, name=name)
            key = ConversationKey(NAME, "local", name)
            while line := (await reader.readline()).decode().strip():
                incoming = Incoming(key, author, line, uuid.uuid4().hex, Kind.DM)
                sink = LineSink()
                await runtime.dialogue.handle(incoming, sink)
                writer.write((sink.line or NO_ANSWER).replace("\n", "\\n").encode() + b"\n")
                await writer.drain()
            writer.close()

        async with await asyncio.start_server(talk, lines.host, lines.port) as server:
            await server.serve_forever()


adapter = LinesAdapter()
