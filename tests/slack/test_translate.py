"""Slack payloads become the right core events (pure translation)."""

from __future__ import annotations

from adapters.slack import translate
from adapters.slack.translate import BotIdentity
from bot.types import Author, ConversationKey, Kind, Role

BOT = BotIdentity(user_id="U0PARLEY", bot_id="B0PARLEY")
ALICE = Author(id="U0ALICE", name="alice")


def test_plain_text_strips_parley_and_spells_out_links() -> None:
    text = "<@U0PARLEY> ask <@U0BOB|bob> in <#C1|general> about <https://x.y|docs> &amp; <!here>"
    assert (
        translate.plain_text(text, BOT) == "ask @bob in #general about docs (https://x.y) & @here"
    )


def test_mention_top_level_starts_a_thread_conversation() -> None:
    event = {"user": "U0ALICE", "text": "<@U0PARLEY> hi", "ts": "1.1", "channel": "C1"}
    incoming = translate.mention(event, "T1", ALICE, BOT)
    assert incoming.key == ConversationKey("slack", "T1", "C1", "1.1")
    assert (incoming.text, incoming.kind, incoming.event_id) == ("hi", Kind.MENTION, "slack:C1:1.1")


def test_mention_in_a_thread_joins_that_thread() -> None:
    event = {"user": "U0ALICE", "text": "<@U0PARLEY> sum up", "ts": "2.2", "thread_ts": "1.1"}
    incoming = translate.mention(event | {"channel": "C1"}, "T1", ALICE, BOT)
    assert incoming.key.thread == "1.1"
    assert translate.joins_thread(event)


def test_a_mention_and_its_message_twin_share_one_event_id() -> None:
    mention = {"user": "U0ALICE", "text": "<@U0PARLEY> x", "ts": "2.2", "thread_ts": "1.1"}
    twin = mention | {"channel_type": "channel"}
    assert (
        translate.mention(mention | {"channel": "C1"}, "T1", ALICE, BOT).event_id
        == translate.message(twin | {"channel": "C1"}, "T1", ALICE, BOT).event_id
    )


def test_dm_keys() -> None:
    top = {"user": "U0ALICE", "text": "hi", "ts": "5.5", "channel": "D1", "channel_type": "im"}
    assert translate.message_key(top, "T1") == ConversationKey("slack", "dm", "D1")
    threaded = top | {"thread_ts": "4.4"}
    assert translate.message_key(threaded, "T1") == ConversationKey("slack", "dm", "D1", "4.4")
    assert translate.message(top, "T1", ALICE, BOT).kind is Kind.DM


def test_message_kinds() -> None:
    assert translate.message_kind({"channel_type": "channel"}) is None
    assert translate.message_kind({"channel_type": "channel", "thread_ts": "1"}) is Kind.THREAD
    assert translate.message_kind({"channel_type": "im"}) is Kind.DM


def test_bots_edits_and_parley_itself_are_not_people() -> None:
    person = {"user": "U0ALICE", "text": "hi", "ts": "1", "channel": "C1"}
    assert translate.is_from_person(person, BOT)
    assert translate.is_from_person(person | {"subtype": "thread_broadcast"}, BOT)
    assert not translate.is_from_person(person | {"bot_id": "B9"}, BOT)
    assert not translate.is_from_person(person | {"subtype": "bot_message"}, BOT)
    assert not translate.is_from_person(person | {"subtype": "message_changed"}, BOT)
    assert not translate.is_from_person(person | {"subtype": "message_deleted"}, BOT)
    assert not translate.is_from_person(person | {"user": "U0PARLEY"}, BOT)


def test_malformed_messages_are_not_taken() -> None:
    person = {"user": "U0ALICE", "text": "hi", "ts": "1", "channel": "C1"}
    for broken in ({"ts": None}, {"channel": ""}, {"thread_ts": {"x": 1}}, {"text": ["hi"]}):
        assert not translate.is_from_person(person | broken, BOT), broken


def _command(text: str, channel: str = "C1") -> dict:
    return {
        "text": text,
        "team_id": "T1",
        "channel_id": channel,
        "user_id": "U0ALICE",
        "trigger_id": "tr1",
        "response_url": "http://x",
    }


def test_parley_command_names_and_unknown_words_become_help() -> None:
    incoming = translate.parley_command(_command("system Be brief."), ALICE)
    assert (incoming.command, incoming.args, incoming.kind) == ("system", "Be brief.", Kind.COMMAND)
    assert incoming.key == ConversationKey("slack", "T1", "C1")
    assert translate.parley_command(_command("dance"), ALICE).command == "help"
    assert translate.parley_command(_command(""), ALICE).command == "help"
    assert translate.parley_command(_command("reset", "D1"), ALICE).key.space == "dm"


def test_ask_is_an_ordinary_turn() -> None:
    key = ConversationKey("slack", "T1", "C1", "9.9")
    incoming = translate.ask(_command("why is the sky blue?"), ALICE, key, BOT)
    assert incoming.command is None and incoming.text == "why is the sky blue?"
    assert incoming.event_id == "slack-command:tr1"
    assert translate.private_key(_command("x")).thread == "private-U0ALICE"


def test_author_from_users_info() -> None:
    user = {"id": "U1", "name": "al", "is_admin": True, "profile": {"display_name": "Alice"}}
    author = translate.author_from_user(user)
    assert (author.name, author.is_admin, author.is_bot) == ("Alice", True, False)
    assert translate.author_from_user({"id": "U2", "name": "bo"}).name == "bo"


def test_thread_history_keeps_earlier_messages_with_roles() -> None:
    messages = [
        {"user": "U0BOB", "text": "the build is red", "ts": "1.0"},
        {"user": "U0PARLEY", "bot_id": "B0PARLEY", "text": "Which job?", "ts": "1.5"},
        {
            "bot_id": "B0CI",
            "username": "ci",
            "subtype": "bot_message",
            "text": "job 7 failed",
            "ts": "1.7",
        },
        {"user": "U0ALICE", "text": "<@U0PARLEY> summarise", "ts": "2.0"},
    ]
    prior = translate.thread_history(messages, "2.0", BOT)
    assert [(m.role, m.content) for m in prior] == [
        (Role.USER, "the build is red"),
        (Role.ASSISTANT, "Which job?"),
        (Role.USER, "job 7 failed"),
    ]
    assert prior[0].author_id == "U0BOB" and prior[2].name == "ci"


def test_a_click_is_judged_where_its_message_is_a_dm_by_its_workspace() -> None:
    def click(channel: str) -> dict:
        container = {"type": "message", "channel_id": channel, "message_ts": "1.1"}
        user = {"id": "U0ALICE", "team_id": "T1"}
        return {"team": {"id": "T1"}, "user": user, "container": container, "trigger_id": "t"}

    in_channel = translate.click(click("C1"))
    in_dm = translate.click(click("D1"))
    assert in_channel is not None and in_dm is not None
    assert (in_channel.key, in_channel.space) == (ConversationKey("slack", "T1", "C1"), "T1")
    assert (in_dm.key, in_dm.space) == (ConversationKey("slack", "dm", "D1"), "T1")
    assert in_channel.author.id == "U0ALICE"
    assert translate.click({"team": {"id": "T1"}, "container": {}}) is None
