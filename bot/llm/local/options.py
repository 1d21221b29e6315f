"""What the local backend is told: the model, where and how to run it, and how to sample.

`LocalOptions.from_settings` is the one place that reads the local model's settings (its own,
bot.llm.local.settings, and the core's model and context window).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.llm.local.load import DEFAULT_LOCAL_MODEL
from bot.llm.local.settings import LocalSettings

if TYPE_CHECKING:
    from bot.config import Settings


@dataclass(frozen=True, slots=True)
class LocalOptions:
    model: str
    """A directory with config.json, or a Hugging Face hub id (PARLEY_MODEL)."""
    device: str
    """auto, cpu, cuda or mps (PARLEY_LOCAL_DEVICE)."""
    dtype: str
    """auto, float32, float16, bfloat16 or int8 (PARLEY_LOCAL_DTYPE)."""
    prefill_dtype: str
    """auto, model or bfloat16 (PARLEY_LOCAL_PREFILL_DTYPE)."""
    max_batch: int
    """Turns decoded together at most (PARLEY_LOCAL_MAX_BATCH)."""
    batch_window_seconds: float
    """How long a new batch waits for more turns to join (PARLEY_LOCAL_BATCH_WINDOW_MS)."""
    top_p: float
    repetition_penalty: float
    seed: int | None
    context_window: int | None
    """PARLEY_CONTEXT_WINDOW, over what the model states."""

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalOptions:
        local = settings.of(LocalSettings)
        return cls(
            model=settings.model or DEFAULT_LOCAL_MODEL,
            device=local.device,
            dtype=local.dtype,
            prefill_dtype=local.prefill_dtype,
            max_batch=local.max_batch,
            batch_window_seconds=local.batch_window_ms / 1000,
            top_p=local.top_p,
            repetition_penalty=local.repetition_penalty,
            seed=local.seed,
            context_window=settings.context_window,
        )
