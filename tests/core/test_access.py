"""The allowlists in DMs: a DM is judged by its home space (and roles there) and the user list."""

from __future__ import annotations

import pytest

from bot.access import AccessPolicy
from bot.config import Settings
from bot.types import DIRECT_MESSAGES, Author, ConversationKey, Incoming, Kind
from bot.wiring import open_runtime
from tests.support.sinks import RecordingSink


def dm(
    user: str = "u1",
    *,
    home: str | None = None,
    roles: frozenset[str] = frozenset(),
    is_admin: bool = False,
    text: str = "hi",
) -> Incoming:
    return Incoming(
        key=ConversationKey("p", DIRECT_MESSAGES, "d1"),
        author=Author(user, "Ann", roles=roles, is_admin=is_admin),
        text=text,
        event_id=f"{user}-{text}",
        kind=Kind.DM,
        home=home,
    )


@pytest.mark.parametrize(
    ("policy", "incoming", "allowed"),
    [
        (AccessPolicy(), dm(), True),
        (AccessPolicy(users=frozenset({"u1"})), dm(), True),
        (AccessPolicy(users=frozenset({"u2"})), dm(), False),
        # A restricted space: the DM needs a home there, or the sender named in the user list.
        (AccessPolicy(spaces=frozenset({"s1"})), dm(), False),
        (AccessPolicy(spaces=frozenset({"s1"})), dm(home="s2"), False),
        (AccessPolicy(spaces=frozenset({"s1"})), dm(home="s1"), True),
        (AccessPolicy(spaces=frozenset({"s1"}), users=frozenset({"u1"})), dm(), True),
        (AccessPolicy(spaces=frozenset({"s1"}), users=frozenset({"u1"})), dm(home="s2"), False),
        (AccessPolicy(roles=frozenset({"r1"})), dm(home="s1"), False),
        (AccessPolicy(roles=frozenset({"r1"})), dm(home="s1", roles=frozenset({"r1"})), True),
        # A channel list says nothing about DMs.
        (AccessPolicy(channels=frozenset({"c1"})), dm(), True),
        (AccessPolicy(spaces=frozenset({"s1"}), direct_messages="open"), dm(), True),
        (AccessPolicy(direct_messages="off"), dm(home="s1"), False),
        (AccessPolicy(users=frozenset({"u2"}), direct_messages="open"), dm(), False),
    ],
)
def test_who_may_talk_in_a_dm(policy: AccessPolicy, incoming: Incoming, allowed: bool):
    assert policy.allows(incoming) is allowed


def test_nobody_is_admin_through_a_dm_unless_named_an_admin():
    policy = AccessPolicy(admins=frozenset({"boss"}), admin_roles=frozenset({"r1"}))
    assert not policy.is_admin(dm(is_admin=True, roles=frozenset({"r1"}), home="s1"))
    assert policy.is_admin(dm("boss"))


async def test_the_space_budget_counts_dm_turns_toward_their_home(peer_settings: Settings):
    settings = peer_settings.model_copy(update={"space_daily_tokens": 10})
    async with open_runtime(settings) as runtime:
        spent, refused, elsewhere = RecordingSink(), RecordingSink(), RecordingSink()
        await runtime.dialogue.handle(dm(home="s1", text="spend it all"), spent)
        await runtime.dialogue.handle(dm("u2", home="s1"), refused)
        await runtime.dialogue.handle(dm("u3", home="s2"), elsewhere)
    assert spent.final and elsewhere.final
    assert refused.failure and refused.failure.startswith("This team has used its share")
