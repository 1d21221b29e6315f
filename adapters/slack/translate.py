"""Slack event and command payloads as core events: pure functions, no I/O."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.commands import SPECS
from bot.types import DIRECT_MESSAGES, Author, ChatMessage, ConversationKey, Incoming, Kind, Role

PLATFORM = "slack"
Payload = Mapping[str, Any]

PERSON_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})
"""Message subtypes that are a person speaking; edits, deletions, joins and bot posts are not."""
THREAD_CHANNEL_TYPES = frozenset({"channel", "group", "mpim"})

_LINK = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")


@dataclass(frozen=True, slots=True)
class BotIdentity:
    """Who Parley is in this workspace (from auth.test): its user and its bot id."""

    user_id: str
    bot_id: str | None = None

    def wrote(self, message: Payload) -> bool:
        return message.get("user") == self.user_id or (
            self.bot_id is not None and message.get("bot_id") == self.bot_id
        )


def event_id(channel: str, ts: str) -> str:
    """One message's id. `app_mention` and `message` twins carry different envelope ids but the
    same channel and ts, so both map here and the core answers the message once."""
    return f"{PLATFORM}:{channel}:{ts}"


def command_event_id(payload: Payload) -> str:
    return f"{PLATFORM}-command:{payload['trigger_id']}"


def well_formed(event: Payload) -> bool:
    """Whether the fields Parley reads have the types Slack sends; anything else is dropped."""
    return (
        all(isinstance(event.get(field), str) and event[field] for field in ("channel", "ts"))
        and all(isinstance(event.get(field, ""), str) for field in ("thread_ts", "text"))
        and all(
            isinstance(event.get(field), str | None)
            for field in ("user", "subtype", "bot_id", "channel_type")
        )
    )


def is_from_person(event: Payload, bot: BotIdentity) -> bool:
    """A person's new, well-formed message: not a bot, not Parley, not an edit or deletion."""
    return (
        well_formed(event)
        and event.get("subtype") in PERSON_SUBTYPES
        and not event.get("bot_id")
        and bool(event.get("user"))
        and event.get("user") != bot.user_id
    )


def said_in_channel(event: Payload, bot: BotIdentity) -> Payload | None:
    """A person's message in a channel (or its thread), new or edited (a `message_changed`
    carries the message as it now is): with its channel, or None."""
    said = event
    if event.get("subtype") == "message_changed" and isinstance(event.get("message"), dict):
        where = {"channel": event.get("channel"), "channel_type": event.get("channel_type")}
        said = {**where, **event["message"]}
    if not is_from_person(said, bot) or said.get("channel_type") not in THREAD_CHANNEL_TYPES:
        return None
    return said


def deleted_message(event: Payload) -> str | None:
    """The id (as `event_id` names it) of the message a `message_deleted` event removes."""
    channel, deleted = event.get("channel"), event.get("deleted_ts")
    if event.get("subtype") != "message_deleted" or not (
        isinstance(channel, str) and isinstance(deleted, str)
    ):
        return None
    return event_id(channel, deleted)


def plain_text(text: str, bot: BotIdentity) -> str:
    """Slack's wire text as a person reads it: Parley's own mention removed, links and mentions
    spelled out, entities decoded."""
    text = re.sub(rf"<@{re.escape(bot.user_id)}(?:\|[^<>]*)?>", "", text)
    return html.unescape(_LINK.sub(_spell_out, text)).strip()


def _spell_out(match: re.Match[str]) -> str:
    target, label = match.group(1), match.group(2)
    if target.startswith(("@", "#")):
        return target[0] + (label or target[1:])
    if target.startswith("!"):
        special = target[1:].split("^", 1)[0]
        return label or ("@" + special if special in {"here", "channel", "everyone"} else special)
    url = target.removeprefix("mailto:")
    return f"{label} ({url})" if label and label != url else url


def author_from_user(user: Payload) -> Author:
    """A users.info `user` as an Author; workspace admins and owners are Parley admins too.
    `locale` is there when asked for (include_locale); `tz` is the person's IANA zone."""
    profile = user.get("profile") or {}
    name = profile.get("display_name") or profile.get("real_name") or user.get("name") or user["id"]
    return Author(
        id=user["id"],
        name=name,
        is_bot=bool(user.get("is_bot")),
        is_admin=bool(user.get("is_admin") or user.get("is_owner")),
        locale=user.get("locale") or None,
        time_zone=user.get("tz") or None,
    )


def mention(event: Payload, team_id: str, author: Author, bot: BotIdentity) -> Incoming:
    """An `app_mention`: the conversation is the mention's thread (a new one when top-level)."""
    thread = event.get("thread_ts") or event["ts"]
    return Incoming(
        key=ConversationKey(PLATFORM, team_id, event["channel"], thread),
        author=author,
        text=plain_text(event.get("text", ""), bot),
        event_id=event_id(event["channel"], event["ts"]),
        kind=Kind.MENTION,
    )


