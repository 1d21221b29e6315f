"""Pure text helpers on arbitrary input: Discord mention stripping and splitting long answers."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.discord.translate import strip_mention
from bot.replies import split_message
from tests.fuzz.strategies import FUZZ, chat_text

BOT_ID = 1234567890
mention = st.sampled_from([f"<@{BOT_ID}>", f"<@!{BOT_ID}>", "<@42>", "<@&77>", "@everyone"])
discord_text = st.lists(st.one_of(st.text(max_size=30), mention), max_size=8).map("".join)
answer_text = st.lists(
    st.one_of(
        st.text(max_size=60),
        st.sampled_from(["```", "```python\n", "```" + "x" * 30 + "\n", "\n", "\n\n", ". ", " "]),
    ),
    max_size=30,
).map("".join)
limits = st.integers(min_value=40, max_value=400)


@settings(**FUZZ)
@given(text=discord_text)
def test_strip_mention_takes_any_text(text: str) -> None:
    stripped = strip_mention(text, BOT_ID)
    assert stripped == stripped.strip()
    assert len(stripped) <= len(text)
    assert f"<@{BOT_ID}>" not in stripped and f"<@!{BOT_ID}>" not in stripped


@settings(**FUZZ)
@given(words=st.text().filter(lambda text: "<@" not in text))
def test_strip_mention_removes_the_bots_mention_and_nothing_else(words: str) -> None:
    assert strip_mention(f"<@{BOT_ID}> {words}", BOT_ID) == words.strip()
    assert strip_mention(f"<@!{BOT_ID}>{words}", BOT_ID) == words.strip()
    assert strip_mention(f"{words} <@42>", BOT_ID) == f"{words} <@42>".strip()


@settings(**FUZZ)
@given(text=answer_text | chat_text, max_len=limits)
def test_every_piece_fits_and_plain_text_survives_whole(text: str, max_len: int) -> None:
    pieces = split_message(text, max_len)
    assert all(len(piece) <= max_len for piece in pieces)
    if "```" not in text:
        assert "".join(pieces) == text


@settings(**FUZZ)
@given(text=answer_text, cut=st.integers(min_value=0), max_len=limits)
def test_pieces_already_sent_never_change_as_the_answer_grows(
    text: str, cut: int, max_len: int
) -> None:
    early = split_message(text[: cut % (len(text) + 1)], max_len)
    assert split_message(text, max_len)[: len(early) - 1] == early[:-1]
