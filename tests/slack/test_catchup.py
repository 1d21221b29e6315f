"""Catching up in Slack with the real bolt app (signed requests) and the real openai client:
`/parley summarize` by map-reduce, read once, its links resolving to real messages; private
channels for members only; the `parley_summarize` and `parley_translate` shortcuts answered
ephemerally; "summarize the channel I'm viewing" in the agent view."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from bot.catchup import COMBINE_RULES
from bot.store.base import UsageQuery
from tests.discord.test_catchup import summarizing
from tests.peers.openai_peer import OpenAIPeer
from tests.peers.slack_peer import WORKSPACE_URL
from tests.slack.harness import ALICE, CHANNEL, DM, Slack, running_slack

BOB = "U0BOB"
PRIVATE = "G0SECRET"
_LINK = re.compile(
    re.escape(WORKSPACE_URL) + r"archives/(\w+)/p(\d+)(?:\?thread_ts=[\d.]+&amp;cid=\w+)?\|(\d+)>"
)


def model_settings(openai_peer: OpenAIPeer) -> dict[str, Any]:
    return {
        "openai_base_url": openai_peer.base_url,
        "model": "peer-model",
        "max_retries": 0,
        "context_window": 4096,
    }


def said(slack: Slack, channel: str, count: int, *, start: float | None = None) -> list[dict]:
    """`count` messages said in a channel before Parley was asked, alternating two people."""
    start = start or time.time() - 3600
    messages = [
        {
            "type": "message",
            "user": (ALICE, BOB)[i % 2],
            "text": f"message {i} on topic",
            "ts": f"{start + i:.6f}",
        }
        for i in range(count)
    ]
    slack.peer.history.setdefault(channel, []).extend(messages)
    return messages


async def parley(slack: Slack, text: str, *, user: str = ALICE, channel: str = CHANNEL) -> dict:
    """Run `/parley TEXT` and return what reached its response_url (ephemeral, whole)."""
    name = f"r{len(slack.peer.responses)}"
    url = slack.peer.response_url(name)
    status, _ = await slack.sender.command(
        "/parley", text, user=user, channel=channel, response_url=url
    )
    assert status == 200
    return await answered(slack, name)


async def answered(slack: Slack, name: str) -> dict:
    await slack.peer.wait_for(lambda: any(n == name for n, _ in slack.peer.responses), 20)
    return next(body for n, body in slack.peer.responses if n == name)


async def ask_while_viewing(slack: Slack, channel: str, text: str) -> str:
    """Alice, viewing `channel` in the agent view, asks `text` in her DM; the message's ts."""
    viewing = {"entities": [{"type": "slack#/types/channel_id", "value": channel}]}
    await slack.runtime.store.remember_viewing(ALICE, json.dumps(viewing))
    asked = slack.ts()
    await slack.sender.event(slack.message(text, ts=asked))
    return asked


def linked(slack: Slack, text: str) -> dict[int, dict]:
    """Each cited number, with the peer's message its link names."""
    found = {}
    for channel, digits, number in _LINK.findall(text):
        ts = f"{digits[:-6]}.{digits[-6:]}"
        messages = slack.peer.history.get(channel, []) + [
            m for thread in slack.peer.threads.values() for m in thread
        ]
        found[int(number)] = next(m for m in messages if m["ts"] == ts)
    return found


async def test_a_500_message_channel_is_summarized_by_map_reduce_read_once_with_real_links(
    tmp_path: Path, openai_peer: OpenAIPeer
) -> None:
    openai_peer.answer = summarizing
    async with running_slack(tmp_path, **model_settings(openai_peer)) as slack:
        sent = said(slack, CHANNEL, 500)
        answer = await parley(slack, "summarize")
        await slack.runtime.dialogue.shutdown(5)  # the usage is recorded after the answer
        (row,) = await slack.runtime.store.usage_report(UsageQuery(0, "user"))

    assert answer["response_type"] == "ephemeral"
    systems = [request["messages"][0]["content"] for request in openai_peer.requests]
    parts = [system for system in systems if "This is part" in system]
    assert len(parts) >= 3 and systems == [*parts, COMBINE_RULES], "parts, then one combination"
    assert set(slack.peer.history_reads) == {(CHANNEL, m["ts"]) for m in sent}
    assert max(slack.peer.history_reads.values()) == 1, "each message read once"
    pages = slack.peer.called("conversations.history")
    assert len(pages) >= 3 and all(int(call.params["limit"]) <= 200 for call in pages)
    cited = linked(slack, answer["text"])
    assert {1, 500} <= set(cited)
    for number, message in cited.items():
        assert message["text"] == f"message {number - 1} on topic"
    assert row.turns == 1 and row.input_tokens > 0


