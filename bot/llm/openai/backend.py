"""OpenAI's API and every OpenAI-compatible server (vLLM, Ollama, LM Studio, Azure-style)."""

from __future__ import annotations

import email.utils
import logging
import math
import re
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

import httpx2
import openai

from bot.llm import sse
from bot.llm.base import BackendError, Capabilities, FailureKind, GenerationOptions
from bot.llm.tokens import TokenCounter
from bot.tools.names import core_names, function_schema, wire_name
from bot.types import ChatMessage, Delta, Role, ToolCall, Usage

log = logging.getLogger(__name__)

DEFAULT_MODEL = "gpt-4o-mini"
UNKNOWN_MODEL_WINDOW = 8192
_WINDOWS = (  # longest prefix first wins
    ("gpt-4.1", 1_047_576),
    ("gpt-5", 400_000),
    ("gpt-4o", 128_000),
    ("gpt-4-turbo", 128_000),
    ("o1", 200_000),
    ("o3", 200_000),
    ("o4", 200_000),
    ("gpt-4", 8_192),
    ("gpt-3.5-turbo", 16_385),
)
_REASONING_MODELS = ("o1", "o3", "o4", "gpt-5")
"""Models that accept only their default temperature."""
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def _reasons(model: str) -> bool:
    return model.startswith(_REASONING_MODELS)


def capabilities(*, official: bool) -> Capabilities:
    """What OpenAI (`official`) or a compatible server can do, and how their models are priced."""
    return Capabilities(
        vision=True,
        tools=True,
        reasoning=True,
        # OpenAI's own models are in the window table; a compatible server's are guessed.
        context_window_known=official,
        listed_prices=True,
        price_provider="openai" if official else None,
    )


def window_for(model: str) -> int:
    for prefix, window in _WINDOWS:
        if model.startswith(prefix):
            return window
    return UNKNOWN_MODEL_WINDOW


class OpenAIBackend:
    """Streams chat completions with the official client, which retries 429/5xx and timeouts."""

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None,
        timeout: float,
        max_retries: int,
        name_field: bool,
    ) -> None:
        self._client = openai.AsyncOpenAI(
            # Local servers want no key, but the client insists on one.
            api_key=api_key or "unused",
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            http_client=openai.DefaultAioHttpClient(),
        )
        self._official = base_url is None
        self.capabilities = capabilities(official=self._official)
        self._name_field = name_field
        self._tokens = TokenCounter()

    async def stream(
        self, messages: Sequence[ChatMessage], options: GenerationOptions
    ) -> AsyncGenerator[Delta, None]:
        limit = "max_completion_tokens" if self._official else "max_tokens"
        sampling = {} if _reasons(options.model) else {"temperature": options.temperature}
        offered = core_names(options.tools)
        tooling = (
            {"tools": [function_schema(tool) for tool in options.tools]} if options.tools else {}
        )
        body = {
            "messages": [self._payload(message) for message in messages],
            "stream_options": {"include_usage": True},
            limit: options.max_tokens,
            **sampling,
            **tooling,
        }
        request = self._client.chat.completions.with_streaming_response.create(
            model=options.model,
            stream=True,
            # The body goes as it is: the client's per-call transform of its parameters walks
            # every message against its TypedDicts (about 0.4 ms of CPU a message, each turn)
            # and leaves these plain payloads unchanged.
            messages=(),
            extra_body=body,
        )
        finish_reason: str | None = None
        calls = _CallParts()
        streaming = False
        try:
            # The raw stream, read by bot.llm.sse: the client still sends, retries and times out
            # the request, but builds no pydantic model per chunk.
            async with request as response:
                streaming = True
                async for chunk in sse.events(response.iter_bytes()):
                    if not isinstance(chunk, dict):
                        raise ValueError(f"a stream chunk that is not an object: {chunk!r:.80}")
                    if chunk.get("error"):
                        raise BackendError(FailureKind.INTERRUPTED, _stream_error(chunk["error"]))
                    for choice in chunk.get("choices") or ():
                        finish_reason = choice.get("finish_reason") or finish_reason
                        delta = choice.get("delta") or {}
                        if delta.get("content"):
                            yield Delta(delta["content"])
                        for part in delta.get("tool_calls") or ():
                            calls.add(part)
                    if chunk.get("usage"):
                        yield Delta("", finish_reason=finish_reason, usage=_usage(chunk["usage"]))
        except openai.APIError as error:
            if not streaming:
                raise _classify(error) from error
            raise BackendError(FailureKind.INTERRUPTED, str(error)) from error
        # The connection dropped, timed out or the stream was garbled.
        except (httpx2.HTTPError, OSError, ValueError) as error:
            raise BackendError(FailureKind.INTERRUPTED, repr(error)) from error
        if finish_reason is None:
            raise BackendError(FailureKind.INTERRUPTED, "the stream ended without a finish reason")
        if calls:
            yield Delta("", finish_reason=finish_reason, tool_calls=calls.assembled(offered))

    def count_tokens(self, messages: Sequence[ChatMessage], model: str) -> int:
        return self._tokens.count(messages, model)

    def context_window(self, model: str) -> int:
        return window_for(model)

    async def served_models(self) -> list[str]:
        """The model ids the server offers (raises BackendError when it cannot be asked)."""
        try:
            return [model.id async for model in self._client.models.list()]
        except openai.APIError as error:
            raise _classify(error) from error

    async def ping(self) -> None:
        await self.served_models()

    async def aclose(self) -> None:
        await self._client.close()

    def _payload(self, message: ChatMessage) -> dict[str, Any]:
        content: Any = message.content
        if message.role is Role.USER and message.name and not self._name_field:
            content = f"{message.name}: {content}"
        if message.images:
            content = [
                {"type": "text", "text": content},
                *({"type": "image_url", "image_url": {"url": url}} for url in message.images),
            ]
        payload: dict[str, Any] = {"role": str(message.role), "content": content}
        if message.role is Role.USER and message.name and self._name_field:
            payload["name"] = _NAME_UNSAFE.sub("_", message.name)[:64] or "user"
        if message.tool_calls:
            payload["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": wire_name(call.name), "arguments": call.arguments},
                }
                for call in message.tool_calls
            ]
        if message.tool_call_id is not None:
            payload["tool_call_id"] = message.tool_call_id
        return payload


