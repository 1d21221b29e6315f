"""One thread owns the model and decodes every live turn together, one token per step.

Why by hand: transformers' `generate` serves one fixed batch, and its continuous-batching
manager (5.x, `generate_batch` / `init_continuous_batching`) is built for GPUs around paged
attention: on this CPU it took 9 s to size and warm up for a 0.1M-parameter model and
wanted psutil. Here each turn is a row of a left-padded batch sharing one KV cache. Turns
that arrive within the gather window start together. A turn that arrives mid-way is prefilled
on its own cache, a chunk of its prompt between two decode steps of the live rows, then
spliced into the batch (left-padded to the common width), so the live rows never stall for a
whole prompt and nobody waits for the longest answer to end. Chunks are sized from the pace of
earlier prefills to take about PREFILL_SECONDS each: a prompt that fast hardware prefills at
once goes in one chunk, and on slow hardware the live rows still step in between. Rows that
finish or are cancelled leave the batch at the next step, and the padding columns no row
attends to any more leave with them. Models whose cache is not plain full attention (sliding
windows, recurrent layers) re-prefill the live rows with the newcomer instead.

Left padding needs explicit position ids (attention_mask.cumsum - 1): rotary models would
otherwise count the padding as positions, and a row's greedy answer would change with the
company it keeps.

A float32 model may read prompts in bfloat16 (`prefill_dtype`: autocast, 1.5-2x as fast on a
CPU that computes bfloat16 natively) and decode in float32. bfloat16 rounding depends on the
shapes in a pass, so then every prompt is read on its own (a short one in float32), in chunks of
a fixed size whoever else is in the batch, and its cache turned to float32 before it is spliced
in: a row's answer still does not depend on its company.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

from bot.llm.base import BackendError, FailureKind
from bot.llm.local.load import first_line
from bot.llm.local.row import Event, GenerationRequest, Row
from bot.llm.local.text import Decode

log = logging.getLogger(__name__)


PREFILL_SECONDS = 0.1
"""How long a joining turn's prefill may hold the live rows between two of their decode steps."""
PREFILL_CHUNK = 128
"""The fewest prompt tokens a chunk holds (also the first, before any pace is known): shorter
passes cost mostly their fixed overhead, so smaller chunks would only delay everyone."""
ALONE_CHUNK = 512
"""Prompt tokens per chunk when each prompt is read on its own in bfloat16: fixed, so a row's
chunks, and so its rounding, are the same alone or joining (about 0.1 s here)."""
SHORT_PROMPT = PREFILL_CHUNK
"""Prompts shorter than this are read in the model's dtype even then: autocast casts every
weight on each pass, which costs a short prompt more than bfloat16 saves it."""


def _pad_left(tensor: torch.Tensor, columns: int, dim: int) -> torch.Tensor:
    if columns == 0:
        return tensor
    shape = list(tensor.shape)
    shape[dim] = columns
    return torch.cat([tensor.new_zeros(shape), tensor], dim=dim)


