"""Tool calling end to end: the DialogueManager, the SQLite store, the real openai client and the
OpenAI peer issuing tool calls (single, parallel, several steps), approvals and the place policy."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import openai
import pytest

from bot.config import Settings
from bot.llm.base import GenerationOptions, ToolSpec
from bot.replies import ApprovalOutcome, ApprovalRequest
from bot.store.base import AuditQuery
from bot.tools.approvals import NOT_THE_ASKER, Approvals
from bot.tools.base import CallContext, Tool
from bot.tools.names import wire_name
from bot.wiring import open_runtime
from tests.peers.openai_peer import CallTools
from tests.support.backends import ScriptedBackend
from tests.support.events import message
from tests.support.sinks import RecordingSink

NOW = wire_name("time.now")
BOOK = wire_name("desk.book")


def calls_then_answers(*steps: tuple[tuple[str, dict[str, Any]], ...]):
    """A peer script: each step's calls in turn, then an answer quoting the tool results."""

    def answer(body: dict[str, Any]) -> str | CallTools:
        messages = body["messages"]
        done = sum(1 for m in messages[_last_user(messages) :] if m.get("tool_calls"))
        if done < len(steps) and body.get("tools"):
            return CallTools(steps[done])
        results = [m["content"] for m in messages[_last_user(messages) :] if m["role"] == "tool"]
        return "found: " + " | ".join(results) if results else "no tools this time"

    return answer


def _last_user(messages: list[dict[str, Any]]) -> int:
    return max(i for i, m in enumerate(messages) if m["role"] == "user")


@dataclass
class Desk:
    """An acting test tool: books a desk, recording each booking."""

    booked: list[Mapping[str, Any]] = field(default_factory=list)
    name: str = "desk"

    async def _book(self, arguments: Mapping[str, Any], context: CallContext) -> str:
        self.booked.append(arguments)
        return f"booked desk {arguments.get('desk')}"

    def tools(self) -> list[Tool]:
        spec = ToolSpec("desk.book", "Book a desk", {"type": "object", "properties": {}})
        return [Tool(spec, "desk", acting=True, run=self._book)]


@dataclass
class ApprovingSink(RecordingSink):
    """A sink with Approve/Deny controls; `answer` clicks them (or not) when asked."""

    asked: list[ApprovalRequest] = field(default_factory=list)
    settled: list[tuple[ApprovalOutcome, str | None]] = field(default_factory=list)
    asked_event: asyncio.Event = field(default_factory=asyncio.Event)

    async def ask_approval(self, request: ApprovalRequest) -> None:
        self.asked.append(request)
        self.asked_event.set()

    async def settle_approval(
        self, request: ApprovalRequest, outcome: ApprovalOutcome, by: str | None
    ) -> None:
        self.settled.append((outcome, by))


async def test_a_question_is_answered_with_a_tools_result_and_remembered(
    peer_settings, openai_peer
):
    openai_peer.answer = calls_then_answers(((NOW, {"timezone": "Europe/Paris"}),))
    async with open_runtime(peer_settings) as runtime:
        sink = RecordingSink()
        await runtime.dialogue.handle(message("what time is it?"), sink)
        openai_peer.answer = calls_then_answers()
        await runtime.dialogue.handle(message("and what did you find?"), RecordingSink())
        audit = await runtime.store.tool_calls(AuditQuery())
    assert sink.final.startswith("found: ") and "Europe/Paris" in sink.final
    assert any("Looking up `time.now`" in update for update in sink.updates)
    first = openai_peer.requests[0]
    assert [(t["type"], t["function"]["name"]) for t in first["tools"]] == [("function", NOW)]
    # The next turn's request carries the earlier call and its answer, and no new call is made.
    last = openai_peer.requests[-1]["messages"]
    called = [m for m in last if m.get("tool_calls")]
    answered = [m for m in last if m["role"] == "tool"]
    assert called[0]["tool_calls"][0]["function"]["name"] == NOW
    assert answered[0]["tool_call_id"] == called[0]["tool_calls"][0]["id"]
    assert len(openai_peer.requests) == 3
    [record] = audit
    assert (record.tool, record.outcome, record.user, record.platform) == (
        "time.now",
        "ok",
        "u1",
        "test",
    )
    assert record.args_digest != json.dumps({"timezone": "Europe/Paris"})
    assert len(record.args_digest) == 64 and record.result_bytes > 0


