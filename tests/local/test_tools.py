"""Tool calling on the local backend: the capability flag from the chat template, the tools and
past calls rendered through it, and Hermes-form calls read back out of the generated text.

A tiny random model cannot decide to call a tool, so the turns here use a scripted model thread:
a stand-in for the batch scheduler (the backend's constructor takes one) that feeds the token ids
of a written answer, one by one, through the real per-turn pipeline (`Row`: the incremental
decoder and stop strings) that the batch scheduler uses.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from transformers import AutoTokenizer

from bot.config import Settings
from bot.llm.base import GenerationOptions, ToolSpec
from bot.llm.local.backend import LocalBackend
from bot.llm.local.load import load_model
from bot.llm.local.options import LocalOptions
from bot.llm.local.prompt import render_prompt
from bot.llm.local.row import Event, GenerationRequest, Row
from bot.llm.local.tools import CLOSE, OPEN, ToolCallReader, takes_tools
from bot.store.base import AuditQuery
from bot.tools.names import core_names, wire_name
from bot.types import ChatMessage, Role, ToolCall
from bot.wiring import open_runtime
from tests.local.helpers import collect, conversation, text_of
from tests.support.events import message
from tests.support.sinks import RecordingSink
from tests.support.tiny_model import build_tiny_model

# A Hermes-form template shaped like Qwen2.5-Instruct's: tools listed in the system turn, calls
# as <tool_call> JSON in the assistant turn, results as <tool_response> in a user turn.
HERMES_TEMPLATE = (
    "{{ bos_token }}"
    "{%- if tools %}<|system|>"
    "{%- if messages[0].role == 'system' %}{{ messages[0].content }}\n{% endif %}"
    "# Tools\n<tools>{% for tool in tools %}\n{{ tool | tojson }}{% endfor %}\n</tools>\n"
    'Call one as <tool_call>{"name": <name>, "arguments": <object>}</tool_call>'
    "{{ eos_token }}"
    "{%- elif messages[0].role == 'system' %}<|system|>{{ messages[0].content }}{{ eos_token }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if message.role == 'tool' %}"
    "<|user|><tool_response>{{ message.content }}</tool_response>{{ eos_token }}"
    "{%- elif message.role != 'system' %}<|{{ message.role }}|>{{ message.content }}"
    "{%- for call in message.tool_calls or [] %}"
    '<tool_call>{"name": "{{ call.function.name }}", '
    '"arguments": {{ call.function.arguments | tojson }}}</tool_call>'
    "{%- endfor %}{{ eos_token }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}<|assistant|>{% endif %}"
)
NOW = ToolSpec(
    "time.now",
    "The current date and time.",
    {"type": "object", "properties": {"timezone": {"type": "string"}}},
)
WIRE = wire_name(NOW.name)
OFFERED = core_names([NOW])
TOOLED = GenerationOptions(model="", max_tokens=200, temperature=0.0, tools=(NOW,))


@pytest.fixture(scope="session")
def tools_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(
        tmp_path_factory.mktemp("tools-model"), chat_template=HERMES_TEMPLATE, max_positions=2048
    )


class ScriptedThread:
    """The batch scheduler's place, for turns whose text is written in advance: each submitted
    turn writes the next of `answers` as token ids through a real Row, then end-of-sequence."""

    def __init__(self, tokenizer: Any, answers: Sequence[str]) -> None:
        self._tokenizer = tokenizer
        self._answers = list(answers)
        self.requests: list[GenerationRequest] = []
        self.pieces: list[str] = []
        self.alive = True

    def submit(self, request: GenerationRequest, deliver: Callable[[Event], None]) -> Row:
        self.requests.append(request)

        def record(event: Event) -> None:
            if isinstance(event, str):
                self.pieces.append(event)
            deliver(event)

        tokenizer = self._tokenizer
        row = Row(request, record, lambda ids: tokenizer.decode(ids, skip_special_tokens=True))
        eos = tokenizer.eos_token_id
        for token in tokenizer.encode(self._answers.pop(0), add_special_tokens=False):
            row.accept(token, frozenset({eos}))
        row.accept(eos, frozenset({eos}))
        return row

    def close(self) -> None:
        self.alive = False


async def scripted_backend(config: Settings, *answers: str) -> LocalBackend:
    """A LocalBackend over the model's real tokenizer (loaded by the real loading code)."""
    options = LocalOptions.from_settings(config)
    loaded = await asyncio.to_thread(load_model, options)
    return LocalBackend(loaded, ScriptedThread(loaded.tokenizer, answers), options)  # type: ignore[arg-type]


