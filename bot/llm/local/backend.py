"""Hugging Face transformers on this machine: streamed answers, concurrent turns batched.

    backend = await LocalBackend.load(LocalOptions.from_settings(settings))

Loading runs off the event loop. Every turn becomes a row of one shared decode batch
(bot/llm/local/batch.py) on a model thread; its text comes back through an asyncio queue as
it is produced. Cancelling a turn (closing its stream) takes its row out of the batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from bot.llm.base import BackendError, Capabilities, FailureKind, GenerationOptions
from bot.llm.local.load import LoadedModel, ModelLoadError, load_model
from bot.llm.local.options import LocalOptions
from bot.llm.local.prompt import render_prompt
from bot.llm.local.tools import ToolCallReader, takes_tools
from bot.tools.names import core_names
from bot.types import ChatMessage, Delta, Usage

if TYPE_CHECKING:
    from bot.llm.local.batch import BatchScheduler
    from bot.llm.local.row import Event, GenerationRequest

__all__ = ["LocalBackend", "LocalOptions", "ModelLoadError"]

FALLBACK_WINDOW = 2048
"""The context window of a model that states none."""
MAX_WINDOW = 32_768
"""Models may claim 128k positions; a local CPU/GPU turn that long is not practical."""
UNBOUNDED = 1_000_000
"""Tokenizers say model_max_length=1e30 when they do not know."""
CAPABILITIES = Capabilities(context_window_known=True, switches_models=False)
"""Text only (images are left out of the prompt), one model held in memory, free unless priced;
tools as the model's chat template allows."""


class LocalBackend:
    """The Backend protocol over a transformers causal LM, with dynamic batching."""

    def __init__(
        self, loaded: LoadedModel, scheduler: BatchScheduler, options: LocalOptions
    ) -> None:
        self._tokenizer = loaded.tokenizer
        # Tools only when the chat template takes them in the Hermes form (Qwen2.5 does): any
        # other model is offered none, so a turn never fails on them.
        self.capabilities = replace(CAPABILITIES, tools=takes_tools(loaded.tokenizer))
        self._config = loaded.model.config
        self._scheduler = scheduler
        self._options = options
        self.device = loaded.device
        self.dtype = loaded.dtype
        self.prefill_dtype = loaded.prefill_dtype

    @classmethod
    async def load(cls, options: LocalOptions) -> LocalBackend:
        """Load `options.model` and start the model thread.

        Raises ModelLoadError with a one-line explanation when there is no usable model.
        """
        loaded = await asyncio.to_thread(load_model, options)
        from bot.llm.local.batch import BatchScheduler

        tokenizer = loaded.tokenizer
        scheduler = BatchScheduler(
            loaded.model,
            lambda ids: tokenizer.decode(ids, skip_special_tokens=True),
            eos_ids=_eos_ids(loaded),
            pad_id=_pad_id(tokenizer),
            max_batch=options.max_batch,
            window_seconds=options.batch_window_seconds,
            prefill_dtype=loaded.prefill_dtype,
        )
        return cls(loaded, scheduler, options)

    @property
    def scheduler(self) -> BatchScheduler:
        return self._scheduler

    async def stream(
        self, messages: Sequence[ChatMessage], options: GenerationOptions
    ) -> AsyncGenerator[Delta, None]:
        deltas = self.generate(self.request(messages, options))
        if not options.tools:
            async for delta in deltas:
                yield delta
            return
        reader = ToolCallReader(core_names(options.tools))
        async for delta in deltas:
            shown = reader.finish() if delta.finish_reason else reader.feed(delta.text)
            if shown:
                yield Delta(shown)
            if delta.finish_reason and reader.calls:
                yield Delta("", "tool_calls", delta.usage, tool_calls=tuple(reader.calls))
            elif delta.finish_reason:
                yield delta

    def request(
        self,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
        *,
        ignore_eos: bool = False,
    ) -> GenerationRequest:
        """The generation request for a turn: prompt ids, sampling, stop strings.

        Raises BackendError(CONTEXT_TOO_LONG) when the prompt leaves no room for an answer.
        """
        from bot.llm.local.row import GenerationRequest, Sampling

        takes = self.capabilities.tools
        prompt = render_prompt(
            self._tokenizer, messages, options.tools if takes else (), takes_tools=takes
        )
        room = self.context_window(options.model) - len(prompt.ids)
        if room <= 0:
            raise BackendError(
                FailureKind.CONTEXT_TOO_LONG,
                f"{len(prompt.ids)} prompt tokens, window {self.context_window(options.model)}",
            )
        sampling = Sampling(
            max_new_tokens=min(options.max_tokens, room),
            temperature=options.temperature,
            top_p=self._options.top_p,
            repetition_penalty=self._options.repetition_penalty,
            seed=self._options.seed,
            ignore_eos=ignore_eos,
        )
        return GenerationRequest(tuple(prompt.ids), sampling, prompt.stops)

    async def generate(self, request: GenerationRequest) -> AsyncGenerator[Delta, None]:
        """Run one request in the shared batch, yielding text as the model thread produces it."""
        from bot.llm.local.row import Finished

        loop = asyncio.get_running_loop()
        events: asyncio.Queue[Event] = asyncio.Queue()

        def deliver(event: Event) -> None:
            loop.call_soon_threadsafe(events.put_nowait, event)

        row = self._scheduler.submit(request, deliver)
        try:
            while True:
                event = await events.get()
                if isinstance(event, BaseException):
                    raise event
                if isinstance(event, Finished):
                    usage = Usage(len(request.prompt_ids), event.output_tokens)
                    yield Delta("", finish_reason=event.reason, usage=usage)
                    return
                yield Delta(event)
        finally:
            row.cancel()

    def count_tokens(self, messages: Sequence[ChatMessage], model: str) -> int:
        return len(
            render_prompt(self._tokenizer, messages, takes_tools=self.capabilities.tools).ids
        )

    def context_window(self, model: str) -> int:
        """The configured window, else the smaller of what the model and tokenizer state."""
        if self._options.context_window:
            return self._options.context_window
        text_config = self._config.get_text_config(decoder=True)
        stated = [
            getattr(text_config, "max_position_embeddings", None),
            getattr(text_config, "n_positions", None),
            getattr(self._tokenizer, "model_max_length", None),
        ]
        known = [n for n in stated if isinstance(n, int) and 0 < n < UNBOUNDED]
        return min(min(known, default=FALLBACK_WINDOW), MAX_WINDOW)

    async def ping(self) -> None:
        if not self._scheduler.alive:
            raise BackendError(FailureKind.UNAVAILABLE, "the local model thread is not running")

    async def aclose(self) -> None:
        if self._scheduler.alive:
            await asyncio.to_thread(self._scheduler.close)


def _eos_ids(loaded: LoadedModel) -> frozenset[int]:
    """Every id that ends a turn: the generation config may list several (chat models do)."""
    configured = getattr(loaded.model.generation_config, "eos_token_id", None)
    ids = list(configured) if isinstance(configured, list) else [configured]
    ids.append(loaded.tokenizer.eos_token_id)
    return frozenset(i for i in ids if i is not None)


def _pad_id(tokenizer: Any) -> int:
    """Any id will do for padding (it is masked out); prefer the tokenizer's own."""
    for candidate in (tokenizer.pad_token_id, tokenizer.eos_token_id):
        if candidate is not None:
            return candidate
    return 0