class _Batch:
    """The live rows' KV cache and attention mask (left-padded, one column per position)."""

    def __init__(
        self,
        model: Any,
        rows: Sequence[Row],
        pad_id: int,
        *,
        chunked: bool = False,
        prefill_dtype: torch.dtype | None = None,
    ):
        sequences = [row.ids for row in rows]
        width = max(map(len, sequences))
        device = model.device
        ids = [[pad_id] * (width - len(seq)) + seq for seq in sequences]
        mask = [[0] * (width - len(seq)) + [1] * len(seq) for seq in sequences]
        self.model = model
        self._ids = torch.tensor(ids, device=device)
        self._full_mask = torch.tensor(mask, device=device)
        self._positions = (self._full_mask.cumsum(-1) - 1).clamp(min=0)
        self._filled = 0
        self.mask = self._full_mask[:, :0]
        self.cache = DynamicCache(config=model.config)
        self.first_logits: torch.Tensor | None = None
        self._prefill_dtype = prefill_dtype
        if not chunked:
            self.prefill(width)

    @property
    def splicable(self) -> bool:
        """Whether rows can be spliced in and columns trimmed (plain full-attention layers)."""
        return all(type(layer) is DynamicLayer for layer in self.cache.layers)

    @property
    def unfilled(self) -> int:
        """Prompt columns not yet fed to the model."""
        return self._ids.shape[1] - self._filled

    def prefill(self, columns: int) -> torch.Tensor | None:
        """Feed the prompts' next `columns`; their next-token logits once the last is in."""
        end = min(self._filled + columns, self._ids.shape[1])
        self.mask = self._full_mask[:, :end]
        ids, positions = self._ids[:, self._filled : end], self._positions[:, self._filled : end]
        if self._prefill_dtype is None:
            logits = self._forward(ids, positions)
        else:
            with torch.autocast(self.mask.device.type, dtype=self._prefill_dtype):
                logits = self._forward(ids, positions)
        self._filled = end
        if end == self._ids.shape[1]:
            self.first_logits = logits.float()
            if self._prefill_dtype is not None:  # the live rows decode in the model's dtype
                dtype = self.model.dtype
                for layer in self.cache.layers:
                    layer.keys, layer.values = layer.keys.to(dtype), layer.values.to(dtype)
        return self.first_logits

    def step(self, rows: Sequence[Row]) -> torch.Tensor:
        """Feed each row its last token; return next-token logits, one row each."""
        tokens = torch.tensor([[row.generated[-1]] for row in rows], device=self.mask.device)
        positions = self.mask.sum(-1, keepdim=True)
        self.mask = torch.cat([self.mask, torch.ones_like(positions)], dim=-1)
        return self._forward(tokens, positions)

    def keep(self, indices: list[int]) -> None:
        """Drop every row not listed, from the cache and the mask, and the padding they leave."""
        index = torch.tensor(indices, device=self.mask.device)
        self.cache.reorder_cache(index)
        self.mask = self.mask[index]
        if self.splicable:
            # Columns no row attends to any more: a long row gone leaves the short ones its width.
            first = int(self.mask.any(0).int().argmax())
            if first:
                self.mask = self.mask[:, first:]
                for layer in self.cache.layers:
                    layer.keys = layer.keys[:, :, first:]
                    layer.values = layer.values[:, :, first:]

    def splice(self, other: _Batch) -> None:
        """Append another prefilled batch's rows, left-padding the narrower one to match."""
        width = max(self.mask.shape[1], other.mask.shape[1])
        ours, theirs = width - self.mask.shape[1], width - other.mask.shape[1]
        for layer, joining in zip(self.cache.layers, other.cache.layers, strict=True):
            layer.keys = torch.cat(
                [_pad_left(layer.keys, ours, 2), _pad_left(joining.keys, theirs, 2)]
            )
            layer.values = torch.cat(
                [_pad_left(layer.values, ours, 2), _pad_left(joining.values, theirs, 2)]
            )
        self.mask = torch.cat([_pad_left(self.mask, ours, 1), _pad_left(other.mask, theirs, 1)])

    def _forward(self, ids: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        out = self.model(
            input_ids=ids,
            attention_mask=self.mask,
            position_ids=positions,
            cache=self.cache,
            use_cache=True,
            logits_to_keep=1,
        )
        return out.logits[:, -1, :]


class BatchScheduler:
    """Owns the model on one thread; `submit` a request from any thread, get events back."""

    def __init__(
        self,
        model: Any,
        decode: Decode,
        *,
        eos_ids: frozenset[int],
        pad_id: int,
        max_batch: int,
        window_seconds: float,
        prefill_dtype: str | None = None,
    ) -> None:
        self._model = model
        self._decode = decode
        self._eos_ids = eos_ids
        self._pad_id = pad_id
        self._max_batch = max_batch
        self._window = window_seconds
        fresh = DynamicCache(config=model.config)
        splicable = all(type(layer) is DynamicLayer for layer in fresh.layers)
        self._prefill_dtype = getattr(torch, prefill_dtype) if prefill_dtype and splicable else None
        """Set: every prompt is read on its own in this dtype (see the module's docstring)."""
        self._inbox: queue.SimpleQueue[Row | None] = queue.SimpleQueue()
        self._closing = threading.Event()
        self.largest_batch = 0
        """The most rows ever decoded together."""
        self.live_rows = 0
        """Rows in the batch being decoded now."""
        self.tokens_generated = 0
        """Tokens generated over all turns since start."""
        self.prefill_seconds = PREFILL_SECONDS
        """How long one chunk of a joining prefill should take (the live rows wait that long)."""
        self.alone_chunk = ALONE_CHUNK
        """Prompt tokens per chunk when each prompt is read on its own (`prefill_dtype`)."""
        self._seconds_per_token: float | None = None
        """Recent prefills' seconds per prompt token and row (padding counts: it is computed)."""
        self._step_seconds = 0.0
        """How long the last decode step of the live rows took."""
        self._thread = threading.Thread(target=self._run, name="parley-local-model", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self._closing.is_set()

    def submit(self, request: GenerationRequest, deliver: Callable[[Event], None]) -> Row:
        """Queue a turn; its events go to `deliver` (called on the model thread)."""
        if not self.alive:
            raise BackendError(FailureKind.UNAVAILABLE, "the local model is shut down")
        row = Row(request, deliver, self._decode)
        self._inbox.put(row)
        return row

    def close(self) -> None:
        """Stop the model thread; turns still running end with an error. Blocks until done."""
        self._closing.set()
        self._inbox.put(None)
        self._thread.join()

    def _run(self) -> None:
        live: list[Row] = []
        waiting: deque[Row] = deque()
        batch: _Batch | None = None
        joining: deque[tuple[list[Row], _Batch]] = deque()
        """Rows being prefilled on their own cache, a chunk a round, first in first out."""
        try:
            with torch.inference_mode():
                while self._gather(waiting, idle=not live and not joining):
                    live, batch = self._drop_ended(live, batch)
                    if not joining:
                        arrivals = self._admit(
                            waiting, room=self._max_batch - len(live), busy=bool(live)
                        )
                        if arrivals and self._prefill_dtype is not None:
                            joining.extend(([row], self._joining([row])) for row in arrivals)
                        elif arrivals and batch is not None and batch.splicable:
                            # Prefilled on their own, a chunk per step, then spliced in:
                            # the live rows keep decoding meanwhile.
                            joining.append((arrivals, self._joining(arrivals)))
                        elif arrivals:
                            live, batch = live + arrivals, None
                    joined = bool(joining) and self._prefill(*joining[0])
                    if joining and not joining[0][0]:  # its prefill failed
                        joining.popleft()
                    elif joined:
                        rows, prefilled = joining.popleft()
                        if batch is None:  # the first rows, or the live rows all ended
                            live, batch = [], prefilled
                        else:
                            batch.splice(prefilled)
                        live = live + rows
                        self.largest_batch = max(self.largest_batch, len(live))
                    self.live_rows = len(live)
                    # Rows that just joined have their token of this round: step next round.
                    if live and not joined:
                        batch = self._advance(live, batch)
        finally:
            shut = BackendError(FailureKind.UNAVAILABLE, "the local model was shut down")
            joined_rows = [row for rows, _ in joining for row in rows]
            for row in [*live, *joined_rows, *waiting]:
                if not row.done:
                    row.fail(shut)

    def _joining(self, rows: list[Row]) -> _Batch:
        """A cache of their own for rows to prefill before they join the batch."""
        long = max(len(row.ids) for row in rows) >= SHORT_PROMPT
        dtype = self._prefill_dtype if long else None
        return _Batch(self._model, rows, self._pad_id, chunked=True, prefill_dtype=dtype)

    def _prefill(self, rows: list[Row], batch: _Batch) -> bool:
        """One chunk of the joining rows' prompts; True once they have their first token."""
        alone = self._prefill_dtype is not None
        chunk = self.alone_chunk if alone else self._chunk_columns(len(rows))
        columns = min(chunk, batch.unfilled)
        try:
            started = time.perf_counter()
            logits = batch.prefill(columns)
            self._record_pace(len(rows) * columns, time.perf_counter() - started)
        except Exception as error:
            self._fail(rows, error)
            rows.clear()
            return False
        if logits is None:
            return False
        for row, row_logits in zip(rows, logits, strict=True):
            row.accept(row.choose(row_logits), self._eos_ids)
        self.tokens_generated += len(rows)
        return True

    def _advance(self, live: list[Row], batch: _Batch | None) -> _Batch | None:
        """One token for every live row, prefilling a new batch when there is none.

        A failure (out of memory, a model bug) fails these rows, not the scheduler.
        """
        try:
            started = time.perf_counter()
            if batch is None:
                batch = _Batch(self._model, live, self._pad_id)
                logits = batch.first_logits
                assert logits is not None  # prefilled whole: no chunk
                self._record_pace(len(live) * batch.mask.shape[1], time.perf_counter() - started)
                self.largest_batch = max(self.largest_batch, len(live))
            else:
                logits = batch.step(live)
                self._step_seconds = time.perf_counter() - started
            for row, row_logits in zip(live, logits, strict=True):
                row.accept(row.choose(row_logits), self._eos_ids)
            self.tokens_generated += len(live)
            return batch
        except Exception as error:
            self._fail(live, error)
            return None

    def _chunk_columns(self, rows: int) -> int:
        """Prompt columns for the next chunk of `rows` joining prompts: about prefill_seconds."""
        if self._seconds_per_token is None:
            return PREFILL_CHUNK
        columns = self.prefill_seconds / (self._seconds_per_token * rows)
        return max(PREFILL_CHUNK, int(columns))

    def _record_pace(self, tokens: int, seconds: float) -> None:
        if tokens < PREFILL_CHUNK:  # mostly the pass's fixed overhead: says little per token
            return
        # Averaged with the last: one slow pass (a busy machine, a cold kernel) counts half.
        pace = seconds / tokens
        last = self._seconds_per_token
        self._seconds_per_token = pace if last is None else (last + pace) / 2

    @staticmethod
    def _fail(rows: Sequence[Row], error: Exception) -> None:
        log.exception("local model failed on a batch of %d", len(rows))
        failure = BackendError(FailureKind.UNAVAILABLE, first_line(error))
        for row in rows:
            row.fail(failure)

    def _gather(self, waiting: deque[Row], *, idle: bool) -> bool:
        """Move submitted rows to `waiting`; block for the first when idle. False when closing."""
        while True:
            try:
                row = self._inbox.get(block=idle and not waiting)
            except queue.Empty:
                return True
            if row is None:
                return False
            waiting.append(row)

    def _admit(self, waiting: deque[Row], *, room: int, busy: bool) -> list[Row]:
        """Rows to start now: once the oldest has waited the gather window, or the batch is full.

        An idle scheduler waits out the window for company. A busy one keeps decoding meanwhile,
        and admits once what is left of the window is shorter than a decode step: waiting
        through one more step would only overshoot it.
        """
        pause = self._window - (time.monotonic() - waiting[0].arrived) if waiting else 0.0
        if pause > 0 and len(waiting) < room:
            if busy and pause > self._step_seconds:
                return []
            if not busy:
                self._wait_for_company(waiting, pause, room)
        admitted: list[Row] = []
        while waiting and len(admitted) < room:
            row = waiting.popleft()
            if not row.cancelled:
                admitted.append(row)
        return admitted

    def _wait_for_company(self, waiting: deque[Row], pause: float, room: int) -> None:
        deadline = time.monotonic() + pause
        while len(waiting) < room and (left := deadline - time.monotonic()) > 0:
            try:
                row = self._inbox.get(timeout=left)
            except queue.Empty:
                return
            if row is None:
                self._inbox.put(None)  # seen again by _gather, which ends the loop
                return
            waiting.append(row)

    @staticmethod
    def _drop_ended(live: list[Row], batch: _Batch | None) -> tuple[list[Row], _Batch | None]:
        kept = [i for i, row in enumerate(live) if not row.done and not row.cancelled]
        if len(kept) == len(live):
            return live, batch
        if not kept or batch is None:
            return [], None
        batch.keep(kept)
        return [live[i] for i in kept], batch
