"""`parley export`: conversations as OpenAI chat fine-tuning JSONL, filtered."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from bot.store.factory import create_store
from bot.types import ChatMessage, ConversationKey, Role

DAY = 86_400.0


async def seed(path) -> None:
    store = create_store(f"sqlite:///{path}")
    await store.open()
    try:
        discord = ConversationKey("discord", "g1", "c1")
        slack = ConversationKey("slack", "T1", "C1", "1.0")
        await store.set_settings(discord, system_prompt="Be a pirate.")
        await store.append(
            discord,
            [
                ChatMessage(Role.USER, "hi", name="Ann B.", author_id="u1", created_at=10 * DAY),
                ChatMessage(Role.ASSISTANT, "Arr!", author_id="u1", created_at=10 * DAY),
            ],
        )
        await store.append(
            slack,
            [
                ChatMessage(Role.USER, "hello", name="Bo", author_id="u2", created_at=20 * DAY),
                ChatMessage(Role.ASSISTANT, "Hello!", author_id="u2", created_at=20 * DAY),
            ],
        )
        unanswered = ConversationKey("discord", "g1", "c2")
        await store.append(unanswered, [ChatMessage(Role.USER, "lonely", created_at=10 * DAY)])
    finally:
        await store.close()


def export(tmp_path, *args: str) -> tuple[list[dict], str]:
    env = {**os.environ, "PARLEY_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "export", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()], result.stderr


async def test_export_writes_fine_tuning_lines_with_system_prompts(tmp_path):
    await seed(tmp_path / "parley.db")
    lines, summary = export(tmp_path)
    assert summary.strip() == "exported 2 conversations"
    assert lines[0] == {
        "messages": [
            {"role": "system", "content": "Be a pirate."},
            {"role": "user", "content": "hi", "name": "Ann_B_"},
            {"role": "assistant", "content": "Arr!"},
        ]
    }
    assert lines[1]["messages"][0]["role"] == "system"
    assert lines[1]["messages"][1:] == [
        {"role": "user", "content": "hello", "name": "Bo"},
        {"role": "assistant", "content": "Hello!"},
    ]


async def test_export_filters_by_platform_and_date(tmp_path):
    await seed(tmp_path / "parley.db")
    only_slack, _ = export(tmp_path, "--platform", "slack")
    assert [line["messages"][1]["content"] for line in only_slack] == ["hello"]
    early, _ = export(tmp_path, "--until", "1970-01-15")
    assert [line["messages"][1]["content"] for line in early] == ["hi"]


def test_a_bad_date_is_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bot", "export", "--since", "yesterday"],
        capture_output=True,
        text=True,
        env={**os.environ, "PARLEY_DATA_DIR": str(tmp_path)},
        timeout=60,
    )
    assert result.returncode == 2
    assert "--since 'yesterday': use a date like 2026-01-31" in result.stderr
    assert "Traceback" not in result.stderr


async def seed_ratings(path) -> None:
    """Two DM threads opened with the same question, one answer liked and one disliked; a third
    answer liked by one person and disliked by another (a tie, so no verdict)."""
    store = create_store(f"sqlite:///{path}")
    await store.open()
    try:
        for thread, answer, liked in (("1.0", "Blue.", True), ("2.0", "Sorry, no.", False)):
            key = ConversationKey("slack", "dm", "D1", thread)
            at = 30 * DAY + float(thread)
            question = ChatMessage(Role.USER, "name a colour", name="Ann", created_at=at)
            reply = ChatMessage(Role.ASSISTANT, answer, created_at=at + 1)
            await store.append(key, [question, reply])
            await store.record_answer(key, [f"slack:D1:{thread}-answer"], reply.created_at)
            assert await store.rate_answer(f"slack:D1:{thread}-answer", "U1", liked)
        tied = ConversationKey("discord", "g1", "c9")
        reply = ChatMessage(Role.ASSISTANT, "Maybe.", created_at=31 * DAY)
        await store.append(tied, [ChatMessage(Role.USER, "sure?", created_at=31 * DAY), reply])
        await store.record_answer(tied, ["discord:9"], reply.created_at)
        assert await store.rate_answer("discord:9", "U1", liked=True)
        assert await store.rate_answer("discord:9", "U2", liked=False)
    finally:
        await store.close()


async def test_feedback_exports_preference_pairs_and_kto_lines(tmp_path):
    await seed_ratings(tmp_path / "parley.db")
    pairs, summary = export(tmp_path, "--feedback")
    assert summary.strip() == "exported 1 preference pairs"
    prompt = [
        {"role": "system", "content": pairs[0]["prompt"][0]["content"]},
        {"role": "user", "content": "name a colour"},
    ]
    assert pairs == [
        {
            "prompt": prompt,
            "chosen": [{"role": "assistant", "content": "Blue."}],
            "rejected": [{"role": "assistant", "content": "Sorry, no."}],
        }
    ]
    # trl reads them as conversational preference data.
    from trl.data_utils import is_conversational

    assert is_conversational(pairs[0])
    kto, summary = export(tmp_path, "--feedback", "--feedback-format", "kto")
    assert all(is_conversational(line) for line in kto)
    assert summary.strip() == "exported 2 rated answers"
    assert kto == [
        {
            "prompt": prompt,
            "completion": [{"role": "assistant", "content": "Blue."}],
            "label": True,
        },
        {
            "prompt": prompt,
            "completion": [{"role": "assistant", "content": "Sorry, no."}],
            "label": False,
        },
    ]
