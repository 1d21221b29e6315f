"""The words every door shows for a tool call that waits for a click, and for its outcome."""

from __future__ import annotations

from bot.replies import ApprovalOutcome, ApprovalRequest


def asking(request: ApprovalRequest, limit: int) -> str:
    """The request as one line of at most `limit` characters (the summary is cut to fit)."""
    head = f"Parley wants to run `{request.tool}` with: "
    room = max(limit - len(head), 1)
    summary = request.summary if len(request.summary) <= room else request.summary[: room - 1] + "…"
    return head + summary


def settled(request: ApprovalRequest, outcome: ApprovalOutcome, by: str | None) -> str:
    """What replaces the buttons; `by` is the door's rendering of who decided (never a ping)."""
    who = f" by {by}" if by else ""
    match outcome:
        case ApprovalOutcome.APPROVED:
            return f"`{request.tool}`: approved{who}."
        case ApprovalOutcome.DENIED:
            return f"`{request.tool}`: denied{who}, not run."
        case ApprovalOutcome.TIMED_OUT:
            return f"`{request.tool}`: no answer in time, not run."
    return f"`{request.tool}`: cannot be approved here, not run."
