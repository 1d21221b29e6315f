"""The window kept in memory trims exactly as the plain rules say, on random conversations."""

from __future__ import annotations

import random

from bot import context
from bot.history import History, Timeline, weight
from bot.types import ChatMessage, Role, ToolCall


def reference_build(
    system: ChatMessage, history: list[ChatMessage], current: ChatMessage, budget: int
) -> list[ChatMessage]:
    """The budget rules written plainly (what context.build did before the running sums):
    whole units newest first while they fit, a tool call's unit holding its tool messages, then
    no answer or tool message left at the start."""
    room = budget - system.tokens
    if current.tokens > room:
        current = context.cut_to_fit(current, room, count)
    room -= current.tokens
    units: list[list[ChatMessage]] = []
    for message in history:
        if message.role is Role.TOOL and units and units[-1][0].tool_calls:
            units[-1].append(message)
        else:
            units.append([message])
    kept_units: list[list[ChatMessage]] = []
    for unit in reversed(units):
        tokens = sum(message.tokens for message in unit)
        if tokens > room:
            break
        kept_units.append(unit)
        room -= tokens
    kept = [message for unit in reversed(kept_units) for message in unit]
    while kept and kept[0].role in (Role.ASSISTANT, Role.TOOL):
        kept.pop(0)
    return [system, *kept, current]


def count(message: ChatMessage) -> int:
    return len(message.content)


def reference_load(messages: list[ChatMessage], max_weight: int) -> list[ChatMessage]:
    """Store.load's rule: the newest messages whose weights fit."""
    kept: list[ChatMessage] = []
    for message in reversed(messages):
        max_weight -= weight(message.tokens)
        if max_weight < 0:
            break
        kept.append(message)
    return kept[::-1]


def random_message(rng: random.Random, index: int) -> ChatMessage:
    tokens = rng.choice([0, 1, 2, 5, 10, 30])
    kind = rng.random()
    if kind < 0.4:
        return ChatMessage(Role.USER, f"q{index}", tokens=tokens)
    if kind < 0.75:
        return ChatMessage(Role.ASSISTANT, f"a{index}", tokens=tokens)
    if kind < 0.85:
        calls = (ToolCall(f"c{index}", "time.now", "{}"),)
        return ChatMessage(Role.ASSISTANT, "", tokens=tokens, tool_calls=calls)
    if kind < 0.97:
        return ChatMessage(Role.TOOL, f"r{index}", tokens=tokens, tool_call_id=f"c{index}")
    return ChatMessage(Role.SYSTEM, f"s{index}", tokens=tokens)


def test_build_keeps_what_the_plain_rules_keep_on_random_conversations() -> None:
    rng = random.Random(15)
    system, current = (
        ChatMessage(Role.SYSTEM, "s", tokens=3),
        ChatMessage(Role.USER, "now", tokens=4),
    )
    for trial in range(400):
        history = [random_message(rng, n) for n in range(rng.randrange(0, 40))]
        budget = rng.randrange(0, 300)
        expected = reference_build(system, history, current, budget)
        assert context.build(system, history, current, budget, count) == expected, trial


def test_a_timeline_grown_and_trimmed_turn_by_turn_gives_what_a_fresh_load_gives() -> None:
    rng = random.Random(7)
    for trial in range(60):
        reach = rng.randrange(1, 200)
        stored: list[ChatMessage] = []
        timeline = Timeline()
        for step in range(30):
            new = [random_message(rng, len(stored) + n) for n in range(rng.randrange(0, 6))]
            stored.extend(new)
            timeline.extend(new)
            timeline.keep_within(reach)
            assert timeline.view().messages() == reference_load(stored, reach), (trial, step)
            asked = rng.randrange(-5, reach + 1)
            loaded = reference_load(stored, asked)
            assert timeline.view().within(asked).messages() == loaded, (trial, step)
            system = ChatMessage(Role.SYSTEM, "s", tokens=rng.randrange(0, 20))
            current = ChatMessage(Role.USER, "now", tokens=rng.randrange(0, 20))
            budget = rng.randrange(0, 250)
            built = context.build(system, timeline.view().within(asked), current, budget, count)
            assert built == reference_build(system, loaded, current, budget), (trial, step)


def test_a_view_taken_earlier_stays_as_it_was_while_the_timeline_moves_on() -> None:
    timeline = Timeline(ChatMessage(Role.USER, f"q{n}", tokens=1) for n in range(100))
    earlier = timeline.view()
    timeline.extend(ChatMessage(Role.USER, f"later{n}", tokens=1) for n in range(300))
    timeline.keep_within(50)  # drops most of the front: the timeline copies its storage
    assert [m.content for m in earlier] == [f"q{n}" for n in range(100)]
    assert [m.content for m in timeline.view()] == [f"later{n}" for n in range(250, 300)]
    assert len(timeline) == 50


def test_followed_by_appends_what_was_read_before_and_bytes_shrink_when_trimmed() -> None:
    history = History.of([ChatMessage(Role.USER, "q", tokens=1)])
    prior = [ChatMessage(Role.ASSISTANT, "a", tokens=1)]
    assert [m.content for m in history.followed_by(prior)] == ["q", "a"]
    assert history.followed_by([]) is history
    timeline = Timeline(ChatMessage(Role.USER, "x" * 100, tokens=1) for _ in range(10))
    full = timeline.bytes
    timeline.keep_within(5)
    assert timeline.bytes * 2 == full
