"""Chat completions on the wire: server-sent event chunks of text or tool calls, the usage
chunk when asked for, and the non-streamed completion."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from aiohttp import web

from tests.peers.openai_peer.script import CallTools, Fault


async def send(response: web.StreamResponse, payload: dict[str, Any]) -> None:
    await response.write(f"data: {json.dumps(payload)}\n\n".encode())


def chunk(body: dict[str, Any], delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-peer",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body["model"],
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def completion(body: dict[str, Any], text: str) -> dict[str, Any]:
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


async def stream_text(
    request: web.Request,
    response: web.StreamResponse,
    body: dict[str, Any],
    pieces: list[str],
    fault: Fault,
    *,
    delay: float,
    cached_tokens: int,
) -> None:
    """The pieces one chunk each, `delay` apart, unless the fault cuts or fails the stream."""
    for index, piece in enumerate(pieces):
        if fault.cut_after_chunks is not None and index == fault.cut_after_chunks:
            request.transport.close()  # type: ignore[union-attr]
            return
        if fault.error_after_chunks is not None and index == fault.error_after_chunks:
            error = {"message": "The server had an error while processing your request."}
            await send(response, {"error": {**error, "type": "server_error"}})
            await response.write_eof()
            return
        if delay:
            await asyncio.sleep(delay)
        await send(response, chunk(body, {"content": piece}, None))
    await send(response, chunk(body, {}, "stop"))
    await end(response, body, len(pieces), cached_tokens)


async def stream_calls(
    response: web.StreamResponse,
    body: dict[str, Any],
    answer: CallTools,
    call_ids: list[str],
    *,
    cached_tokens: int,
) -> None:
    """Each tool call (with its id from `call_ids`): its name, then its arguments in pieces."""
    for index, ((name, arguments), call_id) in enumerate(zip(answer.calls, call_ids, strict=True)):
        start = {"index": index, "id": call_id, "type": "function"}
        start["function"] = {"name": name, "arguments": ""}
        await send(response, chunk(body, {"role": "assistant", "tool_calls": [start]}, None))
        text = json.dumps(arguments)
        for cut in range(0, len(text), 5):
            part = {"index": index, "function": {"arguments": text[cut : cut + 5]}}
            await send(response, chunk(body, {"tool_calls": [part]}, None))
    await send(response, chunk(body, {}, "tool_calls"))
    await end(response, body, len(answer.calls), cached_tokens)


async def end(
    response: web.StreamResponse, body: dict[str, Any], pieces: int, cached_tokens: int
) -> None:
    """The usage chunk when the request asked for it, then [DONE]."""
    if (body.get("stream_options") or {}).get("include_usage"):
        usage = {
            "prompt_tokens": sum(len(str(m["content"])) // 4 + 4 for m in body["messages"]),
            "completion_tokens": pieces,
            "total_tokens": 0,
            "prompt_tokens_details": {"cached_tokens": cached_tokens},
        }
        await send(response, {**chunk(body, {}, None), "choices": [], "usage": usage})
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
