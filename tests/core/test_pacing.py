"""A channel's write budget, shared by the answers streaming there."""

from __future__ import annotations

from bot.pacing import MAX_CHANNELS, WINDOW_SECONDS, ChannelWrites


def test_the_channel_budget_lets_interim_edits_through_only_while_slots_remain() -> None:
    now = [0.0]
    edits = ChannelWrites(3, clock=lambda: now[0])
    edits.spend(1)  # a post
    assert edits.take(1) and edits.take(1)
    assert not edits.take(1), "the window is full: an interim edit yields"
    assert edits.take(2), "another channel has its own budget"
    edits.spend(1)  # a final text goes regardless, and counts
    now[0] = WINDOW_SECONDS + 0.1
    assert edits.take(1)


def test_quiet_channels_are_forgotten_but_a_new_one_keeps_its_writes() -> None:
    now = [0.0]
    writes = ChannelWrites(1, clock=lambda: now[0])
    for channel in range(MAX_CHANNELS + 1):
        writes.spend(channel)
    now[0] = WINDOW_SECONDS + 0.1  # all of them quiet now
    writes.spend("new")  # forgets the quiet ones, and must still count this write
    assert not writes.take("new"), "the new channel's write was counted"
    assert len(writes._writes) == 1