class _CallParts:
    """Streamed tool calls put together: each arrives by index, first with its id and name, then
    as fragments of its arguments."""

    def __init__(self) -> None:
        self._parts: dict[int, list[str]] = {}

    def __bool__(self) -> bool:
        return bool(self._parts)

    def add(self, part: dict[str, Any]) -> None:
        call = self._parts.setdefault(part["index"], ["", "", ""])
        if part.get("id"):
            call[0] = part["id"]
        function = part.get("function") or {}
        call[1] += function.get("name") or ""
        call[2] += function.get("arguments") or ""

    def assembled(self, offered: Mapping[str, str]) -> tuple[ToolCall, ...]:
        """The calls, in index order, named as the core knows them (an unknown name is kept, and
        refused by the tool loop)."""
        return tuple(
            ToolCall(call_id or f"call_{index}", offered.get(name, name), arguments or "{}")
            for index, (call_id, name, arguments) in sorted(self._parts.items())
        )


def _usage(usage: dict[str, Any]) -> Usage:
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    return Usage(usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0, cached)


def _stream_error(error: Any) -> str:
    """What a server said when it ended a stream with an error (as the openai client reads it)."""
    message = error.get("message") if isinstance(error, dict) else None
    return message if isinstance(message, str) and message else "An error occurred during streaming"


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds a 429 asks to wait: `retry-after-ms`, else `retry-after` in seconds or as a date."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        with suppress(TypeError, ValueError):
            seconds = float(headers.get(name))  # type: ignore[arg-type]
            if math.isfinite(seconds):
                return max(0.0, seconds * scale)
    with suppress(TypeError, ValueError):
        when = email.utils.parsedate_to_datetime(headers.get("retry-after", ""))
        return max(0.0, (when - datetime.now(UTC)).total_seconds())
    return None


def _classify(error: openai.APIError) -> BackendError:
    detail = str(error)
    if isinstance(error, openai.APITimeoutError):
        return BackendError(FailureKind.TIMEOUT, detail)
    if isinstance(error, openai.APIConnectionError):
        return BackendError(FailureKind.UNAVAILABLE, detail)
    if isinstance(error, openai.RateLimitError):
        return BackendError(
            FailureKind.RATE_LIMITED, detail, retry_after=retry_after(error.response.headers)
        )
    if isinstance(error, openai.AuthenticationError | openai.PermissionDeniedError):
        return BackendError(FailureKind.AUTH, detail)
    if isinstance(error, openai.BadRequestError):
        if error.code == "context_length_exceeded" or "context" in detail.lower():
            return BackendError(FailureKind.CONTEXT_TOO_LONG, detail)
        return BackendError(FailureKind.BAD_REQUEST, detail)
    if isinstance(error, openai.APIStatusError) and error.status_code < 500:
        return BackendError(FailureKind.BAD_REQUEST, detail)
    return BackendError(FailureKind.UNAVAILABLE, detail)
