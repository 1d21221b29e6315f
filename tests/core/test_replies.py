"""Splitting long answers and relaying a stream into a sink."""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from bot.llm.base import BackendError, FailureKind
from bot.replies import Outcome, relay, split_message
from bot.types import Delta
from tests.support.sinks import RecordingSink

FENCE = "```"


def test_short_text_is_one_piece():
    assert split_message("hello", 2000) == ["hello"]


def test_paragraphs_are_preferred_boundaries():
    text = "a" * 1500 + "\n\n" + "b" * 1000
    assert split_message(text, 2000) == ["a" * 1500 + "\n\n", "b" * 1000]


def test_a_code_block_across_the_limit_is_closed_and_reopened_with_its_language():
    code = "\n".join(f"print({n})" for n in range(400))
    text = f"Here:\n```python\n{code}\n```\nDone."
    pieces = split_message(text, 2000)
    assert len(pieces) > 1
    for piece in pieces:
        assert len(piece) <= 2000
        assert piece.count(FENCE) % 2 == 0
    assert pieces[1].startswith("```python\n")


@given(st.text(alphabet=st.sampled_from(list("ab \n.`py")), max_size=3000), st.integers(60, 500))
def test_pieces_fit_and_keep_every_character(text, limit):
    pieces = split_message(text, limit)
    assert all(len(piece) <= limit for piece in pieces)
    assert "".join(pieces).replace(FENCE, "").replace("\n", "").replace(" ", "").replace(
        "p", ""
    ).replace("y", "") == text.replace(FENCE, "").replace("\n", "").replace(" ", "").replace(
        "p", ""
    ).replace("y", "")


@given(st.text(max_size=2500), st.integers(1, 2500))
def test_earlier_pieces_never_change_as_the_text_grows(text, grow_at):
    limit = 300
    before = split_message(text[:grow_at], limit)
    after = split_message(text, limit)
    assert after[: len(before) - 1] == before[:-1]


async def deltas(pieces, pause=0.0, fail_after=None):
    for index, piece in enumerate(pieces):
        if fail_after is not None and index == fail_after:
            raise BackendError(FailureKind.INTERRUPTED)
        await asyncio.sleep(pause)
        yield Delta(piece)


async def test_updates_are_throttled_to_the_sink_interval():
    sink = RecordingSink(min_edit_interval=0.2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = await relay(deltas(["x"] * 50, pause=0.02), sink, asyncio.Event())
    took = loop.time() - started
    assert result.outcome is Outcome.COMPLETE and sink.final == "x" * 50
    assert 3 <= len(sink.updates) <= took / 0.2 + 1  # one per 0.2 s at most, not one per piece
    assert sink.updates[0] == "x"  # the first words are shown at once


async def test_a_failure_after_some_text_keeps_it_with_a_note():
    sink = RecordingSink()
    result = await relay(deltas(["a", "b", "c"], fail_after=2), sink, asyncio.Event())
    assert result.outcome is Outcome.FAILED
    assert sink.final.startswith("ab\n\n_(")


async def test_an_empty_answer_is_said_plainly():
    sink = RecordingSink()
    await relay(deltas([]), sink, asyncio.Event())
    assert "empty" in sink.final


class SlowSink(RecordingSink):
    """A platform whose edits take a while, so the answer can end while one is on its way."""

    async def update(self, text: str) -> None:
        await asyncio.sleep(0.2)
        await super().update(text)


async def test_an_update_in_flight_is_let_through_before_the_final_text():
    sink = SlowSink(min_edit_interval=0.05)
    await relay(deltas(["alpha ", "beta"], pause=0.05), sink, asyncio.Event())
    assert sink.updates == ["alpha "]  # started before the end, so it completed
    assert sink.final == "alpha beta"
