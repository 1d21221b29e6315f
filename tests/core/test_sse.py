"""Reading a chat completions stream: server-sent events as the standard frames them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.llm.sse import events


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def _read(*parts: bytes) -> list[object]:
    return [event async for event in events(_chunks(*parts))]


async def test_each_event_is_its_json_data_until_done() -> None:
    stream = b'data: {"a": 1}\n\ndata: {"b": 2}\n\ndata: [DONE]\n\n'
    assert await _read(stream) == [{"a": 1}, {"b": 2}]


@pytest.mark.parametrize("cut", range(1, 30))
async def test_an_event_cut_anywhere_between_chunks_reads_the_same(cut: int) -> None:
    stream = b'data: {"text": "h\xc3\xa9"}\r\n\r\ndata: [DONE]\r\n\r\n'
    assert await _read(stream[:cut], stream[cut:]) == [{"text": "hé"}]


async def test_data_lines_join_and_other_fields_and_comments_are_ignored() -> None:
    stream = b': keep-alive\n\nevent: chunk\nid: 7\ndata: {"a":\ndata:[1, 2]}\n\n'
    assert await _read(stream) == [{"a": [1, 2]}]


async def test_line_separators_inside_a_string_do_not_end_a_line() -> None:
    """U+2028 and NEL are line breaks to str.splitlines, not to SSE."""
    stream = 'data: {"text": "a\u2028b\x85c"}\n\n'.encode()
    assert await _read(stream) == [{"text": "a\u2028b\x85c"}]


async def test_what_follows_done_is_read_and_dropped() -> None:
    stream = b'data: [DONE]\n\ndata: {"late": true}\n\n'
    assert await _read(stream) == []


async def test_a_garbled_event_raises() -> None:
    with pytest.raises(ValueError):
        await _read(b"data: {not json\n\n")
