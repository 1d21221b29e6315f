"""The local backend's settings: where and how the model runs, and how it samples."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from bot.settings_base import SettingsModel


class LocalSettings(SettingsModel):
    model_config = SettingsConfigDict(env_prefix="PARLEY_LOCAL_")

    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    """`cuda`, `mps` or `cpu` for local models (`auto` picks in that order)."""
    dtype: Literal["auto", "float32", "float16", "bfloat16", "int8"] = "auto"
    """`float32`, `float16`, `bfloat16`, or `int8` on a CPU (int8 weights and activations:
    2.2-3.6x faster decoding here, at some cost in quality; see docs/benchmarks.md) (`auto`:
    bf16/fp16 on GPU, fp32 on CPU)."""
    prefill_dtype: Literal["auto", "model", "bfloat16"] = "auto"
    """`bfloat16`: a float32 model reads prompts in bfloat16 and decodes in float32 (prefill
    1.5-2.3x faster on this project's CPU, answers still independent of the batch); `model`:
    in the model's dtype (`auto`: bfloat16 where a CPU computes it natively)."""
    max_batch: int = Field(8, ge=1, le=256)
    """Conversations a local model decodes together in one batch."""
    batch_window_ms: float = Field(10.0, ge=0)
    """How long a local model waits to gather a batch."""
    top_p: float = Field(1.0, gt=0.0, le=1.0, validation_alias=AliasChoices("PARLEY_TOP_P"))
    """Nucleus sampling for local models."""
    repetition_penalty: float = Field(
        1.0, gt=0.0, validation_alias=AliasChoices("PARLEY_REPETITION_PENALTY")
    )
    """Repetition penalty for local models."""
    seed: int | None = Field(None, validation_alias=AliasChoices("PARLEY_SEED"))
    """Random seed for local sampling."""
