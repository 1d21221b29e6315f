"""Slack message links in the workspace URL form, so a summary needs no chat.getPermalink call
per message: https://TEAM.slack.com/archives/CHANNEL/pTS, with the thread for replies."""

from __future__ import annotations


def message_link(workspace_url: str, channel: str, ts: str, thread_ts: str | None = None) -> str:
    """`workspace_url` is auth.test's `url` (https://TEAM.slack.com/)."""
    link = f"{workspace_url.rstrip('/')}/archives/{channel}/p{ts.replace('.', '')}"
    if thread_ts and thread_ts != ts:
        link += f"?thread_ts={thread_ts}&cid={channel}"
    return link
