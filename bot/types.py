"""The core's vocabulary: where a conversation lives, who speaks, what they said."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum

DIRECT_MESSAGES = "dm"
"""The space of every direct-message conversation's key (stored keys keep it)."""


@dataclass(frozen=True, slots=True)
class ConversationKey:
    """Where a conversation lives; `str(key)` is stable and is the store key."""

    platform: str
    space: str
    channel: str
    thread: str | None = None
    # A turn hashes its key about 20 times and spells it about 14 (locks, caches, the store's
    # rows): both are worked out once, when the key is made.
    _text: str = field(init=False, repr=False, compare=False)
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parts = [self.platform, self.space, self.channel]
        if self.thread:
            parts.append(self.thread)
        object.__setattr__(self, "_text", ":".join(parts))
        object.__setattr__(
            self, "_hash", hash((self.platform, self.space, self.channel, self.thread))
        )

    def __str__(self) -> str:
        return self._text

    def __hash__(self) -> int:
        return self._hash

    @property
    def parent(self) -> ConversationKey:
        """The channel this conversation is in: itself, or the channel of its thread."""
        if self.thread is None:
            return self
        return ConversationKey(self.platform, self.space, self.channel)

    @property
    def is_direct(self) -> bool:
        """Whether this is a direct-message conversation (its space is DIRECT_MESSAGES)."""
        return self.space == DIRECT_MESSAGES

    @classmethod
    def parse(cls, text: str) -> ConversationKey:
        parts = text.split(":")
        if len(parts) not in (3, 4) or not all(parts):
            raise ValueError(f"not a conversation key: {text!r}")
        return cls(*parts)


@dataclass(frozen=True, slots=True)
class Author:
    """Who spoke. `roles` are platform role ids; `is_admin` is the platform's own admin right."""

    id: str
    name: str
    is_bot: bool = False
    roles: frozenset[str] = frozenset()
    is_admin: bool = False
    locale: str | None = None
    """Their language as the platform tells it (`fr-FR`), when it does."""
    time_zone: str | None = None
    """Their IANA time zone (`America/Los_Angeles`) as the platform tells it, when it does (an
    unknown name is read as UTC)."""


class Kind(StrEnum):
    MENTION = "mention"
    DM = "dm"
    THREAD = "thread"
    COMMAND = "command"
    CLICK = "click"
    """A button press: judged by the allowlists like a message from its presser, never answered."""


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a message: text is inlined into the prompt, images go by URL."""

    name: str
    content_type: str
    text: str | None = None
    image_url: str | None = None


@dataclass(frozen=True, slots=True)
class HistoryMessage:
    """A message read back from a place's history, for a summary."""

    id: str
    author: str
    text: str
    at: float
    """Unix time it was sent."""
    link: str
    """The platform's own link to it."""


History = Callable[[float, int], AsyncGenerator[HistoryMessage, None]]
"""A place's messages sent since a time, newest first, at most a number of them: read once."""

Missed = Callable[[bool], Awaitable[tuple["ChatMessage", ...]]]
"""What was said before an event that Parley did not see (a thread it joins, the chain a reply
continues); given whether this is Parley's first turn in the conversation."""

Files = Callable[[], Awaitable[tuple[Attachment, ...]]]
"""An event's files, fetched and read by the door's rules (which tell the asker what was left
out)."""


@dataclass(frozen=True, slots=True)
class Incoming:
    """One platform event, already translated by an adapter."""

    key: ConversationKey
    author: Author
    text: str
    event_id: str
    kind: Kind
    command: str | None = None
    args: str = ""
    attachments: tuple[Attachment, ...] = ()
    prior: tuple[ChatMessage, ...] = ()
    """Messages from before Parley was addressed here (a thread it joins), stored first."""
    home: str | None = None
    """The workspace or server the event came from when its key does not say (a direct message's
    key has the space DIRECT_MESSAGES), as the door found it; None when not known."""
    history: History | None = field(default=None, compare=False)
    """How to read the place a summary is asked about, or the place a turn is in (for the
    place.recent tool); None: no history to read. Nothing is read until it is called."""
    missed: Missed | None = field(default=None, compare=False)
    """How to read what Parley missed here; the core calls it once its claim on the event won,
    and stores the result before the question (as `prior`)."""
    files: Files | None = field(default=None, compare=False)
    """How to fetch the event's files; the core calls it once its claim won (as `attachments`)."""

    @property
    def space(self) -> str | None:
        """The workspace or server this event is judged and budgeted by; None when unknown."""
        if not self.key.is_direct:
            return self.key.space
        return self.home or None


class Role(StrEnum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"
    """A tool's answer to one of the assistant's tool calls (`tool_call_id` names which)."""


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One call the model asked for: `name` as the model sees it (`server.tool`), `arguments`
    the JSON text it wrote (not parsed: the model may write bad JSON)."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """A message in the chat-completion format, as stored. `author_id` ties a turn to its asker."""

    role: Role
    content: str
    name: str | None = None
    author_id: str | None = None
    tokens: int = 0
    created_at: float = field(default_factory=time.time)
    images: tuple[str, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    """An assistant message's calls; every one is answered by a TOOL message before the next
    user message."""
    tool_call_id: str | None = None
    """A TOOL message's call."""

    def with_tokens(self, tokens: int) -> ChatMessage:
        """The same message with its token count (cheaper than dataclasses.replace per turn)."""
        return ChatMessage(
            self.role,
            self.content,
            self.name,
            self.author_id,
            tokens,
            self.created_at,
            self.images,
            self.tool_calls,
            self.tool_call_id,
        )


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int
    """Every prompt token, cached ones included."""
    output_tokens: int
    cached_input_tokens: int = 0
    """Prompt tokens the server read from its cache (priced lower), where it reports them."""


@dataclass(frozen=True, slots=True)
class Delta:
    """A piece of a streamed answer; the last one carries the finish reason and usage."""

    text: str
    finish_reason: str | None = None
    usage: Usage | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    """The step's assembled tool calls, on the delta whose finish reason is "tool_calls"."""
    status: str | None = None
    """A passing line shown after the text so far (a tool at work), never part of the answer;
    the next text replaces it."""


@dataclass(frozen=True, slots=True)
class ConversationSettings:
    """Per-conversation overrides; None means the configured default."""

    system_prompt: str | None = None
    model: str | None = None


@dataclass(frozen=True, slots=True)
class ConversationStats:
    turns: int = 0
    messages: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