async def test_a_private_channel_is_summarized_only_for_its_members(
    tmp_path: Path, openai_peer: OpenAIPeer
) -> None:
    openai_peer.answer = summarizing
    async with running_slack(tmp_path, **model_settings(openai_peer)) as slack:
        slack.peer.conversations[PRIVATE] = {"id": PRIVATE, "is_channel": True, "is_private": True}
        slack.peer.members[PRIVATE] = [ALICE, "U0PARLEY"]
        said(slack, PRIVATE, 3)
        refused = await parley(slack, "summarize", user=BOB, channel=PRIVATE)
        assert not slack.peer.called("conversations.history")
        allowed = await parley(slack, "summarize 2h", user=ALICE, channel=PRIVATE)
        asked = len(slack.peer.called("auth.test"))
        await parley(slack, "summarize 3h", user=ALICE, channel=PRIVATE)
        assert len(slack.peer.called("auth.test")) == asked, "the workspace URL is asked once"

    assert (
        refused["text"]
        == "_That conversation is private and you are not in it, so I won't summarize it._"
    )
    assert refused["response_type"] == "ephemeral"
    assert sorted(linked(slack, allowed["text"])) == [1, 3]
    assert len(openai_peer.requests) == 2, "the refusal asked no model"


async def test_a_bad_since_is_one_short_line(tmp_path: Path, openai_peer: OpenAIPeer) -> None:
    async with running_slack(tmp_path, **model_settings(openai_peer)) as slack:
        said(slack, CHANNEL, 3)
        answer = await parley(slack, "summarize next week")
    assert answer["text"].startswith("_`next week` is not a time")
    assert "\n" not in answer["text"]
    assert not slack.peer.history_reads and not openai_peer.requests


async def test_the_summarize_shortcut_reads_the_thread_once_and_answers_privately(
    tmp_path: Path, openai_peer: OpenAIPeer
) -> None:
    openai_peer.answer = summarizing
    async with running_slack(tmp_path, **model_settings(openai_peer)) as slack:
        root = f"{time.time() - 86_400 * 30:.6f}"  # a month old: a thread is read whole
        thread = [{"type": "message", "user": ALICE, "text": "move the launch?", "ts": root}] + [
            {
                "type": "message",
                "user": BOB,
                "text": f"reply {i}",
                "ts": f"{float(root) + i:.6f}",
                "thread_ts": root,
            }
            for i in range(1, 4)
        ]
        slack.peer.threads[(CHANNEL, root)] = thread
        url = slack.peer.response_url("thread")
        status = await slack.sender.shortcut(
            "parley_summarize", user=ALICE, channel=CHANNEL, message=thread[2], response_url=url
        )
        assert status == 200
        answer = await answered(slack, "thread")

    assert answer["response_type"] == "ephemeral"
    (read,) = slack.peer.called("conversations.replies")
    assert read.params["ts"] == root
    assert max(slack.peer.history_reads.values()) == 1
    lines = openai_peer.requests[0]["messages"][-1]["content"].splitlines()
    assert [line.split(": ", 1)[1] for line in lines] == [
        "move the launch?",
        "reply 1",
        "reply 2",
        "reply 3",
    ]
    cited = linked(slack, answer["text"])
    assert cited[1]["text"] == "move the launch?" and cited[4]["text"] == "reply 3"