async def test_parallel_calls_in_one_step_are_each_answered(peer_settings, openai_peer):
    zones = ("UTC", "Asia/Tokyo")
    openai_peer.answer = calls_then_answers(tuple((NOW, {"timezone": z}) for z in zones))
    async with open_runtime(peer_settings) as runtime:
        sink = RecordingSink()
        await runtime.dialogue.handle(message("time in UTC and Tokyo?"), sink)
    assert "UTC" in sink.final and "Asia/Tokyo" in sink.final
    tool_messages = [m for m in openai_peer.requests[1]["messages"] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_messages] == ["call_1", "call_2"]


async def test_several_steps_then_the_step_limit_makes_the_model_answer(peer_settings, openai_peer):
    settings = peer_settings.model_copy(update={"tool_max_steps": 2})
    openai_peer.answer = calls_then_answers(*[((NOW, {}),)] * 5)
    async with open_runtime(settings) as runtime:
        sink = RecordingSink()
        await runtime.dialogue.handle(message("keep looking"), sink)
    assert [bool(r.get("tools")) for r in openai_peer.requests] == [True, True, False]
    assert sink.final.startswith("found: ")


async def test_an_acting_tool_runs_only_after_the_askers_click(peer_settings, openai_peer):
    desk = Desk()
    openai_peer.answer = calls_then_answers(((BOOK, {"desk": 7}),))
    async with open_runtime(peer_settings) as runtime:
        runtime.tools.sources.append(desk)
        sink = ApprovingSink()
        turn = asyncio.create_task(runtime.dialogue.handle(message("book desk 7"), sink))
        await sink.asked_event.wait()
        [request] = sink.asked
        assert (request.tool, request.asker_id) == ("desk.book", "u1")
        assert await runtime.dialogue.decide(request.id, "u2", True) == NOT_THE_ASKER
        assert desk.booked == []
        assert "Approved" in await runtime.dialogue.decide(request.id, "u1", True)
        await turn
    assert desk.booked == [{"desk": 7}]
    assert sink.settled == [(ApprovalOutcome.APPROVED, "u1")]
    assert sink.final == "found: booked desk 7"


async def test_a_denied_call_is_not_run_and_the_model_is_told(peer_settings, openai_peer):
    desk = Desk()
    openai_peer.answer = calls_then_answers(((BOOK, {"desk": 7}),))
    async with open_runtime(peer_settings) as runtime:
        runtime.tools.sources.append(desk)
        sink = ApprovingSink()
        turn = asyncio.create_task(runtime.dialogue.handle(message("book desk 7"), sink))
        await sink.asked_event.wait()
        # The click lands on another replica: it reaches the waiting turn through the store.
        other_replica = Approvals(runtime.store, timeout=60)
        assert "Denied" in await other_replica.decide(sink.asked[0].id, "u1", False)
        await turn
        audit = await runtime.store.tool_calls(AuditQuery(tool="desk.book"))
    assert desk.booked == []
    assert sink.settled == [(ApprovalOutcome.DENIED, "u1")]
    assert "denied" in sink.final
    assert [r.outcome for r in audit] == ["denied"]


async def test_no_click_in_time_means_not_run(peer_settings, openai_peer):
    settings = peer_settings.model_copy(update={"tool_approval_timeout": 0.3})
    desk = Desk()
    openai_peer.answer = calls_then_answers(((BOOK, {"desk": 7}),))
    async with open_runtime(settings) as runtime:
        runtime.tools.sources.append(desk)
        sink = ApprovingSink()
        await runtime.dialogue.handle(message("book desk 7"), sink)
        assert "no longer waiting" in await runtime.dialogue.decide(sink.asked[0].id, "u1", True)
    assert desk.booked == []
    assert sink.settled == [(ApprovalOutcome.TIMED_OUT, None)]
    assert "in time" in sink.final


