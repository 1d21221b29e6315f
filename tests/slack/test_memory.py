"""Memory of the place in Slack, with the real bolt app (signed events) and the real openai
client: an admin's `/parley remember on`, channel messages kept from `message` events (threads,
edits, deletions too), and a mention answered from an old message, cited with its real link,
with no conversations.history or conversations.replies read."""

from __future__ import annotations

import re
import time
from pathlib import Path

from tests.discord.test_memory import DECIDED, citing, kept, until
from tests.peers.openai_peer import OpenAIPeer
from tests.peers.slack_peer import TEAM, WORKSPACE_URL
from tests.slack.harness import ALICE, CHANNEL, Slack, running_slack
from tests.slack.test_catchup import BOB, model_settings, parley

ADMIN = "U0ADMIN"
PLACE = f"slack:{TEAM}:{CHANNEL}"


def said(slack: Slack, text: str, *, user: str = ALICE, **extra: object) -> dict:
    """A person's message in the channel, not addressed to Parley."""
    event = slack.message(text, channel=CHANNEL, channel_type="channel", **extra)
    event["user"] = user
    return event


async def turned_on(slack: Slack) -> dict:
    slack.peer.users[ADMIN] = {"id": ADMIN, "name": "ada", "is_admin": True}
    return await parley(slack, "remember on", user=ADMIN)


async def test_an_indexed_channel_answers_about_an_old_message_without_reading_history(
    tmp_path: Path, openai_peer: OpenAIPeer
) -> None:
    openai_peer.answer = citing
    async with running_slack(tmp_path, **model_settings(openai_peer)) as slack:
        on = await turned_on(slack)
        start = time.time() - 86_400
        events = []
        for i in range(50):
            text = DECIDED if i == 7 else f"lunch plans number {i}, and other things"
            events.append(said(slack, text, user=(ALICE, BOB)[i % 2], ts=f"{start + i:.6f}"))
            await slack.sender.event(events[-1])
        await kept(slack.runtime.store, PLACE, 50)
        asked = slack.ts()
        await slack.sender.event(
            slack.mention("what did we decide about the release date?", ts=asked)
        )
        await slack.peer.wait_for(
            lambda: any("March 3rd" in m.text for m in slack.peer.thread(CHANNEL, asked))
        )
        stats = await parley(slack, "stats")
    assert on["text"].startswith("Memory of this channel is on")
    (request,) = openai_peer.requests
    assert DECIDED in "\n".join(m["content"] for m in request["messages"])
    (answer,) = [m for m in slack.peer.thread(CHANNEL, asked) if "March" in m.text]
    decided = events[7]["ts"].replace(".", "")
    assert f"[1]({WORKSPACE_URL}archives/{CHANNEL}/p{decided})" in answer.text
    assert not slack.peer.called("conversations.history")
    assert not slack.peer.called("conversations.replies")
    assert (
        "Memory of this channel: on since" in stats["text"] and "50 messages kept" in stats["text"]
    )


async def test_only_admins_turn_it_on_and_nothing_is_kept_while_it_is_off(
    tmp_path: Path, openai_peer: OpenAIPeer
) -> None:
    async with running_slack(tmp_path, **model_settings(openai_peer)) as slack:
        refused = await parley(slack, "remember on")
        await slack.sender.event(said(slack, "the release date is secret"))
        status = await parley(slack, "remember")
        await slack.runtime.dialogue.shutdown(5)
        found = await slack.runtime.store.search_place(PLACE, ["release"], 8)
    assert refused["text"] == "_Only admins can turn the memory of this channel on or off._"
    assert status["text"].startswith("Memory of this channel is off")
    assert found == []


async def test_threads_edits_deletions_bots_and_forget(
    tmp_path: Path, openai_peer: OpenAIPeer
) -> None:
    async with running_slack(tmp_path, **model_settings(openai_peer)) as slack:
        store = slack.runtime.store
        await turned_on(slack)
        edited = said(slack, "launch on Monday")
        deleted = said(slack, "launch password hunter2", user=BOB)
        in_thread = said(slack, "launch checklist is ready", user=BOB, thread_ts=edited["ts"])
        bot = said(slack, "launch bot noise", bot_id="B0OTHER", subtype="bot_message")
        for event in (edited, deleted, in_thread, bot):
            await slack.sender.event(event)
        await kept(store, PLACE, 3)
        changed = {
            "type": "message",
            "subtype": "message_changed",
            "hidden": True,
            "channel": CHANNEL,
            "channel_type": "channel",
            "ts": slack.ts(),
            "message": {**edited, "text": "launch on Friday", "edited": {"user": ALICE}},
            "previous_message": edited,
        }
        gone = {
            "type": "message",
            "subtype": "message_deleted",
            "hidden": True,
            "channel": CHANNEL,
            "channel_type": "channel",
            "ts": slack.ts(),
            "deleted_ts": deleted["ts"],
            "previous_message": deleted,
        }
        await slack.sender.event(changed)
        await slack.sender.event(gone)
        await kept(store, PLACE, 2)
        await until(lambda: store.search_place(PLACE, ["friday"], 8))
        assert await store.search_place(PLACE, ["monday"], 8) == []
        (thread_reply,) = await store.search_place(PLACE, ["checklist"], 8)
        forgot = await parley(slack, "forget")
        left = await store.search_place(PLACE, ["launch"], 8)
    assert re.search(rf"\?thread_ts={edited['ts']}&cid={CHANNEL}$", thread_reply.link)
    assert forgot["text"].endswith("any channel's memory.")
    assert [m.text for m in left] == ["launch checklist is ready"]


async def test_a_hostile_question_is_answered_without_an_error(
    tmp_path: Path, openai_peer: OpenAIPeer
) -> None:
    openai_peer.answer = citing
    async with running_slack(tmp_path, **model_settings(openai_peer)) as slack:
        await turned_on(slack)
        await slack.sender.event(said(slack, 'the "release" NEAR( date'))
        await kept(slack.runtime.store, PLACE, 1)
        asked = slack.ts()
        hostile = "\" NEAR( release* OR ) AND NOT '; DROP TABLE memory_messages; -- date:*"
        await slack.sender.event(slack.mention(hostile, ts=asked))
        await slack.peer.wait_for(
            lambda: any("March 3rd" in m.text for m in slack.peer.thread(CHANNEL, asked))
        )
    (request,) = openai_peer.requests
    assert 'the "release" NEAR( date' in "\n".join(m["content"] for m in request["messages"])
