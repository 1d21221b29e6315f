"""An OpenAI-compatible server on 127.0.0.1 streaming SSE like the real API, faults on demand."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.peers import serve_on_loopback


def echo_answer(request: dict[str, Any]) -> str:
    """Repeat the last user message, so tests can see what reached the model."""
    last = request["messages"][-1]["content"]
    if isinstance(last, list):
        last = " ".join(part.get("text", "") for part in last)
    return f"echo: {last}"


@dataclass(frozen=True)
class CallTools:
    """An answer that is tool calls: (wire function name, arguments) each, streamed as OpenAI
    does (index, id and name first, then argument fragments), ending with "tool_calls"."""

    calls: tuple[tuple[str, dict[str, Any]], ...]


_FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def tool_protocol_error(body: dict[str, Any]) -> str | None:
    """What OpenAI would refuse in a request's tools and messages: a bad function name, a tool
    call not answered by a `tool` message before the next other message, a stray tool message."""
    for tool in body.get("tools") or ():
        if tool.get("type") != "function" or not _FUNCTION_NAME.match(tool["function"]["name"]):
            return f"Invalid 'tools': {tool!r}"
    unanswered: set[str] = set()
    for message in body["messages"]:
        if message["role"] == "tool":
            if message.get("tool_call_id") not in unanswered:
                return "Messages with role 'tool' must be a response to a preceding 'tool_calls'"
            unanswered.discard(message["tool_call_id"])
            continue
        if unanswered:
            return (
                "An assistant message with 'tool_calls' must be followed by tool messages "
                "responding to each 'tool_call_id'"
            )
        for call in message.get("tool_calls") or ():
            if not _FUNCTION_NAME.match(call["function"]["name"]):
                return f"Invalid function name {call['function']['name']!r}"
            unanswered.add(call["id"])
    return None


@dataclass
class Fault:
    """What the next request meets: an HTTP status, a hang, or a stream cut after some chunks."""

    status: int | None = None
    retry_after: float | None = None
    hang: float | None = None
    cut_after_chunks: int | None = None
    error_after_chunks: int | None = None
    """Then an error event, as OpenAI ends a stream that fails on its side."""


@dataclass
class OpenAIPeer:
    answer: Callable[[dict[str, Any]], str | CallTools] = echo_answer
    chunk_chars: int = 4
    chunk_delay: float = 0.0
    models: tuple[str, ...] = ("peer-model",)
    requests: list[dict[str, Any]] = field(default_factory=list)
    faults: deque[Fault] = field(default_factory=deque)
    cached_tokens: int = 0
    flagged_words: dict[str, str] = field(default_factory=lambda: {"FLAGME": "violence"})
    """Moderation: a text containing a word is flagged for its category."""
    moderated: list[str] = field(default_factory=list)
    """Every text /v1/moderations was asked about."""
    """Prompt tokens every streamed answer reports as read from the cache."""
    model_listings: int = 0
    """How many GET /v1/models requests arrived (readiness probes, model discovery)."""
    calls_made: int = 0
    """Tool calls issued so far (each gets the id call_N)."""
    _runner: web.AppRunner | None = None
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def start(self) -> OpenAIPeer:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._completions)
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/moderations", self._moderations)
        # A hanging request (Fault.hang) must not hold up the peer's own shutdown.
        self._runner, self.port = await serve_on_loopback(app, shutdown_timeout=0.5)
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _moderations(self, request: web.Request) -> web.Response:
        """OpenAI's moderation endpoint: one result per input, flagged by `flagged_words`."""
        body = await request.json()
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        results = []
        for text in texts:
            self.moderated.append(text)
            hits = {cat for word, cat in self.flagged_words.items() if word in text}
            categories = {cat: cat in hits for cat in ("violence", "harassment", "self-harm")}
            scores = {cat: 0.99 if hit else 0.01 for cat, hit in categories.items()}
            results.append(
                {"flagged": bool(hits), "categories": categories, "category_scores": scores}
            )
        model = body.get("model", "omni-moderation-latest")
        return web.json_response({"id": "modr-peer", "model": model, "results": results})

    async def _models(self, request: web.Request) -> web.Response:
        self.model_listings += 1
        data = [
            {"id": name, "object": "model", "created": 0, "owned_by": "peer"}
            for name in self.models
        ]
        return web.json_response({"object": "list", "data": data})

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        fault = self.faults.popleft() if self.faults else Fault()
        if fault.hang:
            await asyncio.sleep(fault.hang)
        if fault.status:
            headers = (
                {"retry-after": str(fault.retry_after)} if fault.retry_after is not None else {}
            )
            error = {
                "error": {"message": f"peer fault {fault.status}", "type": "peer", "code": None}
            }
            return web.json_response(error, status=fault.status, headers=headers)
        refused = tool_protocol_error(body)
        if refused is not None:
            error = {"error": {"message": refused, "type": "invalid_request_error", "code": None}}
            return web.json_response(error, status=400)
        text = self.answer(body)
        if isinstance(text, CallTools):
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)
            await self._stream_calls(response, body, text)
            return response
        pieces = [text[i : i + self.chunk_chars] for i in range(0, len(text), self.chunk_chars)]
        if not body.get("stream"):
            return web.json_response(_completion(body, text))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        with suppress(ConnectionResetError):  # the client went away: a stopped answer
            await self._stream(request, response, body, pieces, fault)
        return response

    async def _stream(
        self,
        request: web.Request,
        response: web.StreamResponse,
        body: dict[str, Any],
        pieces: list[str],
        fault: Fault,
    ) -> None:
        for index, piece in enumerate(pieces):
            if fault.cut_after_chunks is not None and index == fault.cut_after_chunks:
                request.transport.close()  # type: ignore[union-attr]
                return
            if fault.error_after_chunks is not None and index == fault.error_after_chunks:
                error = {"message": "The server had an error while processing your request."}
                await _send(response, {"error": {**error, "type": "server_error"}})
                await response.write_eof()
                return
            if self.chunk_delay:
                await asyncio.sleep(self.chunk_delay)
            await _send(response, _chunk(body, {"content": piece}, None))
        await _send(response, _chunk(body, {}, "stop"))
        await self._end(response, body, len(pieces))

    async def _stream_calls(
        self, response: web.StreamResponse, body: dict[str, Any], answer: CallTools
    ) -> None:
        for index, (name, arguments) in enumerate(answer.calls):
            self.calls_made += 1
            start = {"index": index, "id": f"call_{self.calls_made}", "type": "function"}
            start["function"] = {"name": name, "arguments": ""}
            await _send(response, _chunk(body, {"role": "assistant", "tool_calls": [start]}, None))
            text = json.dumps(arguments)
            for cut in range(0, len(text), 5):
                part = {"index": index, "function": {"arguments": text[cut : cut + 5]}}
                await _send(response, _chunk(body, {"tool_calls": [part]}, None))
        await _send(response, _chunk(body, {}, "tool_calls"))
        await self._end(response, body, len(answer.calls))

    async def _end(self, response: web.StreamResponse, body: dict[str, Any], pieces: int) -> None:
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = {
                "prompt_tokens": sum(len(str(m["content"])) // 4 + 4 for m in body["messages"]),
                "completion_tokens": pieces,
                "total_tokens": 0,
                "prompt_tokens_details": {"cached_tokens": self.cached_tokens},
            }
            await _send(response, {**_chunk(body, {}, None), "choices": [], "usage": usage})
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()


async def _send(response: web.StreamResponse, payload: dict[str, Any]) -> None:
    await response.write(f"data: {json.dumps(payload)}\n\n".encode())


def _chunk(body: dict[str, Any], delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-peer",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body["model"],
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _completion(body: dict[str, Any], text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-peer",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body["model"],
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
