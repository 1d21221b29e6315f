"""The Store contract, run on every store (see conftest.py)."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from bot.store import schema
from bot.store.base import (
    UNSET,
    Counter,
    CounterCheck,
    ExportFilter,
    Rating,
    SpentQuery,
    Store,
    TurnEnd,
    TurnRecord,
    TurnUsage,
    UsageQuery,
    UsageRow,
)
from bot.types import (
    ChatMessage,
    ConversationKey,
    ConversationSettings,
    ConversationStats,
    Role,
)
from tests.store.conftest import Stores

KEY = ConversationKey("discord", "guild", "channel")
OTHER = ConversationKey("slack", "team", "general", "1700000000.000100")


def user(
    text: str, tokens: int = 10, author: str = "alice", at: float | None = None
) -> ChatMessage:
    if at is None:
        return ChatMessage(Role.USER, text, name=author, author_id=author, tokens=tokens)
    return ChatMessage(Role.USER, text, name=author, author_id=author, tokens=tokens, created_at=at)


def answer(
    text: str, tokens: int = 10, asker: str = "alice", at: float | None = None
) -> ChatMessage:
    if at is None:
        return ChatMessage(Role.ASSISTANT, text, author_id=asker, tokens=tokens)
    return ChatMessage(Role.ASSISTANT, text, author_id=asker, tokens=tokens, created_at=at)


async def append_turns(
    store: Store, key: ConversationKey, count: int, asker: str = "alice"
) -> None:
    for index in range(count):
        await store.append(key, [user(f"q{index}", author=asker), answer(f"a{index}", asker=asker)])


def contents(messages: list[ChatMessage]) -> list[str]:
    return [message.content for message in messages]


# -- events -----------------------------------------------------------------------------------


async def test_an_event_is_claimed_once(store: Store) -> None:
    assert await store.claim_event("evt-1") is True
    assert await store.claim_event("evt-1") is False
    assert await store.claim_event("evt-2") is True


def turn(event_id: str, text: str = "question?") -> TurnRecord:
    return TurnRecord(event_id, KEY, (user("earlier", author="bob"), user(text)))


async def test_a_finished_turn_leaves_no_record_and_its_event_stays_claimed(stores: Stores) -> None:
    store = await stores.open()
    assert await store.claim_event("evt-t", KEY)
    assert await store.begin_turn(turn("evt-t")) is None
    await store.show_progress("evt-t", '{"at": 1}', "half an ans")
    await store.append(KEY, [user("question?"), answer("done")], ends=TurnEnd("evt-t"))
    await store.close()
    later = await stores.open()
    assert await later.claim_event("evt-t", KEY) is False
    assert await later.orphaned_turns("discord") == []
    assert await stores.scalar("SELECT COUNT(*) FROM turns") == 0


async def test_a_dead_process_turn_is_adopted_once_with_what_it_showed(stores: Stores) -> None:
    dead = await stores.open()
    begun = turn("evt-d")
    assert await dead.claim_event("evt-d", KEY)
    await dead.begin_turn(begun)
    await dead.show_progress("evt-d", '{"message": 7}', "half an ans")
    await dead.close()  # its process is gone

    heir = await stores.open()
    (orphan,) = await heir.orphaned_turns("discord")
    assert orphan == TurnRecord(
        "evt-d", KEY, begun.question, receipt='{"message": 7}', shown="half an ans"
    )
    assert [m.content for m in orphan.question] == ["earlier", "question?"]
    assert await heir.orphaned_turns("discord") == [], "adopted: nobody finishes it twice"
    assert await heir.orphaned_turns("slack") == []

    await heir.append(KEY, list(orphan.question), ends=TurnEnd("evt-d", interrupted=True))
    assert contents(await heir.load(KEY, 1000)) == ["earlier", "question?"]
    assert await heir.claim_event("evt-d", KEY) is True, "a redelivery is answered"
    assert await heir.claim_event("evt-d", KEY) is False, "once"


async def test_a_redelivered_event_of_a_dead_turn_gets_back_what_it_showed(stores: Stores) -> None:
    dead = await stores.open()
    assert await dead.claim_event("evt-r", KEY)
    await dead.begin_turn(turn("evt-r"))
    await dead.show_progress("evt-r", '{"message": 8}', "so far")
    await dead.close()

    heir = await stores.open()
    results = await asyncio.gather(*(heir.claim_event("evt-r", KEY) for _ in range(5)))
    assert sorted(results) == [False] * 4 + [True]
    earlier = await heir.begin_turn(turn("evt-r"))
    assert earlier is not None and (earlier.receipt, earlier.shown) == ('{"message": 8}', "so far")
    assert await heir.begin_turn(turn("evt-r")) is None, "what it showed is handed over once"
    await heir.end_turn("evt-r")
    assert await heir.orphaned_turns("discord") == []


async def test_fifty_concurrent_claims_of_one_event_have_one_winner(store: Store) -> None:
    results = await asyncio.gather(*(store.claim_event("evt-race") for _ in range(50)))
    assert results.count(True) == 1


async def test_two_instances_on_one_database_have_one_winner(stores: Stores) -> None:
    first, second = await stores.open(), await stores.open()
    claims = [store.claim_event(f"evt-{n}") for n in range(20) for store in (first, second)]
    results = await asyncio.gather(*claims)
    assert [results[2 * n] + results[2 * n + 1] for n in range(20)] == [1] * 20


# -- load -------------------------------------------------------------------------------------


async def test_load_returns_the_newest_messages_that_fit_oldest_first(store: Store) -> None:
    await append_turns(store, KEY, 5)
    assert contents(await store.load(KEY, 45)) == ["q3", "a3", "q4", "a4"]
    assert contents(await store.load(KEY, 40)) == ["q3", "a3", "q4", "a4"]
    assert contents(await store.load(KEY, 1000)) == [
        m for i in range(5) for m in (f"q{i}", f"a{i}")
    ]
    assert await store.load(KEY, 0) == []
    assert await store.load(OTHER, 1000) == []


async def test_load_never_returns_a_message_that_alone_exceeds_the_budget(store: Store) -> None:
    await store.append(KEY, [user("short", tokens=5), answer("long", tokens=50)])
    assert await store.load(KEY, 49) == []
    assert contents(await store.load(KEY, 55)) == ["short", "long"]


async def test_load_of_a_long_history_returns_only_the_rows_that_fit(store: Store) -> None:
    rows = [m for i in range(300) for m in (user(f"q{i}"), answer(f"a{i}"))]
    await store.append(KEY, rows)
    assert contents(await store.load(KEY, 30)) == ["a298", "q299", "a299"]


async def test_messages_without_token_counts_still_bound_the_window(store: Store) -> None:
    await store.append(KEY, [user(f"m{i}", tokens=0) for i in range(100)])
    assert contents(await store.load(KEY, 3)) == ["m97", "m98", "m99"]


async def test_messages_round_trip_with_every_field(store: Store) -> None:
    message = ChatMessage(
        Role.USER,
        "look ✨ at this",
        name="Alice",
        author_id="u-1",
        tokens=7,
        created_at=1_700_000_000.25,
        images=("https://example.invalid/a.png",),
    )
    system = ChatMessage(Role.SYSTEM, "be brief", tokens=2, created_at=1_700_000_000.5)
    await store.append(KEY, [message, system])
    assert await store.load(KEY, 100) == [message, system]


# -- append -----------------------------------------------------------------------------------


async def test_an_append_lands_whole_or_not_at_all(store: Store) -> None:
    await append_turns(store, KEY, 1)
    broken = ChatMessage(Role.ASSISTANT, None, tokens=3)  # type: ignore[arg-type]
    with pytest.raises(Exception):  # noqa: B017 - each database names the violation its own way
        await store.append(KEY, [user("lost"), broken])
    assert contents(await store.load(KEY, 1000)) == ["q0", "a0"]
    assert await store.stats(KEY) == ConversationStats(1, 2, 10, 10)
    await append_turns(store, KEY, 1)
    assert len(await store.load(KEY, 1000)) == 4


async def test_stats_count_turns_messages_and_tokens(store: Store) -> None:
    assert await store.stats(KEY) == ConversationStats()
    await store.append(KEY, [user("q", tokens=12), answer("a", tokens=30)], output_tokens=31)
    await store.append(KEY, [user("q2", tokens=5), answer("a2", tokens=8)])
    await store.append(KEY, [ChatMessage(Role.SYSTEM, "note", tokens=1)])
    assert await store.stats(KEY) == ConversationStats(
        turns=2, messages=5, input_tokens=17, output_tokens=39
    )
    assert await store.stats(OTHER) == ConversationStats()


async def test_concurrent_appends_from_two_instances_keep_the_window_exact(stores: Stores) -> None:
    first, second = await stores.open(), await stores.open()
    await asyncio.gather(
        append_turns(first, KEY, 20, asker="first"), append_turns(second, KEY, 20, asker="second")
    )
    assert (await first.stats(KEY)).turns == 40
    assert len(await second.load(KEY, 10_000)) == 80
    window = await first.load(KEY, 70)
    assert len(window) == 7
    assert window == (await second.load(KEY, 10_000))[-7:]


# -- reset and settings -----------------------------------------------------------------------


async def test_reset_starts_a_fresh_context_but_keeps_messages_for_export(store: Store) -> None:
    await append_turns(store, KEY, 2)
    await store.reset(KEY)
    assert await store.load(KEY, 1000) == []
    await store.append(KEY, [user("after"), answer("reply")])
    assert contents(await store.load(KEY, 1000)) == ["after", "reply"]
    exported = [item async for item in store.export(ExportFilter())]
    assert [(key, contents(messages)) for key, messages in exported] == [
        (KEY, ["q0", "a0", "q1", "a1", "after", "reply"])
    ]
    assert (await store.stats(KEY)).messages == 6


async def test_reset_beneath_a_channel_covers_the_conversations_in_its_thread_slots(
    store: Store,
) -> None:
    chain = ConversationKey(KEY.platform, KEY.space, KEY.channel, "chain-1")
    elsewhere = ConversationKey(KEY.platform, KEY.space, KEY.channel + "9", "chain-2")
    for key in (KEY, chain, elsewhere):
        await append_turns(store, key, 1)
    await store.reset(KEY)
    assert await store.load(KEY, 1000) == []
    assert contents(await store.load(chain, 1000)) == ["q0", "a0"]
    await store.reset(KEY, beneath=True)
    assert await store.load(chain, 1000) == []
    assert contents(await store.load(elsewhere, 1000)) == ["q0", "a0"]


async def test_reset_of_an_unknown_conversation_is_harmless(store: Store) -> None:
    await store.reset(OTHER)
    assert await store.load(OTHER, 100) == []


async def test_settings_set_keep_and_clear(store: Store) -> None:
    assert await store.get_settings(KEY) == ConversationSettings()
    await store.set_settings(KEY, system_prompt="be terse")
    await store.set_settings(KEY, model="small")
    assert await store.get_settings(KEY) == ConversationSettings("be terse", "small")
    await store.set_settings(KEY, system_prompt=UNSET, model=None)
    assert await store.get_settings(KEY) == ConversationSettings("be terse", None)
    await store.set_settings(KEY)
    await store.set_settings(KEY, system_prompt=None)
    assert await store.get_settings(KEY) == ConversationSettings()
    assert await store.get_settings(OTHER) == ConversationSettings()
    await append_turns(store, KEY, 1)
    assert (await store.stats(KEY)).turns == 1


# -- forget and purge -------------------------------------------------------------------------


async def test_forget_deletes_an_authors_turns_and_the_window_still_fills(store: Store) -> None:
    for index in range(6):
        asker = "alice" if index % 2 == 0 else "bob"
        await store.append(KEY, [user(f"q{index}", author=asker), answer(f"a{index}", asker=asker)])
    await append_turns(store, OTHER, 2, asker="alice")
    assert await store.forget("alice") == 10
    assert await store.forget("alice") == 0
    assert contents(await store.load(KEY, 40)) == ["q3", "a3", "q5", "a5"]
    assert contents(await store.load(KEY, 1000)) == ["q1", "a1", "q3", "a3", "q5", "a5"]
    assert await store.load(OTHER, 1000) == []
    assert (await store.stats(KEY)).messages == 6
    await store.append(KEY, [user("q6", author="bob"), answer("a6", asker="bob")])
    assert contents(await store.load(KEY, 40)) == ["q5", "a5", "q6", "a6"]


async def test_forget_after_reset_keeps_the_reset(store: Store) -> None:
    await append_turns(store, KEY, 2, asker="bob")
    await store.append(KEY, [user("last", author="alice"), answer("reply", asker="alice")])
    await store.reset(KEY)
    await store.forget("alice")
    assert await store.load(KEY, 1000) == []
    await append_turns(store, KEY, 1, asker="carol")
    assert contents(await store.load(KEY, 1000)) == ["q0", "a0"]


async def test_purge_deletes_old_messages(store: Store) -> None:
    await store.append(KEY, [user("old", at=1000.0), answer("old reply", at=1001.0)])
    await store.append(KEY, [user("new", at=5000.0), answer("new reply", at=5001.0)])
    assert await store.purge(older_than=2000.0) == 2
    assert contents(await store.load(KEY, 20)) == ["new", "new reply"]
    assert contents(await store.load(KEY, 1000)) == ["new", "new reply"]
    assert await store.purge(older_than=float("inf")) == 2
    assert await store.load(KEY, 1000) == []


async def test_expire_forgets_old_events_and_usage_counters(store: Store) -> None:
    assert await store.claim_event("evt-old")
    await store.add_usage({"turns:user:a:1": 1})
    await store.expire(before=0.0)
    assert await store.claim_event("evt-old") is False
    assert await store.count_usage(["turns:user:a:1"]) == {"turns:user:a:1": 1}
    await store.expire(before=float("inf"))
    assert await store.claim_event("evt-old") is True
    assert await store.count_usage(["turns:user:a:1"]) == {}


# -- usage counters ---------------------------------------------------------------------------


async def test_usage_counters_add_up_and_unknown_ones_are_absent(store: Store) -> None:
    assert await store.count_usage([]) == {}
    await store.add_usage({"a": 1, "b": 5})
    await store.add_usage({"a": 2})
    await asyncio.gather(*(store.add_usage({"c": 1}) for _ in range(20)))
    assert await store.count_usage(["a", "b", "c", "missing"]) == {"a": 3, "b": 5, "c": 20}


async def test_a_claimed_turn_reads_its_counters_and_counts_itself_below_the_caps(
    store: Store,
) -> None:
    check = CounterCheck(
        (Counter("turns", cap=2, counts=True), Counter("tokens", cap=100), Counter("told"))
    )
    await store.add_usage({"tokens": 40})
    seen = []
    for event in ("e1", "e2", "e3"):
        async with store.claimed_turn(KEY, "alice", event, 100, check) as read:
            assert read is not None
            seen.append(read.counters)
    async with store.claimed_turn(KEY, "alice", "e1", 100, check) as redelivered:
        assert redelivered is None  # a claimed event reads and counts nothing
    assert seen == [
        {"turns": 0, "tokens": 40, "told": 0},
        {"turns": 1, "tokens": 40, "told": 0},
        {"turns": 2, "tokens": 40, "told": 0},  # at its cap: this turn did not count
    ]
    assert await store.count_usage(["turns", "tokens", "told"]) == {"turns": 2, "tokens": 40}


async def test_a_counter_at_its_cap_stops_the_others_counting(store: Store) -> None:
    check = CounterCheck((Counter("user", cap=5, counts=True), Counter("budget", cap=10)))
    await store.add_usage({"budget": 10})
    async with store.claimed_turn(KEY, "alice", "e1", 100, check) as read:
        assert read is not None and not check.admits(read.counters)
    async with store.claimed_turn(KEY, "alice", "e2", 100) as unchecked:
        assert unchecked is not None and unchecked.counters == {}
    assert await store.count_usage(["user"]) == {}


# -- export -----------------------------------------------------------------------------------


async def test_export_filters_by_place_and_period(store: Store) -> None:
    dm = ConversationKey("discord", "dm", "d1")
    await store.append(KEY, [user("k1", at=100.0), answer("k2", at=200.0)])
    await store.append(OTHER, [user("o1", at=150.0)])
    await store.append(dm, [user("d1", at=300.0)])

    async def export(**criteria: object) -> list[tuple[ConversationKey, list[str]]]:
        found = store.export(ExportFilter(**criteria))  # type: ignore[arg-type]
        return [(key, contents(messages)) async for key, messages in found]

    assert await export() == [(KEY, ["k1", "k2"]), (OTHER, ["o1"]), (dm, ["d1"])]
    assert await export(platform="discord") == [(KEY, ["k1", "k2"]), (dm, ["d1"])]
    assert await export(platform="discord", space="dm") == [(dm, ["d1"])]
    assert await export(since=150.0) == [(KEY, ["k2"]), (OTHER, ["o1"]), (dm, ["d1"])]
    assert await export(since=150.0, until=300.0) == [(KEY, ["k2"]), (OTHER, ["o1"])]
    assert await export(platform="matrix") == []


async def test_export_pages_through_many_conversations(store: Store) -> None:
    keys = [ConversationKey("discord", "g", f"c{n:03}") for n in range(450)]
    await asyncio.gather(*(store.append(key, [user(key.channel)]) for key in keys))
    exported = [key async for key, _ in store.export(ExportFilter())]
    assert sorted(exported, key=str) == sorted(keys, key=str)


# -- turn lock --------------------------------------------------------------------------------


async def test_turns_of_one_conversation_run_in_arrival_order(store: Store) -> None:
    order: list[int] = []
    release = asyncio.Event()

    async def turn(number: int) -> None:
        async with store.turn_lock(KEY):
            if number == 0:
                await release.wait()
            order.append(number)

    tasks = [asyncio.create_task(turn(n)) for n in range(20)]
    await asyncio.sleep(0.05)
    assert order == []
    release.set()
    await asyncio.gather(*tasks)
    assert order == list(range(20))


async def test_different_conversations_do_not_wait_for_each_other(store: Store) -> None:
    held = asyncio.Event()
    release = asyncio.Event()

    async def hold_key() -> None:
        async with store.turn_lock(KEY):
            held.set()
            await release.wait()

    holder = asyncio.create_task(hold_key())
    await held.wait()
    async with asyncio.timeout(10):
        async with store.turn_lock(OTHER):
            assert not holder.done()
    release.set()
    await holder


async def test_different_people_in_one_conversation_do_not_wait_for_each_other(
    store: Store,
) -> None:
    held = asyncio.Event()
    release = asyncio.Event()
    order: list[str] = []

    async def hold(author: str) -> None:
        async with store.turn_lock(KEY, author):
            held.set()
            await release.wait()
            order.append(author)

    holder = asyncio.create_task(hold("alice"))
    await held.wait()
    again = asyncio.create_task(hold("alice"))  # alice's next turn waits for her first
    async with asyncio.timeout(10):
        async with store.turn_lock(KEY, "bob"):
            order.append("bob")
    release.set()
    await asyncio.gather(holder, again)
    assert order == ["bob", "alice", "alice"]


# -- message links ----------------------------------------------------------------------------


async def test_a_linked_message_resolves_to_its_conversation(store: Store) -> None:
    chain = ConversationKey("discord", "guild", "channel", "chain-11")
    assert await store.resolve("discord-message-12") is None
    await store.link(chain, ["discord-message-12", "discord-message-13"])
    await store.link(KEY, ["discord-message-13"])  # already linked: the first link stays
    assert await store.resolve("discord-message-12") == chain
    assert await store.resolve("discord-message-13") == chain
    await store.link(chain, [])
    await store.purge(older_than=float("inf"))
    assert await store.resolve("discord-message-12") is None


# -- life cycle -------------------------------------------------------------------------------


async def test_data_survives_closing_and_reopening(stores: Stores) -> None:
    store = await stores.open()
    await append_turns(store, KEY, 2)
    await store.set_settings(KEY, model="m")
    assert await store.claim_event("evt")
    await store.close()
    reopened = await stores.open()
    assert contents(await reopened.load(KEY, 1000)) == ["q0", "a0", "q1", "a1"]
    assert await reopened.get_settings(KEY) == ConversationSettings(None, "m")
    assert await reopened.claim_event("evt") is False


async def test_instances_opening_at_once_migrate_once(stores: Stores) -> None:
    fresh = [stores.new() for _ in range(3)]
    await asyncio.gather(*(store.open() for store in fresh))
    again = await stores.open()
    await again.ping()
    applied = await stores.scalar("SELECT COUNT(*) FROM schema_migrations")
    assert applied == len(schema.MIGRATIONS)
    assert await stores.scalar("SELECT name FROM schema_migrations WHERE version = 1") == "initial"
    assert await stores.scalar("SELECT name FROM schema_migrations WHERE version = 2") == (
        "events_remember_their_conversation"
    )
    assert await stores.scalar("SELECT name FROM schema_migrations WHERE version = 3") == (
        "turns_in_flight"
    )
    await append_turns(fresh[0], KEY, 1)
    assert len(await fresh[2].load(KEY, 100)) == 2


async def test_load_turn_reads_settings_and_history_together(store: Store) -> None:
    settings, history = await store.load_turn(KEY, 100)
    assert (settings, history.messages()) == (ConversationSettings(), [])
    await store.set_settings(KEY, system_prompt="Be brief.")
    await append_turns(store, KEY, 3)
    settings, history = await store.load_turn(KEY, 1000)
    assert settings == ConversationSettings(system_prompt="Be brief.")
    assert history.messages() == await store.load(KEY, 1000)
    assert (await store.load_turn(KEY, 0))[1].messages() == []


# -- the window held in memory: every read is checked against the store ----------------------


async def held(store: Store, key: ConversationKey = KEY, reach: int = 1000) -> list[str]:
    """The window a turn gets, as the contents of its messages."""
    return contents((await store.load_turn(key, reach))[1].messages())


async def test_replicas_taking_turns_in_one_conversation_each_see_the_others(
    stores: Stores,
) -> None:
    one, two = await stores.open(), await stores.open()
    for index in range(8):
        writer = (one, two)[index % 2]
        await writer.append(KEY, [user(f"q{index}"), answer(f"a{index}")])
        for reader in (one, two):
            assert await held(reader, reach=45) == contents(await reader.load(KEY, 45))
            assert (await held(reader))[-2:] == [f"q{index}", f"a{index}"]


async def test_a_held_window_sees_another_replicas_forget_reset_and_purge(stores: Stores) -> None:
    one, two = await stores.open(), await stores.open()
    thread = ConversationKey(KEY.platform, KEY.space, KEY.channel, "t1")
    for key in (KEY, thread):
        await append_turns(one, key, 2)
        await append_turns(one, key, 1, asker="bob")
        await append_turns(one, key, 1)
        assert len(await held(one, key)) == 8
    await two.forget("bob")
    assert await held(one) == ["q0", "a0", "q1", "a1", "q0", "a0"]
    assert await held(one) == contents(await one.load(KEY, 1000))
    await two.reset(KEY, beneath=True)
    assert await held(one) == [] and await held(one, thread) == []
    await two.append(KEY, [user("fresh", at=time.time() + 60)])
    assert await held(one) == ["fresh"]
    await two.purge(time.time() + 30)
    assert await held(one) == ["fresh"]
    await two.purge(time.time() + 120)
    assert await held(one) == []


async def test_a_replica_writing_past_the_window_is_read_whole(stores: Stores) -> None:
    one, two = await stores.open(), await stores.open()
    await append_turns(one, KEY, 2)
    assert await held(one, reach=50) == ["q0", "a0", "q1", "a1"]
    await append_turns(two, KEY, 10)
    assert await held(one, reach=50) == ["a7", "q8", "a8", "q9", "a9"]
    assert await held(one, reach=1000) == contents(await one.load(KEY, 1000))


async def test_random_writes_from_two_replicas_never_leave_a_held_window_stale(
    stores: Stores,
) -> None:
    rng = random.Random(15)
    replicas = [await stores.open(), await stores.open()]
    thread = ConversationKey(KEY.platform, KEY.space, KEY.channel, "t1")
    for step in range(80):
        store, key = rng.choice(replicas), rng.choice([KEY, thread])
        action = rng.random()
        if action < 0.7:
            asker = rng.choice(["alice", "bob"])
            tokens = rng.choice([0, 3, 10, 25])
            await store.append(key, [user(f"q{step}", tokens, asker), answer(f"a{step}", 5, asker)])
        elif action < 0.8:
            await store.forget(rng.choice(["alice", "bob"]))
        elif action < 0.9:
            await store.reset(KEY if rng.random() < 0.5 else key, beneath=rng.random() < 0.5)
        else:
            await store.purge(time.time() - 3600)  # nothing that old: only the totals recount
        for reader in replicas:
            reach = rng.choice([30, 60, 1000])
            assert await held(reader, key, reach) == contents(await reader.load(key, reach)), step


async def test_threads_inherit_their_channels_settings(store: Store) -> None:
    channel = ConversationKey("slack", "T1", "C1")
    thread = ConversationKey("slack", "T1", "C1", "1.0")
    await store.set_settings(channel, system_prompt="Channel prompt.", model="m1")
    await store.set_settings(thread, model="m2")
    expected = ConversationSettings(system_prompt="Channel prompt.", model="m2")
    assert await store.get_settings(thread) == expected
    assert (await store.load_turn(thread, 10))[0] == expected
    assert await store.get_settings(channel) == ConversationSettings("Channel prompt.", "m1")
    other = ConversationKey("slack", "T1", "C2", "1.0")
    assert await store.get_settings(other) == ConversationSettings()


async def test_a_conversation_is_known_from_its_first_claim(store: Store) -> None:
    other = ConversationKey("slack", "T1", "C1", "2.0")
    assert not await store.knows(KEY)
    assert await store.claim_event("first-event", KEY)
    assert await store.knows(KEY)
    assert not await store.knows(other)
    await store.expire(before=float("inf"))
    assert not await store.knows(KEY)
    await append_turns(store, KEY, 1)
    assert await store.knows(KEY)


# -- usage and cost per turn ------------------------------------------------------------------


def spend(key: ConversationKey, who: str, model: str, cost: int, tokens: int = 100) -> TurnUsage:
    return TurnUsage(model, key.platform, key.space, key.channel, who, tokens, tokens // 2, 7, cost)


async def test_a_turns_usage_is_stored_with_its_answer_and_summed_per_group(store: Store) -> None:
    await store.begin_turn(turn("evt-u"))
    await store.append(
        KEY,
        [user("q"), answer("a")],
        ends=TurnEnd("evt-u"),
        usage=spend(KEY, "alice", "gpt-x", 1_250),
    )
    await store.append(KEY, [user("q2", author="bob")], usage=spend(KEY, "bob", "gpt-y", 3_000))
    await store.append(OTHER, [user("q3")], usage=spend(OTHER, "alice", "gpt-x", 10))
    by_space = await store.usage_report(UsageQuery(0, "space"))
    assert by_space == [
        UsageRow("discord:guild", 2, 200, 100, 14, 4_250),
        UsageRow("slack:team", 1, 100, 50, 7, 10),
    ]
    by_model = await store.usage_report(UsageQuery(0, "model"))
    assert [(row.label, row.turns, row.cost_micros) for row in by_model] == [
        ("gpt-y", 1, 3_000),
        ("gpt-x", 2, 1_260),
    ]
    by_channel = await store.usage_report(UsageQuery(0, "channel", platform="slack"))
    assert [row.label for row in by_channel] == ["slack:team:general"]
    alice = await store.usage_report(UsageQuery(0, "user", platform="discord", user="alice"))
    assert [(row.label, row.cost_micros) for row in alice] == [("discord:alice", 1_250)]
    assert await store.orphaned_turns("discord") == []  # the turn record ended with it


async def test_a_usage_record_keeps_its_time_and_money_spent_counts_by_window(
    store: Store,
) -> None:
    await store.append(KEY, [user("q")], usage=spend(KEY, "alice", "m", 500))
    await store.append(KEY, [user("q")], usage=spend(KEY, "bob", "m", 20))
    later = await store.usage_report(UsageQuery(time.time() + 60))
    assert later == []
    spent = await store.money_spent(SpentQuery("discord", "alice", "guild", 0, 0))
    assert spent == (500, 500, 520, 520)
    no_space = await store.money_spent(SpentQuery("discord", "alice", None, time.time() + 60, 0))
    assert no_space == (0, 500, 0, 0)
    elsewhere = await store.money_spent(SpentQuery("slack", "alice", "guild", 0, 0))
    assert elsewhere == (0, 0, 0, 0)


async def test_moderation_is_counted_per_place_and_day(store: Store) -> None:
    for direction in ("input", "input", "output"):
        await store.count_moderated("discord", "guild", direction, 20_000)
    await store.count_moderated("discord", "guild", "input", 19_999)
    await store.count_moderated("slack", "team", "output", 20_001)
    assert await store.moderation_counts(20_000) == {
        ("discord:guild", "input"): 2,
        ("discord:guild", "output"): 1,
        ("slack:team", "output"): 1,
    }
    assert (await store.moderation_counts(0))[("discord:guild", "input")] == 3


async def test_what_a_person_views_is_kept_one_per_person(store: Store) -> None:
    assert await store.recall_viewing("U0ALICE") is None
    await store.remember_viewing("U0ALICE", '{"channel": "C1"}')
    await store.remember_viewing("U0ALICE", '{"channel": "C2"}')
    await store.remember_viewing("U0BOB", "{}")
    assert await store.recall_viewing("U0ALICE") == '{"channel": "C2"}'
    assert await store.recall_viewing("U0BOB") == "{}"


async def test_an_answer_is_rated_once_per_person_and_a_new_click_replaces_it(
    store: Store,
) -> None:
    await append_turns(store, KEY, 2)
    first, second = [m for m in await store.load(KEY, 1000) if m.role is Role.ASSISTANT]
    # A long answer spans two platform messages: both are the one answer.
    await store.record_answer(KEY, ["m1", "m1-more"], first.created_at)
    await store.record_answer(KEY, ["m2"], second.created_at)
    assert await store.rate_answer("m1", "alice", liked=True)
    assert await store.rate_answer("m1-more", "alice", liked=False)  # changed her mind
    assert await store.rate_answer("m1", "bob", liked=True)
    assert await store.rate_answer("m2", "bob", liked=False)
    assert not await store.rate_answer("unknown", "bob", liked=True)
    assert await store.ratings(KEY) == [
        Rating(KEY, first.created_at, likes=1, dislikes=1),
        Rating(KEY, second.created_at, likes=0, dislikes=1),
    ]
    assert await store.ratings(OTHER) == []
    assert await store.ratings() == await store.ratings(KEY)


async def test_forget_also_deletes_what_a_person_viewed_and_rated(store: Store) -> None:
    await append_turns(store, KEY, 1, asker="bob")
    (answer,) = [m for m in await store.load(KEY, 1000) if m.role is Role.ASSISTANT]
    await store.record_answer(KEY, ["m1"], answer.created_at)
    for person in ("alice", "carol"):
        await store.remember_viewing(person, "{}")
        assert await store.rate_answer("m1", person, liked=True)
    await store.forget("alice")
    assert await store.recall_viewing("alice") is None
    assert await store.recall_viewing("carol") == "{}"
    assert await store.ratings(KEY) == [Rating(KEY, answer.created_at, likes=1, dislikes=0)]
