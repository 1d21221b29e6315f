"""`parley tune` tests: tiny models built into temp dirs, trained in seconds; nothing downloaded."""

from __future__ import annotations

import json
import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before anything imports huggingface_hub or transformers

from pathlib import Path

import pytest

from tests.support.tiny_model import build_tiny_model

SYSTEM = "You are Parley."
ASKER = "alice"
QUESTIONS = {
    "what is the capital of France?": "Paris is the capital of France.",
    "count to three": "1 2 3",
    "say hello": "Hello there!",
    "who answers in the terminal?": "Parley answers questions.",
}


def exported(questions: dict[str, str]) -> str:
    """What `parley export` writes for these one-question conversations by ASKER."""
    lines = []
    for question, answer in questions.items():
        messages = [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": question, "name": ASKER},
            {"role": "assistant", "content": answer},
        ]
        lines.append(json.dumps({"messages": messages}))
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def gpt2_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GPT-2 base model without a chat template, 1,024 positions as the real one."""
    return build_tiny_model(
        tmp_path_factory.mktemp("gpt2"), arch="gpt2", chat_template=False, max_positions=1024
    )


@pytest.fixture(scope="session")
def llama_chat(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Llama with a chat template."""
    return build_tiny_model(tmp_path_factory.mktemp("llama"))


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "conversations.jsonl"
    path.write_text(exported(QUESTIONS), encoding="utf-8")
    return path
