"""What the app did in Slack, as the tests look at it: its Web API calls and the messages they
left."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Call:
    method: str
    params: dict[str, Any]
    at: float
    answer: dict[str, Any] = field(default_factory=dict)
    """What the peer answered (a new message's `ts`, say)."""
    connection: object = None
    """The client's address and port: calls over one kept-alive connection share it."""


@dataclass(slots=True)
class Message:
    channel: str
    ts: str
    text: str
    thread_ts: str | None = None
    markdown: bool = False
    streaming: bool = False
    edits: int = 0
    blocks: list[dict[str, Any]] | None = None


@dataclass(frozen=True, slots=True)
class Ephemeral:
    """A chat.postEphemeral message: only `user` sees it."""

    channel: str
    user: str
    text: str
    thread_ts: str | None = None
