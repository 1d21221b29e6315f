"""The tool loop of one turn: stream a step, run the tools it called, stream the next step, until
the model answers or the step limit is reached."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field, replace

from bot.llm.base import Backend, GenerationOptions
from bot.metrics import Metrics
from bot.replies import ApprovalOutcome, ReplySink
from bot.store.base import ToolAudit, ToolCallRecord
from bot.tools.approvals import Approvals
from bot.tools.base import CallContext, Tool, ToolFailed, ToolSource
from bot.tools.policy import ToolPolicy
from bot.types import ChatMessage, Delta, Incoming, Role, ToolCall, Usage

log = logging.getLogger(__name__)

REFUSALS = {
    ApprovalOutcome.DENIED: "The user denied this call; it was not run.",
    ApprovalOutcome.TIMED_OUT: "Nobody approved this call in time; it was not run.",
    ApprovalOutcome.UNAVAILABLE: "Approval cannot be asked here; the call was not run.",
}
"""What the model is told when an acting call does not run."""


@dataclass(frozen=True, slots=True)
class ToolLimits:
    max_steps: int = 5
    call_timeout: float = 30.0
    max_result_bytes: int = 100_000


class Toolbox:
    """Every tool source, the policy, approvals and the audit: shared by all turns."""

    def __init__(
        self,
        sources: Sequence[ToolSource],
        policy: ToolPolicy,
        approvals: Approvals,
        store: ToolAudit,
        metrics: Metrics,
        limits: ToolLimits = ToolLimits(),
    ) -> None:
        self.sources = list(sources)
        self.policy = policy
        self.approvals = approvals
        self._store = store
        self._metrics = metrics
        self.limits = limits

    def available(self) -> list[Tool]:
        """Every tool usable now (a dead server's are hidden)."""
        return [tool for source in self.sources for tool in source.tools()]

    def for_turn(self, incoming: Incoming, sink: ReplySink) -> TurnTools:
        allowed = [
            tool
            for tool in self.available()
            if self.policy.allows(incoming.key, tool.name)
            and (incoming.history is not None or not tool.reads_place)
        ]
        return TurnTools(self, incoming, sink, {tool.name: tool for tool in allowed})

    async def audit(
        self, incoming: Incoming, call: ToolCall, outcome: str, began: float, result_bytes: int
    ) -> None:
        key = incoming.key
        digest = hashlib.sha256(call.arguments.encode()).hexdigest()
        record = ToolCallRecord(
            at=time.time(),
            platform=key.platform,
            space=incoming.space or key.space,
            channel=key.channel,
            user=incoming.author.id,
            tool=call.name,
            args_digest=digest,
            outcome=outcome,
            duration_ms=int((time.monotonic() - began) * 1000),
            result_bytes=result_bytes,
        )
        self._metrics.count_tool_call(call.name, outcome)
        try:
            await self._store.record_tool_call(record)
        except Exception:
            log.warning("could not record a tool call", exc_info=True)


@dataclass(slots=True)
class TurnTools:
    """One turn's tools: those allowed in its place, and the messages its steps added (each
    assistant message with tool calls followed by the answer to every call)."""

    box: Toolbox
    incoming: Incoming
    sink: ReplySink
    tools: dict[str, Tool]
    steps: list[ChatMessage] = field(default_factory=list)
    spoken: int = 0
    """Characters of text the model wrote in the steps that called tools."""
    _asking: asyncio.Lock = field(default_factory=asyncio.Lock)

    def options(self, options: GenerationOptions, backend: Backend) -> GenerationOptions:
        """The options with this place's tools, when the backend can take them."""
        if not backend.capabilities.tools or not self.tools:
            return options
        return replace(options, tools=tuple(tool.spec for tool in self.tools.values()))

    async def stream(
        self,
        backend: Backend,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
        count: Callable[[ChatMessage], int],
    ) -> AsyncGenerator[Delta, None]:
        """The answer's deltas across steps; usage summed over the steps."""
        history = list(messages)
        total: Usage | None = None
        for step in range(self.box.limits.max_steps + 1):
            # The last step offers no tools: the model has to answer with what it found.
            offered = options if step < self.box.limits.max_steps else replace(options, tools=())
            calls: tuple[ToolCall, ...] = ()
            text: list[str] = []
            async for delta in backend.stream(history, offered):
                calls = delta.tool_calls or calls
                if delta.usage is not None:
                    total = _added(total, delta.usage)
                text.append(delta.text)
                plain = total is delta.usage and not delta.tool_calls and delta.status is None
                yield delta if plain else Delta(delta.text, delta.finish_reason, total)
            if not calls or step == self.box.limits.max_steps:
                return
            said = "".join(text)
            self.spoken += len(said)
            yield Delta("", status=_status(calls))
            asked = ChatMessage(
                Role.ASSISTANT, said, author_id=self.incoming.author.id, tool_calls=calls
            )
            answers = await asyncio.gather(*(self._call(call) for call in calls))
            group = [asked, *answers]
            group = [message.with_tokens(count(message)) for message in group]
            history.extend(group)
            self.steps.extend(group)

    async def _call(self, call: ToolCall) -> ChatMessage:
        began = time.monotonic()
        outcome, text = await self._outcome(call)
        size = len(text.encode())
        if size > self.box.limits.max_result_bytes:
            text = _capped(text, self.box.limits.max_result_bytes)
        # The audit says what the tool returned, before the cap cut it for the model.
        await self.box.audit(self.incoming, call, outcome, began, size if outcome == "ok" else 0)
        return ChatMessage(Role.TOOL, text, author_id=self.incoming.author.id, tool_call_id=call.id)

    async def _outcome(self, call: ToolCall) -> tuple[str, str]:
        """How the call ended (audit outcome) and what the model is told: its result, or one
        short line."""
        tool = self.tools.get(call.name)
        if tool is None:
            return "not_offered", f"Error: there is no tool named {call.name[:80]!r} here."
        try:
            arguments = json.loads(call.arguments or "{}")
        except json.JSONDecodeError:
            arguments = None
        if not isinstance(arguments, dict):
            return "bad_arguments", "Error: the arguments were not a JSON object."
        key = self.incoming.key
        if tool.acting and not self.box.policy.preapproved(key, tool.name):
            async with self._asking:  # one prompt at a time, also for parallel calls
                request = self.box.approvals.request(
                    tool.name, call.arguments, self.incoming.author.id
                )
                approval = await self.box.approvals.ask(request, self.sink)
            if approval is not ApprovalOutcome.APPROVED:
                return str(approval), REFUSALS[approval]
        author = self.incoming.author
        context = CallContext(author.id, author.time_zone, self.incoming.history)
        try:
            result = await asyncio.wait_for(
                tool.run(arguments, context), self.box.limits.call_timeout
            )
        except TimeoutError:
            limit = self.box.limits.call_timeout
            return "timeout", f"Error: the tool did not answer within {limit:g} s."
        except ToolFailed as error:
            return "error", f"Error: {str(error)[:200]}"
        except Exception:
            log.warning("tool %s failed", tool.name, exc_info=True)
            return "error", "Error: the tool failed."
        return "ok", result


def _status(calls: Sequence[ToolCall]) -> str:
    names = ", ".join(f"`{name}`" for name in dict.fromkeys(call.name for call in calls))
    return f"_Looking up {names}…_"


def _capped(text: str, limit: int) -> str:
    size = len(text.encode())
    kept = text.encode()[:limit].decode(errors="ignore")
    return f"{kept}\n[… result cut: it was {size:,} bytes, over the {limit:,}-byte limit]"


def _added(total: Usage | None, usage: Usage) -> Usage:
    if total is None:
        return usage
    return Usage(
        total.input_tokens + usage.input_tokens,
        total.output_tokens + usage.output_tokens,
        total.cached_input_tokens + usage.cached_input_tokens,
    )
