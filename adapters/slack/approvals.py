"""Approve / Deny buttons (Block Kit) on a Slack tool call that waits for the asker's click."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from adapters.slack.format import escaped
from bot import approval_lines
from bot.replies import ApprovalOutcome, ApprovalRequest

APPROVE_ACTION = "parley_tool_approve"
DENY_ACTION = "parley_tool_deny"
ACTIONS = re.compile(rf"^(?:{APPROVE_ACTION}|{DENY_ACTION})$")
"""The two buttons' action_ids; each button's value is the request id."""
SECTION_LIMIT = 3_000
"""A section block's text holds at most this many characters."""
_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")


def request_text(request: ApprovalRequest) -> str:
    """The request as mrkdwn, to show above the buttons and in notifications."""
    return approval_lines.asking(_shown(request), SECTION_LIMIT)


def request_blocks(request: ApprovalRequest) -> list[dict[str, Any]]:
    """The request as a section, then the two buttons under it."""

    def button(label: str, action_id: str, style: str) -> dict[str, Any]:
        return {
            "type": "button",
            "action_id": action_id,
            "text": {"type": "plain_text", "text": label},
            "style": style,
            "value": request.id,
        }

    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": request_text(request)}},
        {
            "type": "actions",
            "elements": [
                button("Approve", APPROVE_ACTION, "primary"),
                button("Deny", DENY_ACTION, "danger"),
            ],
        },
    ]


def settled_line(request: ApprovalRequest, outcome: ApprovalOutcome, by: str | None) -> str:
    """The outcome in mrkdwn; who decided as a user mention (the clicker, whom it does not
    notify), and only for a well-formed Slack user id."""
    who = f"<@{by}>" if by and _SLACK_USER.match(by) else None
    return approval_lines.settled(_shown(request), outcome, who)


def _shown(request: ApprovalRequest) -> ApprovalRequest:
    """The request with its tool and summary as mrkdwn text: entities escaped, no pings."""
    return replace(request, tool=escaped(request.tool), summary=escaped(request.summary))


def settled_blocks(line: str) -> list[dict[str, Any]]:
    """The buttons gone: only a context line with the outcome."""
    return [{"type": "context", "elements": [{"type": "mrkdwn", "text": line}]}]


def approved(action_id: str) -> bool:
    return action_id == APPROVE_ACTION
