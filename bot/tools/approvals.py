"""Approval of acting tool calls: the asker's click, through the store so any replica's door can
take it, waited for by the turn (woken at once in the same process, else by polling)."""

from __future__ import annotations

import asyncio
import re
import secrets
from contextlib import suppress

from bot.links import reveal_links
from bot.replies import ApprovalOutcome, ApprovalRequest, Approving, ReplySink
from bot.store.base import ApprovalRequests

POLL_SECONDS = 0.3
"""How often a waiting turn looks for a click taken by another replica (one indexed read)."""
SUMMARY_CHARS = 300
NOT_THE_ASKER = "Only the person who asked can approve this."
GONE = "This request is no longer waiting for a decision."
_PINGS = re.compile(r"[@<]")


def summary(arguments: str) -> str:
    """A call's arguments made safe to show: short, no pings, links showing their targets."""
    text = arguments if len(arguments) <= SUMMARY_CHARS else arguments[:SUMMARY_CHARS] + "…"
    return _PINGS.sub(lambda m: m.group() + "\u200b", reveal_links(text))


class Approvals:
    """Asks for approvals and takes decisions."""

    def __init__(self, store: ApprovalRequests, timeout: float, poll: float = POLL_SECONDS) -> None:
        self._store = store
        self.timeout = timeout
        self._poll = poll
        self._waiting: dict[str, asyncio.Event] = {}

    def request(self, tool: str, arguments: str, asker_id: str) -> ApprovalRequest:
        return ApprovalRequest(
            secrets.token_urlsafe(16), tool, summary(arguments), asker_id, self.timeout
        )

    async def ask(self, request: ApprovalRequest, sink: ReplySink) -> ApprovalOutcome:
        """Show the request, wait for the asker's click or the timeout, show the outcome."""
        if not isinstance(sink, Approving):
            return ApprovalOutcome.UNAVAILABLE
        await self._store.open_approval(request.id, request.tool, request.asker_id)
        woken = self._waiting[request.id] = asyncio.Event()
        try:
            await sink.ask_approval(request)
            outcome, by = await self._wait(request, woken)
        finally:
            del self._waiting[request.id]
        await sink.settle_approval(request, outcome, by)
        return outcome

    async def _wait(
        self, request: ApprovalRequest, woken: asyncio.Event
    ) -> tuple[ApprovalOutcome, str | None]:
        deadline = asyncio.get_running_loop().time() + request.timeout
        while True:
            record = await self._store.approval(request.id)
            if record is not None and record.state != "pending":
                return ApprovalOutcome(record.state), record.decided_by
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                if await self._store.settle_approval(request.id, "timed_out", None):
                    return ApprovalOutcome.TIMED_OUT, None
                continue  # a click landed just now: it wins
            with suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), min(self._poll, left))

    async def decide(self, approval_id: str, person: str, approved: bool) -> str:
        """A click: only the asker's counts; the line to show the person who clicked."""
        record = await self._store.approval(approval_id)
        if record is None or record.state != "pending":
            return GONE
        if record.asker_id != person:
            return NOT_THE_ASKER
        state = ApprovalOutcome.APPROVED if approved else ApprovalOutcome.DENIED
        if not await self._store.settle_approval(approval_id, state, person):
            return GONE
        woken = self._waiting.get(approval_id)
        if woken is not None:
            woken.set()
        if approved:
            return f"Approved: `{record.tool}` runs now."
        return f"Denied: `{record.tool}` will not run."
