"""Incremental decoding and stop strings: what turns token ids into clean streamed text."""

from __future__ import annotations

from pathlib import Path

from transformers import AutoTokenizer

from bot.llm.local.text import IncrementalDecoder, StopFilter


def test_incremental_decoding_matches_whole_decoding_for_multibyte_text(
    chat_model_dir: Path,
) -> None:
    tokenizer = AutoTokenizer.from_pretrained(chat_model_dir)
    text = "Café, naïve über 東京 🙂 and the quick brown fox!"
    ids = tokenizer.encode(text, add_special_tokens=False)
    decoder = IncrementalDecoder(tokenizer.decode)

    pieces = [decoder.add(token) for token in ids]
    pieces.append(decoder.flush())

    assert "".join(pieces) == text
    assert not any("\ufffd" in piece for piece in pieces)  # never half a character
    assert len([p for p in pieces if p]) > 5


def test_a_lone_partial_character_is_released_at_the_end(chat_model_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(chat_model_dir)
    emoji_ids = tokenizer.encode("🙂", add_special_tokens=False)
    assert len(emoji_ids) > 1  # byte-level BPE splits it
    decoder = IncrementalDecoder(tokenizer.decode)

    assert decoder.add(emoji_ids[0]) == ""
    assert decoder.flush() == tokenizer.decode(emoji_ids[:1])


def test_stop_filter_trims_the_stop_string_and_what_follows() -> None:
    stops = StopFilter(["\nUser:"])
    released = [stops.feed(piece) for piece in ["Hello", " there\n", "Us", "er: next", " line"]]
    assert "".join(released) == "Hello there"
    assert stops.stopped
    assert stops.flush() == ""


def test_stop_filter_holds_back_a_possible_start_then_releases_it() -> None:
    stops = StopFilter(["\nUser:", "\nAssistant:"])
    assert stops.feed("one\nUs") == "one"  # "\nUs" may become "\nUser:"
    assert stops.feed("e it") == "\nUse it"
    assert stops.feed("\nAss") == ""
    assert stops.flush() == "\nAss"
    assert not stops.stopped


def test_stop_filter_without_stops_passes_everything() -> None:
    stops = StopFilter([])
    assert stops.feed("a\nUser:") == "a\nUser:"
