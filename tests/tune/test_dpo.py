"""`parley tune --method dpo`: preference pairs make the chosen answers likelier."""

from __future__ import annotations

import json
from pathlib import Path

from bot.llm.local.prompt import render_answer, render_prompt
from bot.types import ChatMessage, Role
from tests.support.cli import run_parley
from tests.tune.conftest import SYSTEM

PAIRS = [
    ("what is the capital of France?", "Paris is the capital of France.", "The quick brown fox."),
    ("say hello", "Hello there!", "Numbers 0 1 2 3"),
    ("count to three", "1 2 3", "Café, naïve, über"),
]


def preference_lines() -> str:
    """trl's conversational preference format, as `parley export --feedback` writes it."""
    lines = []
    for question, chosen, rejected in PAIRS:
        prompt = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]
        pair = {
            "prompt": prompt,
            "chosen": [{"role": "assistant", "content": chosen}],
            "rejected": [{"role": "assistant", "content": rejected}],
        }
        lines.append(json.dumps(pair))
    return "\n".join(lines) + "\n"


def margins(model_dir: Path) -> list[float]:
    """log p(chosen) - log p(rejected) per pair, for the prompt as Parley renders it."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()

    def logp(prompt: list[int], answer: list[int]) -> float:
        ids = torch.tensor([prompt + answer])
        with torch.no_grad():
            logits = model(ids).logits[0, len(prompt) - 1 : -1]
        picked = logits.log_softmax(-1).gather(1, torch.tensor(answer)[:, None])
        return float(picked.sum())

    result = []
    for question, chosen, rejected in PAIRS:
        messages = [ChatMessage(Role.SYSTEM, SYSTEM), ChatMessage(Role.USER, question)]
        prompt = render_prompt(tokenizer, messages).ids
        result.append(
            logp(prompt, render_answer(tokenizer, messages, chosen))
            - logp(prompt, render_answer(tokenizer, messages, rejected))
        )
    return result


def test_dpo_makes_every_chosen_answer_likelier(llama_chat: Path, tmp_path: Path) -> None:
    data = tmp_path / "pairs.jsonl"
    data.write_text(preference_lines(), encoding="utf-8")
    out = tmp_path / "dpo"
    run = run_parley(
        "tune", "--method", "dpo", "--data", str(data), "--base", str(llama_chat),
        "--out", str(out), "--epochs", "10", "--learning-rate", "1e-3", "--eval-fraction", "0",
        timeout=180,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "trained (dpo) on 3 conversations, 3 preference pairs" in run.stdout
    before, after = margins(llama_chat), margins(out)
    assert all(a > b for a, b in zip(after, before, strict=True)), (before, after)