async def test_translation_is_ephemeral_and_in_the_askers_locale(
    tmp_path: Path, openai_peer: OpenAIPeer
) -> None:
    openai_peer.answer = summarizing
    async with running_slack(tmp_path, **model_settings(openai_peer)) as slack:
        slack.peer.users[ALICE] = {"id": ALICE, "name": "alice", "locale": "fr-FR"}
        message = {"type": "message", "user": BOB, "text": "To be or not to be", "ts": "1.000100"}
        url = slack.peer.response_url("shortcut")
        await slack.sender.shortcut(
            "parley_translate", user=ALICE, channel=CHANNEL, message=message, response_url=url
        )
        by_shortcut = await answered(slack, "shortcut")
        by_command = await parley(slack, "translate to German good night")

    assert by_shortcut == {"text": "Bonjour à tous", "response_type": "ephemeral"}
    assert by_command["response_type"] == "ephemeral"
    first, second = openai_peer.requests
    assert "the language of the locale fr-FR" in first["messages"][0]["content"]
    assert first["messages"][-1]["content"].endswith("To be or not to be")
    assert "into German" in second["messages"][0]["content"]
    assert second["messages"][-1]["content"].endswith("good night")
    info = slack.peer.called("users.info")[0]
    assert info.params["include_locale"] in ("1", "true", True)
    assert not slack.peer.messages, "nothing posted in any channel"


async def test_the_agent_view_summarizes_the_channel_being_viewed(
    tmp_path: Path, openai_peer: OpenAIPeer
) -> None:
    openai_peer.answer = summarizing
    async with running_slack(tmp_path, **model_settings(openai_peer)) as slack:
        said(slack, CHANNEL, 4)
        asked = await ask_while_viewing(slack, CHANNEL, "Summarize this channel please")
        await slack.peer.wait_for(lambda: slack.peer.called("chat.stopStream"))

    (shown,) = slack.peer.thread(DM, asked)
    assert "message 0 on topic" not in shown.text  # a summary, not an echo
    assert f"[1]({WORKSPACE_URL}archives/{CHANNEL}/p" in shown.text
    assert [call.params["channel"] for call in slack.peer.called("conversations.history")] == [
        CHANNEL
    ]


async def test_a_channel_parley_is_not_in_is_one_line(tmp_path: Path) -> None:
    async with running_slack(tmp_path) as slack:
        slack.peer.not_in_channel.add(CHANNEL)
        said(slack, CHANNEL, 3)
        answer = await parley(slack, "summarize")
    assert answer["text"] == (
        "_I can't read that conversation: invite me to it (/invite @Parley), then ask again._"
    )
    assert not slack.peer.called("conversations.history")


async def test_the_channel_allowlist_holds_for_the_channel_being_viewed(tmp_path: Path) -> None:
    async with running_slack(tmp_path, slack_channels=[CHANNEL, DM]) as slack:
        said(slack, "C0OTHER", 3)
        asked = await ask_while_viewing(slack, "C0OTHER", "summarize this channel")
        await slack.peer.wait_for(lambda: slack.peer.thread(DM, asked))
        await slack.runtime.dialogue.shutdown(5)
    (shown,) = slack.peer.thread(DM, asked)
    assert "not enabled in the channel you are viewing" in shown.text
    assert not slack.peer.called("conversations.history")


async def test_asking_to_summarize_something_else_is_an_ordinary_turn(tmp_path: Path) -> None:
    async with running_slack(tmp_path) as slack:
        said(slack, CHANNEL, 3)
        asked = await ask_while_viewing(slack, CHANNEL, "summarize this article: cats nap a lot")
        await slack.peer.wait_for(lambda: slack.peer.called("chat.stopStream"))
    (shown,) = slack.peer.thread(DM, asked)
    assert shown.text == "echo: summarize this article: cats nap a lot"
    assert not slack.peer.called("conversations.history")


async def test_the_legacy_assistant_view_summarizes_the_channel_in_its_context(
    tmp_path: Path, openai_peer: OpenAIPeer
) -> None:
    openai_peer.answer = summarizing
    settings = model_settings(openai_peer) | {"slack_surface": "assistant"}
    async with running_slack(tmp_path, **settings) as slack:
        said(slack, CHANNEL, 2)
        context = {"channel_id": CHANNEL, "team_id": "T0TEAM", "enterprise_id": None}
        await slack.runtime.store.remember_viewing(ALICE, json.dumps(context))
        thread_ts = slack.ts()
        await slack.sender.event(slack.message("summarize yesterday", thread_ts=thread_ts))
        await slack.peer.wait_for(lambda: slack.peer.called("chat.stopStream"))
    (shown,) = slack.peer.thread(DM, thread_ts)
    assert shown.text.startswith(f"Talked about topics [1]({WORKSPACE_URL}archives/{CHANNEL}/p")
    (read,) = slack.peer.called("conversations.history")
    assert float(read.params["oldest"]) < time.time() - 86_400
