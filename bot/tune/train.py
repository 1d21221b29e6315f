"""Local training with trl: SFT (full or LoRA) and DPO; a directory PARLEY_MODEL can load.

torch, transformers, trl and peft are imported inside the functions: `parley --help` stays fast.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bot.config import ConfigError, Settings
from bot.tune.data import Conversation, Pair, render_examples

CHECKPOINTS = "checkpoints"


@dataclass(frozen=True, slots=True)
class Options:
    base: str
    out: Path
    lora: bool
    epochs: float
    learning_rate: float | None
    batch_size: int


@dataclass(frozen=True, slots=True)
class Result:
    """What a run did: examples, tokens, held-out loss before and after, where the model is."""

    examples: int
    tokens: int
    too_long: int
    loss_before: float | None
    loss_after: float | None
    resumed_from: str | None
    out: Path


def _load(settings: Settings, base: str) -> tuple[Any, Any, int]:
    from bot.llm.local.load import load_model
    from bot.llm.local.options import LocalOptions

    loaded = load_model(replace(LocalOptions.from_settings(settings), model=base))
    window = loaded.model.config.get_text_config(decoder=True).max_position_embeddings
    if loaded.tokenizer.pad_token is None:  # the collator pads; GPT-2 ships no pad token
        loaded.tokenizer.pad_token = loaded.tokenizer.eos_token
    return loaded.model, loaded.tokenizer, settings.context_window or window


def _run(
    method: str,
    model: Any,
    tokenizer: Any,
    options: Options,
    rows: list[dict[str, Any]],
    held_rows: list[dict[str, Any]],
    window: int,
) -> tuple[float | None, float | None, str | None]:
    """Train with trl's SFT or DPO trainer; (held-out loss before, after, checkpoint resumed)."""
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer

    # trl calls transformers APIs it has yet to move off: their notices are not the operator's.
    warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")

    config_class, trainer_class = {
        "sft": (SFTConfig, SFTTrainer),
        "dpo": (DPOConfig, DPOTrainer),
    }[method]
    rates = {"sft": (5e-5, 2e-4), "dpo": (1e-5, 5e-5)}[method]
    steps = math.ceil(len(rows) / options.batch_size * options.epochs)
    config = config_class(
        output_dir=str(options.out / CHECKPOINTS),  # checkpoints live in --out: resumable
        num_train_epochs=options.epochs,
        per_device_train_batch_size=options.batch_size,
        per_device_eval_batch_size=options.batch_size,
        learning_rate=options.learning_rate or rates[options.lora],
        lr_scheduler_type="constant",
        logging_steps=max(1, steps // 10),
        save_strategy="epoch",
        save_total_limit=1,
        report_to="none",
        seed=0,
        bf16=False,
        dataloader_pin_memory=False,
        max_length=window,
        eval_strategy="no",
    )
    held_out = Dataset.from_list(held_rows) if held_rows else None
    trainer = trainer_class(
        model=model,
        args=config,
        train_dataset=Dataset.from_list(rows),
        eval_dataset=held_out,
        processing_class=tokenizer,
        peft_config=_lora_config() if options.lora else None,
    )
    resumed = _last_checkpoint(options)
    before = _loss(trainer, held_out)
    trainer.train(resume_from_checkpoint=resumed)
    after = _loss(trainer, held_out)
    _finish(trainer, tokenizer, options)
    return before, after, resumed


def _last_checkpoint(options: Options) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    directory = options.out / CHECKPOINTS
    return get_last_checkpoint(str(directory)) if directory.is_dir() else None


def _lora_config() -> Any:
    from peft import LoraConfig

    return LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules="all-linear")


def _finish(trainer: Any, tokenizer: Any, options: Options) -> None:
    """Merge LoRA into the weights (Parley loads plain models) and save model and tokenizer."""
    model = trainer.model
    if options.lora:
        model = model.merge_and_unload()
    model.save_pretrained(options.out)
    tokenizer.save_pretrained(options.out)


def _loss(trainer: Any, held_out: Any) -> float | None:
    if held_out is None:
        return None
    return float(trainer.evaluate()["eval_loss"])


def sft(
    settings: Settings, options: Options, train: list[Conversation], held: list[Conversation]
) -> Result:
    """Supervised fine-tuning on assistant turns, prompts rendered as Parley renders them."""
    model, tokenizer, window = _load(settings, options.base)
    rendered = render_examples(tokenizer, train, window)
    if not rendered.rows:
        raise ConfigError(f"no training examples fit the model's {window}-token window")
    held_rows = render_examples(tokenizer, held, window).rows
    before, after, resumed = _run(
        "sft", model, tokenizer, options, rendered.rows, held_rows, window
    )
    return Result(
        len(rendered.rows), rendered.tokens, rendered.too_long, before, after, resumed, options.out
    )


def _pair_texts(tokenizer: Any, pair: Pair) -> dict[str, str]:
    """The pair as text: the prompt Parley renders, each answer as the model should write it."""
    from bot.llm.local.prompt import render_answer, render_prompt

    def text(ids: list[int]) -> str:
        return tokenizer.decode(ids, skip_special_tokens=False)

    return {
        "prompt": text(render_prompt(tokenizer, pair.prompt).ids),
        "chosen": text(render_answer(tokenizer, pair.prompt, pair.chosen)),
        "rejected": text(render_answer(tokenizer, pair.prompt, pair.rejected)),
    }


def dpo(settings: Settings, options: Options, train: list[Pair], held: list[Pair]) -> Result:
    """Direct preference optimisation: the chosen answers become likelier than the rejected."""
    model, tokenizer, window = _load(settings, options.base)
    rows = [_pair_texts(tokenizer, pair) for pair in train]
    held_rows = [_pair_texts(tokenizer, pair) for pair in held]
    before, after, resumed = _run("dpo", model, tokenizer, options, rows, held_rows, window)
    tokens = sum(len(tokenizer.encode(r["prompt"] + r["chosen"] + r["rejected"])) for r in rows)
    return Result(len(rows), tokens, 0, before, after, resumed, options.out)
