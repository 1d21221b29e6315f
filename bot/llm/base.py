"""The Backend protocol every model source implements, and the errors it may raise."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from bot.types import ChatMessage, Delta


class FailureKind(StrEnum):
    RATE_LIMITED = "rate_limited"
    CONTEXT_TOO_LONG = "context_too_long"
    AUTH = "auth"
    UNAVAILABLE = "unavailable"
    TIMEOUT = "timeout"
    BAD_REQUEST = "bad_request"
    INTERRUPTED = "interrupted"


USER_MESSAGES: dict[FailureKind, str] = {
    FailureKind.RATE_LIMITED: "The model is rate limited right now; please try again in a minute.",
    FailureKind.CONTEXT_TOO_LONG: "That is too long for the model: try `reset`, or say less.",
    FailureKind.AUTH: "The model refused our credentials; an operator needs to fix the API key.",
    FailureKind.UNAVAILABLE: "The model is unavailable right now; please try again shortly.",
    FailureKind.TIMEOUT: "The model took too long to answer; please try again.",
    FailureKind.BAD_REQUEST: "The model could not take that request.",
    FailureKind.INTERRUPTED: "The answer was cut off by the model server.",
}


class BackendError(Exception):
    """A failed model call, classified so the user gets one short line."""

    def __init__(self, kind: FailureKind, detail: str = "", retry_after: float | None = None):
        super().__init__(f"{kind}: {detail}" if detail else str(kind))
        self.kind = kind
        self.detail = detail
        self.retry_after = retry_after

    @property
    def user_message(self) -> str:
        return USER_MESSAGES[self.kind]


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool offered to the model: `name` as the core knows it (`server.tool`; a backend maps it
    to what its wire format allows), `parameters` a JSON Schema object."""

    name: str
    description: str
    parameters: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class GenerationOptions:
    model: str
    max_tokens: int
    temperature: float
    tools: tuple[ToolSpec, ...] = ()
    """Offered only to backends whose capabilities say `tools`."""


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a backend can do and how its turns are priced: the core reads these flags instead of
    asking which backend it is. The defaults assume nothing a backend has not said."""

    streams: bool = True
    """The answer arrives as it is written, not in one piece at the end."""
    vision: bool = False
    """Images in user messages reach the model (else they are left out of its prompt)."""
    tools: bool = False
    """`options.tools` reach the model (else no tools are offered)."""
    reasoning: bool = False
    """It may serve reasoning models, which think before answering at their own temperature."""
    context_window_known: bool = False
    """`context_window()` is the model's own (else a guess: PARLEY_CONTEXT_WINDOW says better)."""
    switches_models: bool = True
    """A conversation may move to another model (the `model` command, the budget fallback);
    False for a backend that holds one model in memory."""
    listed_prices: bool = False
    """Its models are priced from the maintained price table (else free unless priced in TOML)."""
    price_provider: str | None = None
    """The provider to look its models up under in that table; None: any that lists the name."""


class Backend(Protocol):
    """A source of streamed chat completions."""

    capabilities: Capabilities

    def stream(
        self, messages: Sequence[ChatMessage], options: GenerationOptions
    ) -> AsyncGenerator[Delta, None]:
        """Yield the answer as it is produced; raise BackendError on failure."""
        ...

    def count_tokens(self, messages: Sequence[ChatMessage], model: str) -> int:
        """Tokens these messages take in the prompt (an upper estimate when unsure)."""
        ...

    def context_window(self, model: str) -> int: ...

    async def ping(self) -> None:
        """Raise BackendError when the backend cannot serve (used by readiness and doctor)."""
        ...

    async def aclose(self) -> None: ...
