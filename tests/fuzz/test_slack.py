"""Slack payloads with arbitrary content through the pure translators, and model text through the
formatters: valid core events out, and never a ping token in what Parley posts."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.slack import translate
from adapters.slack.format import asked, neutralise, settled, to_mrkdwn
from bot.commands import SPECS
from bot.types import Author, ChatMessage, Incoming, Kind
from tests.fuzz.strategies import (
    BOT_USER,
    FUZZ,
    chat_text,
    slack_command_payload,
    slack_id,
    slack_message_event,
    slack_ts,
)

BOT = translate.BotIdentity(BOT_USER, "B0PARLEY")
ALICE = Author("U0ALICE", "Alice")
PING = re.compile(r"<[!@]|@(?:channel|here|everyone)", re.IGNORECASE)
"""What Slack turns into a notification: `<!here>`, `<!channel>`, `<@U...>`, and bare @channel."""


def assert_valid(incoming: Incoming) -> None:
    key = incoming.key
    assert all(isinstance(part, str) and part for part in (key.platform, key.space, key.channel))
    assert key.thread is None or (isinstance(key.thread, str) and key.thread)
    assert isinstance(incoming.text, str) and incoming.text == incoming.text.strip()
    assert isinstance(incoming.event_id, str) and incoming.event_id


@settings(**FUZZ)
@given(event=slack_message_event, team=slack_id)
def test_any_message_event_translates_to_a_valid_event(event: dict[str, Any], team: str) -> None:
    assert isinstance(translate.is_from_person(event, BOT), bool)
    mention = translate.mention(event, team, ALICE, BOT)
    assert_valid(mention)
    assert mention.key.thread == event.get("thread_ts", event["ts"])
    assert mention.event_id == translate.event_id(event["channel"], event["ts"])
    kind = translate.message_kind(event)
    message = translate.message(event, team, ALICE, BOT)
    assert_valid(message)
    assert message.kind is (kind or Kind.THREAD)
    assert message.event_id == mention.event_id, "an app_mention and its message twin are one"
    assert isinstance(translate.joins_thread(event), bool)


@settings(**FUZZ)
@given(words=st.text().filter(lambda text: not set(text) & set("<>&")))
def test_parleys_own_mention_is_stripped_and_nothing_else(words: str) -> None:
    assert translate.plain_text(f"<@{BOT_USER}> {words}", BOT) == words.strip()
    assert translate.plain_text(f"{words} <@{BOT_USER}|parley>", BOT) == words.strip()


@settings(**FUZZ)
@given(payload=slack_command_payload)
def test_any_slash_command_translates_to_a_valid_event(payload: dict[str, Any]) -> None:
    command = translate.parley_command(payload, ALICE)
    assert_valid(command)
    assert command.kind is Kind.COMMAND and command.command in SPECS
    key = translate.private_key(payload)
    ask = translate.ask(payload, ALICE, key, BOT)
    assert_valid(ask)
    assert ask.command is None and ask.key == key
    assert key.space in ("dm", payload["team_id"])


thread_item = st.fixed_dictionaries(
    {"ts": slack_ts},
    optional={
        "text": chat_text,
        "user": slack_id | st.just(BOT_USER),
        "bot_id": st.none() | st.just("B0PARLEY") | slack_id,
        "subtype": st.none() | st.sampled_from(["message_changed", "message_deleted", "bot"]),
        "user_profile": st.none() | st.fixed_dictionaries({}, optional={"display_name": chat_text}),
        "username": st.text(max_size=10),
    },
)


@settings(**FUZZ)
@given(items=st.lists(thread_item, max_size=8), before=slack_ts)
def test_any_thread_history_becomes_prior_messages(items: list[dict], before: str) -> None:
    prior = translate.thread_history(items, before, BOT)
    assert all(isinstance(message, ChatMessage) and message.content for message in prior)
    assert len(prior) <= sum(float(item["ts"]) < float(before) for item in items)


@settings(**FUZZ)
@given(
    user=st.fixed_dictionaries(
        {"id": slack_id},
        optional={
            "name": st.text(max_size=10),
            "is_bot": st.booleans(),
            "is_admin": st.booleans() | st.none(),
            "is_owner": st.booleans(),
            "profile": st.none()
            | st.dictionaries(st.sampled_from(["display_name", "real_name"]), st.text(max_size=10)),
        },
    )
)
def test_any_users_info_becomes_an_author(user: dict[str, Any]) -> None:
    author = translate.author_from_user(user)
    assert author.id == user["id"] and isinstance(author.name, str) and author.name


@settings(**FUZZ)
@given(text=chat_text)
def test_neutralised_text_pings_no_one(text: str) -> None:
    assert not PING.search(neutralise(text))


@settings(**FUZZ)
@given(markdown=chat_text)
def test_mrkdwn_pings_no_one(markdown: str) -> None:
    assert not PING.search(to_mrkdwn(markdown))


@settings(**FUZZ)
@given(prompt=chat_text, user=slack_id)
def test_the_asked_line_pings_only_the_asker(prompt: str, user: str) -> None:
    line = asked(user, prompt)
    assert line.startswith(f"<@{user}> asked: ")
    assert not PING.search(line.removeprefix(f"<@{user}>"))


@settings(**FUZZ)
@given(text=chat_text, more=chat_text)
def test_a_settled_prefix_never_changes_as_the_answer_grows(text: str, more: str) -> None:
    assert neutralise(text + more).startswith(neutralise(settled(text)))
