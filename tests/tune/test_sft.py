"""`parley tune` end to end: train a tiny model, then `parley console` answers as trained."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.tune.data import split
from tests.support.cli import run_parley
from tests.tune.conftest import ASKER, QUESTIONS, SYSTEM


def ask(model: Path, question: str, data_dir: Path) -> str:
    """The greedy answer `parley console` gives over a pipe, as ASKER with SYSTEM."""
    env = {
        "PARLEY_BACKEND": "local",
        "PARLEY_MODEL": str(model),
        "PARLEY_TEMPERATURE": "0",
        "PARLEY_DATA_DIR": str(data_dir),
        "PARLEY_SYSTEM_PROMPT": SYSTEM,
        "LOGNAME": ASKER,
        "USER": ASKER,
        "HF_HUB_OFFLINE": "1",
    }
    run = run_parley("console", env=env, stdin=question + "\n", timeout=120)
    assert run.returncode == 0, run.stderr
    return run.stdout.strip()


def held_out_losses(stdout: str) -> tuple[float, float]:
    before = re.search(r"held-out loss before: ([\d.]+)", stdout)
    after = re.search(r"held-out loss after: ([\d.]+)", stdout)
    assert before and after, stdout
    return float(before.group(1)), float(after.group(1))


@pytest.mark.parametrize(
    ("base", "extra"),
    [
        ("gpt2_base", ["--epochs", "60", "--learning-rate", "3e-3"]),
        ("llama_chat", ["--lora", "--epochs", "40", "--learning-rate", "1e-2"]),
    ],
    ids=["gpt2-full", "chat-lora"],
)
def test_a_tuned_model_answers_a_trained_question_as_trained(
    base: str, extra: list[str], data_file: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    out = tmp_path / "tuned"
    model: Path = request.getfixturevalue(base)
    run = run_parley(
        "tune",
        "--data",
        str(data_file),
        "--base",
        str(model),
        "--out",
        str(out),
        "--eval-fraction",
        "0.25",
        *extra,
        timeout=180,
    )
    assert run.returncode == 0, run.stderr
    before, after = held_out_losses(run.stdout)
    assert after != before  # the held-out conversation was scored by the trained weights
    assert "trained (sft) on 3 conversations, 3 answers" in run.stdout
    assert f"model: {out}" in run.stdout
    assert not list(out.glob("adapter_*"))  # LoRA is merged: a plain model directory
    trained, _ = split(list(QUESTIONS), 0.25)  # the same seeded split as the run's
    assert ask(out, trained[0], tmp_path / "chat") == QUESTIONS[trained[0]]


def test_a_run_resumes_from_its_checkpoints(
    data_file: Path, tmp_path: Path, gpt2_base: Path
) -> None:
    out = tmp_path / "tuned"
    args = ("tune", "--data", str(data_file), "--base", str(gpt2_base), "--out", str(out))
    first = run_parley(*args, "--epochs", "1", timeout=120)
    assert first.returncode == 0, first.stderr
    assert "resumed" not in first.stdout
    second = run_parley(*args, "--epochs", "2", timeout=120)
    assert second.returncode == 0, second.stderr
    assert f"resumed from {out / 'checkpoints' / 'checkpoint-1'}" in second.stdout
