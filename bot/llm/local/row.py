"""One turn inside the batch: how it samples, the text it streams, and when it ends."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from transformers.generation.logits_process import (
    LogitsProcessorList,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopPLogitsWarper,
)

from bot.llm.local.text import Decode, IncrementalDecoder, StopFilter


@dataclass(frozen=True, slots=True)
class Sampling:
    """How one turn picks its tokens. temperature 0 means greedy."""

    max_new_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    seed: int | None = None
    ignore_eos: bool = False
    """Generate exactly max_new_tokens (benchmarks): end-of-sequence tokens do not end the turn."""


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    prompt_ids: tuple[int, ...]
    sampling: Sampling
    stops: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Finished:
    """The last event of a turn: why it ended and how many tokens it generated."""

    reason: str
    output_tokens: int


Event = str | Finished | BaseException
"""What a turn's consumer receives: text pieces, then Finished or an exception."""


class Row:
    """One turn inside the scheduler; `cancel()` is safe from any thread."""

    def __init__(
        self, request: GenerationRequest, deliver: Callable[[Event], None], decode: Decode
    ):
        self.request = request
        self.generated: list[int] = []
        self.done = False
        self.arrived = time.monotonic()
        self._deliver = deliver
        self._decoder = IncrementalDecoder(decode)
        self._stops = StopFilter(request.stops)
        self._cancelled = threading.Event()
        self._processors = _processors(request.sampling)
        self._random = _generator(request.sampling.seed)

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    @property
    def ids(self) -> list[int]:
        return [*self.request.prompt_ids, *self.generated]

    def choose(self, logits: torch.Tensor) -> int:
        """The next token from this row's last-position logits."""
        sampling = self.request.sampling
        scores = logits.float().unsqueeze(0)
        if self._processors:
            history = torch.tensor([self.ids], device=scores.device)
            scores = self._processors(history, scores)
        if sampling.temperature == 0:
            return int(scores.argmax(-1))
        probs = torch.softmax(scores, dim=-1).cpu()
        return int(torch.multinomial(probs, 1, generator=self._random))

    def accept(self, token: int, eos_ids: frozenset[int]) -> None:
        """Record a generated token, send the text it completes, and end the turn if due."""
        self.generated.append(token)
        sampling = self.request.sampling
        ended = token in eos_ids and not sampling.ignore_eos
        if not ended:
            self._send(self._stops.feed(self._decoder.add(token)))
        out_of_room = len(self.generated) >= sampling.max_new_tokens
        if (ended or out_of_room) and not self._stops.stopped:
            self._send(self._stops.feed(self._decoder.flush()) + self._stops.flush())
            if not self._stops.stopped:
                self.finish("stop" if ended else "length")
                return
        if self._stops.stopped:
            self.finish("stop")

    def finish(self, reason: str) -> None:
        self.done = True
        self._send(Finished(reason, len(self.generated)))

    def fail(self, error: BaseException) -> None:
        self.done = True
        self._send(error)

    def _send(self, event: Event) -> None:
        if event == "":
            return
        try:
            self._deliver(event)
        except RuntimeError:  # the consumer's event loop is gone: nobody is listening
            self.cancel()


def _processors(sampling: Sampling) -> LogitsProcessorList:
    processors = LogitsProcessorList()
    if sampling.repetition_penalty != 1.0:
        processors.append(RepetitionPenaltyLogitsProcessor(sampling.repetition_penalty))
    if sampling.temperature > 0:
        processors.append(TemperatureLogitsWarper(sampling.temperature))
        if sampling.top_p < 1.0:
            processors.append(TopPLogitsWarper(sampling.top_p))
    return processors


def _generator(seed: int | None) -> torch.Generator:
    generator = torch.Generator()
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    return generator