def message_kind(event: Payload) -> Kind | None:
    """What a person's `message` event may be for Parley: a DM, a reply in a channel thread
    (answered only when Parley is in that thread), or nothing."""
    channel_type = event.get("channel_type")
    if channel_type == "im":
        return Kind.DM
    if channel_type in THREAD_CHANNEL_TYPES and event.get("thread_ts"):
        return Kind.THREAD
    return None


def message_key(event: Payload, team_id: str, *, dm_threads: bool = False) -> ConversationKey:
    """A reply in a thread (DM or channel) belongs to that thread's own conversation; a top-level
    DM to the DM's one running conversation, or, with `dm_threads` (agent view, where every
    top-level DM is a thread root), to the thread it starts. A DM's workspace travels as
    `Incoming.home`."""
    direct = message_kind(event) is Kind.DM
    thread = event.get("thread_ts") or (event["ts"] if direct and dm_threads else None)
    return ConversationKey(
        PLATFORM, DIRECT_MESSAGES if direct else team_id, event["channel"], thread
    )


def message(
    event: Payload, team_id: str, author: Author, bot: BotIdentity, *, dm_threads: bool = False
) -> Incoming:
    """A DM or a reply in a channel thread, as `message_kind` tells them apart; both carry their
    workspace, by which a DM is judged and budgeted."""
    return Incoming(
        key=message_key(event, team_id, dm_threads=dm_threads),
        author=author,
        text=plain_text(event.get("text", ""), bot),
        event_id=event_id(event["channel"], event["ts"]),
        kind=message_kind(event) or Kind.THREAD,
        home=team_id or None,
    )


def joins_thread(event: Payload) -> bool:
    """Whether the message is a reply in a thread that already holds earlier messages."""
    thread = event.get("thread_ts")
    return bool(thread) and thread != event.get("ts")


def command_space(payload: Payload) -> str:
    """Slash commands in a DM belong with the DM's conversation, keyed without its workspace
    (which travels as `Incoming.home`)."""
    return _space(str(payload.get("channel_id", "")), payload["team_id"])


def _space(channel: str, team_id: str) -> str:
    return DIRECT_MESSAGES if channel.startswith("D") else team_id


def click(body: Payload) -> Incoming | None:
    """A button press (a block_actions payload), judged by the allowlists like a message from
    its presser; None when the payload lacks who, where or which workspace."""
    user, team = body.get("user") or {}, body.get("team") or {}
    channel = (body.get("container") or {}).get("channel_id") or (body.get("channel") or {}).get(
        "id"
    )
    team_id = team.get("id") or user.get("team_id")
    if not all(isinstance(value, str) and value for value in (user.get("id"), channel, team_id)):
        return None
    return Incoming(
        key=ConversationKey(PLATFORM, _space(channel, team_id), channel),
        author=Author(id=user["id"], name=""),
        text="",
        event_id=f"{PLATFORM}-click:{body.get('trigger_id', '')}",
        kind=Kind.CLICK,
        home=team_id,
    )


def private_key(payload: Payload) -> ConversationKey:
    """The conversation of answers only the asker sees (ephemeral, or via response_url): one per
    person and channel, so no one else's prompts reach it."""
    thread = f"private-{payload['user_id']}"
    return ConversationKey(PLATFORM, command_space(payload), payload["channel_id"], thread)


def ask(payload: Payload, author: Author, key: ConversationKey, bot: BotIdentity) -> Incoming:
    """`/ask <prompt>`: an ordinary turn in the conversation the adapter made for it."""
    return Incoming(
        key=key,
        author=author,
        text=plain_text(payload.get("text", ""), bot),
        event_id=command_event_id(payload),
        kind=Kind.COMMAND,
        home=payload.get("team_id") or None,
    )


def parley_command(payload: Payload, author: Author) -> Incoming:
    """`/parley <command> [args]` about the channel's (or DM's) conversation; unknown -> help."""
    word, _, args = str(payload.get("text", "")).strip().partition(" ")
    name = word.lower().lstrip("/")
    return Incoming(
        key=ConversationKey(PLATFORM, command_space(payload), payload["channel_id"]),
        author=author,
        text="",
        event_id=command_event_id(payload),
        kind=Kind.COMMAND,
        command=name if name in SPECS else "help",
        args=args.strip(),
        home=payload.get("team_id") or None,
    )


def thread_history(
    messages: Iterable[Payload], before_ts: str, bot: BotIdentity
) -> tuple[ChatMessage, ...]:
    """A thread's messages from before Parley joined (conversations.replies) as prior turns."""
    prior: list[ChatMessage] = []
    for item in messages:
        if float(item.get("ts", "0")) >= float(before_ts):
            continue
        text = plain_text(item.get("text", ""), bot)
        if not text or item.get("subtype") in {"message_changed", "message_deleted"}:
            continue
        if bot.wrote(item):
            prior.append(ChatMessage(Role.ASSISTANT, text))
            continue
        speaker = item.get("user") or item.get("bot_id") or "someone"
        profile = item.get("user_profile") or {}
        name = profile.get("display_name") or profile.get("real_name") or item.get("username")
        prior.append(ChatMessage(Role.USER, text, name=name or speaker, author_id=item.get("user")))
    return tuple(prior)
