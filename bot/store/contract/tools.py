"""Tool calls: approvals waiting for the asker's click, and the audit of every call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ApprovalRecord:
    """A tool call's approval request as stored; `state` is pending until a click or timeout."""

    id: str
    tool: str
    asker_id: str
    state: str
    decided_by: str | None


@dataclass(frozen=True, slots=True)
class ToolCallRecord:
    """One audited tool call: who asked where, which tool, a digest of the arguments (never the
    arguments), how it ended, how long it took and how big its result was."""

    at: float
    platform: str
    space: str
    channel: str
    user: str
    tool: str
    args_digest: str
    outcome: str
    duration_ms: int
    result_bytes: int


@dataclass(frozen=True, slots=True)
class AuditQuery:
    since: float = 0.0
    tool: str | None = None
    user: str | None = None
    limit: int = 1000


class ApprovalRequests(Protocol):
    async def open_approval(self, approval_id: str, tool: str, asker_id: str) -> None:
        """Record a tool call waiting for its asker's click (state pending)."""
        ...

    async def settle_approval(self, approval_id: str, state: str, by: str | None) -> bool:
        """Decide a pending request (approved, denied, timed_out); False when it was no longer
        pending: the first decision wins, on any replica."""
        ...

    async def approval(self, approval_id: str) -> ApprovalRecord | None: ...


class ToolAudit(Protocol):
    async def record_tool_call(self, record: ToolCallRecord) -> None: ...

    async def tool_calls(self, query: AuditQuery) -> list[ToolCallRecord]:
        """Recorded tool calls since `query.since`, oldest first."""
        ...