async def test_without_approval_controls_an_acting_tool_is_not_run(peer_settings, openai_peer):
    desk = Desk()
    openai_peer.answer = calls_then_answers(((BOOK, {"desk": 7}),))
    async with open_runtime(peer_settings) as runtime:
        runtime.tools.sources.append(desk)
        sink = RecordingSink()
        await runtime.dialogue.handle(message("book desk 7"), sink)
    assert desk.booked == []
    assert "cannot be asked" in sink.final


async def test_a_preapproved_tool_runs_without_a_click(peer_settings, openai_peer):
    settings = peer_settings.model_copy(
        update={"tools": {"preapproved": {"test:space": ["desk.*"]}}}
    )
    desk = Desk()
    openai_peer.answer = calls_then_answers(((BOOK, {"desk": 3}),))
    async with open_runtime(settings) as runtime:
        runtime.tools.sources.append(desk)
        sink = ApprovingSink()
        await runtime.dialogue.handle(message("book desk 3"), sink)
    assert desk.booked == [{"desk": 3}] and sink.asked == []


async def test_a_tool_not_allowed_in_a_place_is_not_offered_there(peer_settings, openai_peer):
    settings = peer_settings.model_copy(
        update={"tools": {"allow": {"test:space:c1": ["time.*"], "*": []}}}
    )
    openai_peer.answer = calls_then_answers()
    async with open_runtime(settings) as runtime:
        await runtime.dialogue.handle(message("hi", conversation="c1"), RecordingSink())
        await runtime.dialogue.handle(message("hi", conversation="c2"), RecordingSink())
    allowed, elsewhere = openai_peer.requests
    assert [t["function"]["name"] for t in allowed["tools"]] == [NOW]
    assert "tools" not in elsewhere


async def test_a_call_to_a_tool_not_offered_is_one_short_line(peer_settings, openai_peer):
    openai_peer.answer = calls_then_answers((("rm_rf", {}),))
    async with open_runtime(peer_settings) as runtime:
        sink = RecordingSink()
        await runtime.dialogue.handle(message("go"), sink)
    assert sink.final == "found: Error: there is no tool named 'rm_rf' here."


async def test_the_peer_refuses_a_tool_call_left_unanswered(openai_peer):
    client = openai.AsyncOpenAI(base_url=openai_peer.base_url, api_key="x", max_retries=0)
    call = {"id": "c1", "type": "function", "function": {"name": NOW, "arguments": "{}"}}
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "user", "content": "again"},
    ]
    with pytest.raises(openai.BadRequestError):
        await client.chat.completions.create(model="peer-model", messages=messages)
    await client.close()


class _OptionsSeen(ScriptedBackend):
    """A backend without the tools capability (like the local one), keeping the options."""

    def __init__(self) -> None:
        super().__init__()
        self.options: list[GenerationOptions] = []

    def stream(self, messages, options):
        self.options.append(options)
        return super().stream(messages, options)


async def test_a_backend_without_tool_support_is_offered_no_tools_and_answers(tmp_path):
    backend = _OptionsSeen()
    async with open_runtime(Settings(data_dir=tmp_path), backend=backend) as runtime:
        sink = RecordingSink()
        await runtime.dialogue.handle(message("what time is it?"), sink)
    assert sink.final == "echo: what time is it?"
    assert [options.tools for options in backend.options] == [()]


async def test_time_now_is_told_the_askers_zone(peer_settings, openai_peer):
    openai_peer.answer = calls_then_answers(((NOW, {}),))
    asking = message("what time is it?")
    asking = replace(asking, author=replace(asking.author, time_zone="Pacific/Auckland"))
    async with open_runtime(peer_settings) as runtime:
        sink = RecordingSink()
        await runtime.dialogue.handle(asking, sink)
    assert "Pacific/Auckland (UTC+1" in sink.final