def call(name: str, arguments: dict[str, Any]) -> str:
    return f"{OPEN}\n{json.dumps({'name': name, 'arguments': arguments})}\n{CLOSE}"


def read(pieces: Sequence[str]) -> tuple[str, list[ToolCall]]:
    reader = ToolCallReader(OFFERED)
    shown = "".join(reader.feed(piece) for piece in pieces) + reader.finish()
    return shown, reader.calls


def test_the_flag_follows_the_template(tools_model_dir: Path, chat_model_dir: Path) -> None:
    assert takes_tools(AutoTokenizer.from_pretrained(tools_model_dir))
    assert not takes_tools(AutoTokenizer.from_pretrained(chat_model_dir))


async def test_a_model_whose_template_reads_no_tools_is_offered_none(
    load_backend, chat_model_dir: Path, plain_model_dir: Path
) -> None:
    assert not (await load_backend(chat_model_dir)).capabilities.tools
    assert not (await load_backend(plain_model_dir)).capabilities.tools


def test_the_prompt_carries_the_schema_and_an_earlier_call_and_its_result(
    tools_model_dir: Path,
) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tools_model_dir)
    asked = ToolCall("call_1", "time.now", '{"timezone": "Asia/Tokyo"}')
    messages = [
        *conversation("what time is it in Tokyo?"),
        ChatMessage(Role.ASSISTANT, "Let me look.", tool_calls=(asked,)),
        ChatMessage(Role.TOOL, "Monday 09:00 Asia/Tokyo", tool_call_id="call_1"),
        ChatMessage(Role.ASSISTANT, "It is nine."),
        ChatMessage(Role.USER, "thanks"),
    ]

    text = tokenizer.decode(render_prompt(tokenizer, messages, (NOW,), takes_tools=True).ids)

    schema = {
        "type": "function",
        "function": {
            "name": WIRE,
            "description": NOW.description,
            "parameters": dict(NOW.parameters),
        },
    }
    assert json.dumps(schema) in text
    assert (
        f'<|assistant|>Let me look.<tool_call>{{"name": "{WIRE}", '
        '"arguments": {"timezone": "Asia/Tokyo"}}</tool_call><|eos|>'
        "<|user|><tool_response>Monday 09:00 Asia/Tokyo</tool_response><|eos|>"
        "<|assistant|>It is nine.<|eos|><|user|>thanks<|eos|><|assistant|>"
    ) in text


