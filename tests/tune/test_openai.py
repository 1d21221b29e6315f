"""`parley tune --openai` end to end: the real openai client against a fine-tuning peer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.peers.openai_finetune_peer import FineTuningPeer
from tests.support.cli import run_parley


@pytest.fixture
async def peer() -> AsyncIterator[FineTuningPeer]:
    peer = await FineTuningPeer().start()
    yield peer
    await peer.stop()


async def tune_openai(peer: FineTuningPeer, data: Path, *, tmp_path: Path) -> object:
    env = {
        "OPENAI_BASE_URL": peer.base_url,
        "OPENAI_API_KEY": "sk-test",
        "PARLEY_DATA_DIR": str(tmp_path),
    }
    args = ("tune", "--openai", "--data", str(data), "--base", "gpt-4o-mini-2024-07-18")
    return await asyncio.to_thread(run_parley, *args, env=env)


async def test_the_file_is_uploaded_the_job_followed_and_the_model_named(
    peer: FineTuningPeer, data_file: Path, tmp_path: Path
) -> None:
    run = await tune_openai(peer, data_file, tmp_path=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0] == "fine-tuned model: ft:gpt-4o-mini-2024-07-18:parley::1"
    assert "PARLEY_MODEL=ft:gpt-4o-mini-2024-07-18:parley::1" in run.stdout
    (content,) = peer.contents.values()
    assert content == data_file.read_bytes()  # noqa: ASYNC240 (a small file, after the run)
    (job,) = peer.jobs.values()
    assert job["status"] == "succeeded" and job["model"] == "gpt-4o-mini-2024-07-18"
    # Every event is shown once, oldest first.
    shown = [line.strip() for line in run.lines if line.startswith("  ")]
    assert shown == [
        "Created fine-tuning job: ftjob-1",
        "Fine-tuning job started",
        "The job has successfully completed",
    ]


async def test_a_file_not_in_chat_format_is_never_uploaded(
    peer: FineTuningPeer, tmp_path: Path
) -> None:
    data = tmp_path / "prompts.jsonl"
    data.write_text(json.dumps({"prompt": "hi", "completion": "there"}) + "\n")
    run = await tune_openai(peer, data, tmp_path=tmp_path)
    assert run.returncode == 2
    assert run.lines == [f'parley: {data} line 1: not chat fine-tuning format (no "messages")']
    assert not peer.files


async def test_an_api_refusal_is_one_line(
    peer: FineTuningPeer, data_file: Path, tmp_path: Path
) -> None:
    await peer.stop()
    run = await tune_openai(peer, data_file, tmp_path=tmp_path)
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert run.lines[-1] == f"parley: OpenAI fine-tuning: cannot reach {peer.base_url}"
