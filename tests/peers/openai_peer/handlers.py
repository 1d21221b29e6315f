"""The API's endpoints: chat completions (streamed or not, with faults), models, moderations."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from typing import TYPE_CHECKING

from aiohttp import web

from tests.peers.openai_peer import stream
from tests.peers.openai_peer.refusals import tool_protocol_error
from tests.peers.openai_peer.script import CallTools, Fault

if TYPE_CHECKING:
    from tests.peers.openai_peer.peer import OpenAIPeer


def _error(status: int, message: str, kind: str) -> web.Response:
    return web.json_response(
        {"error": {"message": message, "type": kind, "code": None}}, status=status
    )


async def completions(peer: OpenAIPeer, request: web.Request) -> web.StreamResponse:
    body = await request.json()
    peer.requests.append(body)
    fault = peer.faults.popleft() if peer.faults else Fault()
    if fault.hang:
        await asyncio.sleep(fault.hang)
    if fault.status:
        refusal = _error(fault.status, f"peer fault {fault.status}", "peer")
        if fault.retry_after is not None:
            refusal.headers["retry-after"] = str(fault.retry_after)
        return refusal
    refused = tool_protocol_error(body)
    if refused is not None:
        return _error(400, refused, "invalid_request_error")
    text = peer.answer(body)
    if isinstance(text, CallTools):
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        ids = [peer.next_call_id() for _ in text.calls]
        await stream.stream_calls(response, body, text, ids, cached_tokens=peer.cached_tokens)
        return response
    pieces = [text[i : i + peer.chunk_chars] for i in range(0, len(text), peer.chunk_chars)]
    if not body.get("stream"):
        return web.json_response(stream.completion(body, text))
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    with suppress(ConnectionResetError):  # the client went away: a stopped answer
        await stream.stream_text(
            request,
            response,
            body,
            pieces,
            fault,
            delay=peer.chunk_delay,
            cached_tokens=peer.cached_tokens,
        )
    return response


async def models(peer: OpenAIPeer, request: web.Request) -> web.Response:
    peer.model_listings += 1
    data = [
        {"id": name, "object": "model", "created": 0, "owned_by": "peer"} for name in peer.models
    ]
    return web.json_response({"object": "list", "data": data})


async def moderations(peer: OpenAIPeer, request: web.Request) -> web.Response:
    """OpenAI's moderation endpoint: one result per input, flagged by `flagged_words`."""
    body = await request.json()
    texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
    results = []
    for text in texts:
        peer.moderated.append(text)
        hits = {cat for word, cat in peer.flagged_words.items() if word in text}
        categories = {cat: cat in hits for cat in ("violence", "harassment", "self-harm")}
        scores = {cat: 0.99 if hit else 0.01 for cat, hit in categories.items()}
        results.append({"flagged": bool(hits), "categories": categories, "category_scores": scores})
    model = body.get("model", "omni-moderation-latest")
    return web.json_response({"id": "modr-peer", "model": model, "results": results})