def test_without_tool_support_results_are_left_out_and_answers_kept(chat_model_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(chat_model_dir)
    asked = ToolCall("call_1", "time.now", "{}")
    messages = [
        ChatMessage(Role.USER, "time?"),
        ChatMessage(Role.ASSISTANT, "", tool_calls=(asked,)),
        ChatMessage(Role.TOOL, "Monday", tool_call_id="call_1"),
        ChatMessage(Role.ASSISTANT, "It is Monday."),
    ]

    text = tokenizer.decode(render_prompt(tokenizer, messages).ids)

    assert text == "<|bos|><|user|>time?<|eos|>\n<|assistant|>It is Monday.<|eos|>\n<|assistant|>"


def test_a_tag_split_across_pieces_is_hidden_and_read() -> None:
    written = "Let me check. " + call(WIRE, {"timezone": "Europe/Paris"})
    pieces = [written[i : i + 3] for i in range(0, len(written), 3)]
    assert any(OPEN not in piece and piece in OPEN and len(piece) > 1 for piece in pieces)

    shown, calls = read(pieces)

    assert shown == "Let me check. "
    [made] = calls
    assert (made.name, json.loads(made.arguments)) == ("time.now", {"timezone": "Europe/Paris"})


def test_text_is_released_as_it_comes_and_only_a_possible_tag_is_held() -> None:
    reader = ToolCallReader(OFFERED)
    assert reader.feed("It is <b>") == "It is <b>"
    assert reader.feed(" noon <tool") == " noon "
    assert reader.feed("ing>") == "<tooling>"
    assert reader.finish() == "" and reader.calls == []


def test_two_calls_get_distinct_ids_and_the_whitespace_between_is_markup() -> None:
    text = call(WIRE, {"timezone": "UTC"}) + "\n" + call("other", {}) + "\n"

    shown, calls = read([text])

    assert shown == ""
    assert [c.name for c in calls] == ["time.now", "other"]
    assert [json.loads(c.arguments) for c in calls] == [{"timezone": "UTC"}, {}]
    assert calls[0].id != calls[1].id


def test_bad_json_is_passed_on_as_the_arguments_text() -> None:
    body = f'{{"name": "{WIRE}", "arguments": {{"timezone": "UTC"'

    shown, [made] = read([f"{OPEN}{body}{CLOSE}"])

    assert (shown, made.name, made.arguments) == ("", "time.now", body)


def test_a_call_left_open_at_the_end_still_counts() -> None:
    shown, [made] = read([OPEN, f'{{"name": "{WIRE}", "arguments": {{}}}}'])
    assert (shown, made.name, made.arguments) == ("", "time.now", "{}")


async def test_the_backend_streams_the_text_and_emits_the_calls(tools_model_dir: Path) -> None:
    written = "Checking. " + call(WIRE, {"timezone": "UTC"})
    backend = await scripted_backend(Settings(model=str(tools_model_dir)), written)
    assert backend.capabilities.tools
    tokenizer = AutoTokenizer.from_pretrained(tools_model_dir)
    assert len(tokenizer.encode(OPEN, add_special_tokens=False)) > 1  # the tag comes in pieces

    deltas = await collect(backend.stream(conversation("time?"), TOOLED))

    assert text_of(deltas) == "Checking. "
    assert all(OPEN not in d.text and "{" not in d.text for d in deltas)
    last = deltas[-1]
    assert last.finish_reason == "tool_calls" and last.usage is not None
    [made] = last.tool_calls
    assert (made.name, json.loads(made.arguments)) == ("time.now", {"timezone": "UTC"})
    prompt = tokenizer.decode(backend.scheduler.requests[0].prompt_ids)  # type: ignore[attr-defined]
    assert "<tools>" in prompt and WIRE in prompt


async def test_a_turn_calls_the_builtin_tool_and_answers_with_its_result(
    tools_model_dir: Path, tmp_path: Path
) -> None:
    written = [call(WIRE, {"timezone": "Asia/Tokyo"}), "It is late in Tokyo."]
    settings = Settings(model=str(tools_model_dir), data_dir=tmp_path)
    backend = await scripted_backend(settings, *written)
    async with open_runtime(settings, backend=backend) as runtime:
        sink = RecordingSink()
        await runtime.dialogue.handle(message("what time is it in Tokyo?"), sink)
        audit = await runtime.store.tool_calls(AuditQuery())
    assert sink.final == "It is late in Tokyo."
    [record] = audit
    assert (record.tool, record.outcome) == ("time.now", "ok")
    tokenizer = AutoTokenizer.from_pretrained(tools_model_dir)
    second = tokenizer.decode(backend.scheduler.requests[1].prompt_ids)  # type: ignore[attr-defined]
    assert "<tool_response>" in second and "Asia/Tokyo" in second
