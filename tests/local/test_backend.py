"""LocalBackend end to end over a tiny random model: streaming, batching, stops, cancellation."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from bot.llm.base import BackendError, FailureKind, GenerationOptions
from bot.llm.local.batch import PREFILL_CHUNK
from bot.llm.local.prompt import PLAIN_STOPS
from tests.local.helpers import GREEDY, collect, conversation, text_of

PREFILL_DTYPES = pytest.mark.parametrize("prefill", ["model", "bfloat16"])
"""Prompts read in the model's float32, or in bfloat16 (each on its own): alike to a row."""
QUESTIONS = [
    "hi",
    "What is the capital of France?",
    "Tell me about the quick brown fox " * 3,
    "Numbers 0 1 2 3 4 5 6 7 8 9 " * 5,
    "Café? 東京? " * 8,
]


def reference_answer(model_dir: Path, prompt_ids: tuple[int, ...], max_new_tokens: int) -> str:
    """What transformers' own greedy `generate` answers for these prompt ids, alone."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    output = model.generate(
        torch.tensor([prompt_ids]), max_new_tokens=max_new_tokens, do_sample=False
    )
    return tokenizer.decode(output[0][len(prompt_ids) :], skip_special_tokens=True)


async def test_streams_several_deltas_that_add_up_to_the_greedy_answer(
    load_backend, chat_model_dir: Path
) -> None:
    # float32 throughout, as the reference: bfloat16 prompts may round to another answer.
    backend = await load_backend(chat_model_dir, local_prefill_dtype="model")
    messages = conversation("What is the capital of France?", name="alice")

    deltas = await collect(backend.stream(messages, GREEDY))

    request = backend.request(messages, GREEDY)
    assert text_of(deltas) == reference_answer(chat_model_dir, request.prompt_ids, 24)
    assert len([d for d in deltas if d.text]) >= 3
    last = deltas[-1]
    assert last.finish_reason in ("stop", "length")
    assert last.usage is not None
    assert last.usage.input_tokens == backend.count_tokens(messages, "")
    assert 0 < last.usage.output_tokens <= 24


@PREFILL_DTYPES
async def test_concurrent_conversations_are_batched_and_answer_as_if_alone(
    load_backend, chat_model_dir: Path, prefill: str
) -> None:
    backend = await load_backend(
        chat_model_dir, local_batch_window_ms=50, local_prefill_dtype=prefill
    )
    chats = [conversation(q, name=f"user{i}") for i, q in enumerate(QUESTIONS)]

    alone = [text_of(await collect(backend.stream(chat, GREEDY))) for chat in chats]
    assert backend.scheduler.largest_batch == 1
    together = await asyncio.gather(*(collect(backend.stream(chat, GREEDY)) for chat in chats))

    assert [text_of(deltas) for deltas in together] == alone
    assert backend.scheduler.largest_batch == len(chats)
    lengths = {len(backend.request(chat, GREEDY).prompt_ids) for chat in chats}
    assert len(lengths) == len(chats)  # every row padded differently


@PREFILL_DTYPES
async def test_a_turn_joining_a_running_batch_answers_as_if_alone(
    load_backend, chat_model_dir: Path, prefill: str
) -> None:
    backend = await load_backend(
        chat_model_dir, local_batch_window_ms=0, local_prefill_dtype=prefill
    )
    first, late = conversation(QUESTIONS[3]), conversation(QUESTIONS[1])
    long_run = dataclasses.replace(
        backend.request(first, GREEDY),
        sampling=dataclasses.replace(backend.request(first, GREEDY).sampling, max_new_tokens=300),
    )
    first_alone = text_of(await collect(backend.generate(long_run)))
    late_alone = text_of(await collect(backend.stream(late, GREEDY)))

    running = backend.generate(long_run)
    head = [await anext(running)]
    late_deltas = await collect(backend.stream(late, GREEDY))
    rest = await collect(running)

    assert backend.scheduler.largest_batch == 2  # it joined mid-way
    assert text_of(late_deltas) == late_alone
    assert text_of(head + rest) == first_alone


async def test_stop_strings_end_the_answer_and_are_trimmed(
    load_backend, chat_model_dir: Path
) -> None:
    backend = await load_backend(chat_model_dir)
    request = backend.request(conversation("hi"), GREEDY)
    full = await collect(backend.generate(request))
    full_text = text_of(full)
    stop = full_text[6:9]
    assert len(stop) == 3

    stopped = await collect(backend.generate(dataclasses.replace(request, stops=(stop,))))

    assert text_of(stopped) == full_text[: full_text.index(stop)]
    assert stopped[-1].finish_reason == "stop"
    assert stopped[-1].usage.output_tokens < full[-1].usage.output_tokens


async def test_a_base_model_without_template_uses_the_plain_fallback(
    load_backend, plain_model_dir: Path
) -> None:
    backend = await load_backend(plain_model_dir, local_prefill_dtype="model")
    messages = conversation("What is the capital of France?", name="alice")
    request = backend.request(messages, GREEDY)
    prompt = AutoTokenizer.from_pretrained(plain_model_dir).decode(request.prompt_ids)

    deltas = await collect(backend.stream(messages, GREEDY))

    assert prompt.endswith("User: alice: What is the capital of France?\nAssistant:")
    assert request.stops == PLAIN_STOPS
    expected = reference_answer(plain_model_dir, request.prompt_ids, 24)
    cut = min((i for i in map(expected.find, PLAIN_STOPS) if i >= 0), default=len(expected))
    assert text_of(deltas) == expected[:cut]


async def test_cancelled_turns_leave_the_batch_and_others_complete(
    load_backend, chat_model_dir: Path
) -> None:
    backend = await load_backend(chat_model_dir, local_batch_window_ms=50)
    scheduler = backend.scheduler
    long_answer = GenerationOptions(model="", max_tokens=1500, temperature=0.0)

    def endless(question: str):
        return backend.generate(
            backend.request(conversation(question), long_answer, ignore_eos=True)
        )

    closed_early = endless("first")
    cancelled_task_stream = endless("second")
    finishing = backend.stream(conversation("third"), GREEDY)

    async def consume_forever() -> None:
        async for _ in cancelled_task_stream:
            pass

    heads = await asyncio.gather(
        *(anext(s) for s in (closed_early, cancelled_task_stream, finishing))
    )
    task = asyncio.create_task(consume_forever())
    await asyncio.sleep(0)  # let the task start iterating
    await closed_early.aclose()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    completed = [heads[2], *await collect(finishing)]

    for _ in range(3000):  # a generous 30 s for the model thread to notice
        if not scheduler.live_rows:
            break
        await asyncio.sleep(0.01)
    assert all(head.text for head in heads)
    assert completed[-1].finish_reason in ("stop", "length")
    assert scheduler.largest_batch == 3
    assert scheduler.live_rows == 0
    assert scheduler.tokens_generated < 1500  # neither cancelled turn ran to its 1,500 tokens


async def test_sampling_with_a_seed_is_reproducible(load_backend, chat_model_dir: Path) -> None:
    backend = await load_backend(chat_model_dir, seed=7, top_p=0.9, repetition_penalty=1.3)
    sampled = GenerationOptions(model="", max_tokens=24, temperature=1.0)
    messages = conversation("hi")

    first = text_of(await collect(backend.stream(messages, sampled)))
    second = text_of(await collect(backend.stream(messages, sampled)))
    greedy = text_of(await collect(backend.stream(messages, GREEDY)))

    assert first == second
    assert first != greedy


async def test_count_tokens_and_context_window(load_backend, chat_model_dir: Path) -> None:
    backend = await load_backend(chat_model_dir)
    short, long = conversation("hi"), conversation("hi " * 50)

    assert 0 < backend.count_tokens(short, "") < backend.count_tokens(long, "")
    assert backend.context_window("") == 2048  # the tiny model's max_position_embeddings
    configured = await load_backend(chat_model_dir, context_window=1024)
    assert configured.context_window("") == 1024


async def test_a_prompt_longer_than_the_window_is_refused(
    load_backend, chat_model_dir: Path
) -> None:
    backend = await load_backend(chat_model_dir, context_window=256)

    with pytest.raises(BackendError) as caught:
        await collect(backend.stream(conversation("hello " * 300), GREEDY))

    assert caught.value.kind is FailureKind.CONTEXT_TOO_LONG


async def test_ping_and_aclose(load_backend, chat_model_dir: Path) -> None:
    backend = await load_backend(chat_model_dir)
    await backend.ping()

    await backend.aclose()

    with pytest.raises(BackendError) as caught:
        await backend.ping()
    assert caught.value.kind is FailureKind.UNAVAILABLE
    with pytest.raises(BackendError):
        await collect(backend.stream(conversation("hi"), GREEDY))


@PREFILL_DTYPES
async def test_a_long_prompt_joins_in_chunks_and_leaves_without_changing_any_answer(
    load_backend, chat_model_dir: Path, prefill: str
) -> None:
    backend = await load_backend(
        chat_model_dir, local_batch_window_ms=50, local_prefill_dtype=prefill
    )
    backend.scheduler.prefill_seconds = 0.0  # the smallest chunks: this tiny model is fast
    backend.scheduler.alone_chunk = 64  # in bfloat16 too (the size must not change meanwhile)
    long_answer = GenerationOptions(model="", max_tokens=120, temperature=0.0)
    runners = [
        backend.request(conversation(q), long_answer, ignore_eos=True) for q in QUESTIONS[:3]
    ]
    # Longer than a prefill chunk, and it leaves first: its width is trimmed off the others.
    late = backend.request(conversation("Tell me more. " * 60), GREEDY)
    assert len(late.prompt_ids) > PREFILL_CHUNK
    alone = [text_of(await collect(backend.generate(r))) for r in [*runners, late]]

    running = [backend.generate(r) for r in runners]
    heads = await asyncio.gather(*(anext(s) for s in running))
    late_text = text_of(await collect(backend.generate(late)))
    rests = await asyncio.gather(*(collect(s) for s in running))

    assert backend.scheduler.largest_batch == 4  # it joined the three mid-way
    assert [text_of([h, *r]) for h, r in zip(heads, rests, strict=True)] == alone[:3]
    assert late_text == alone[3]


@pytest.mark.parametrize("prefill", ["model", "bfloat16"])
async def test_in_bfloat16_each_prompt_is_read_alone_in_fixed_chunks(
    load_backend, chat_model_dir: Path, prefill: str
) -> None:
    # bfloat16 rounds by a pass's shapes: a row's answer stays its own only if its prompt is
    # read alone, in chunks of a size its company cannot change. Seen at the model's embedding.
    backend = await load_backend(
        chat_model_dir, local_batch_window_ms=200, local_prefill_dtype=prefill
    )
    backend.scheduler.alone_chunk = 64
    prompts = [conversation(f"Question {n}: " + "tell me more. " * (30 + 10 * n)) for n in range(3)]
    passes: list[tuple[int, int, bool]] = []

    def seen(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        if isinstance(module, torch.nn.Embedding) and inputs[0].shape[1] > 1:  # a prefill
            batch, columns = inputs[0].shape
            passes.append((batch, columns, torch.is_autocast_enabled("cpu")))

    hook = torch.nn.modules.module.register_module_forward_pre_hook(seen)
    try:
        await asyncio.gather(*(collect(backend.stream(chat, GREEDY)) for chat in prompts))
    finally:
        hook.remove()

    assert backend.scheduler.largest_batch == 3
    if prefill == "bfloat16":
        assert passes and all(batch == 1 and columns <= 64 for batch, columns, _ in passes)
        assert all(autocast for *_, autocast in passes)  # every prompt here is long
    else:  # arriving together, float32 prompts are read as one padded batch
        assert max(batch for batch, _, _ in passes) == 3
        assert not any(autocast for *_, autocast in passes)
