"""`parley tune` from the store: export's filters, an excluded user, forgotten turns left out."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.store.factory import create_store
from bot.types import ChatMessage, ConversationKey, Role
from tests.support.cli import run_parley


async def seed(path: Path) -> None:
    store = create_store(f"sqlite:///{path}")
    await store.open()
    try:
        talks = [
            (ConversationKey("discord", "g1", "c1"), "u1", "opted-in"),
            (ConversationKey("discord", "g1", "c2"), "u2", "excluded"),
            (ConversationKey("discord", "g1", "c3"), "u4", "forgotten"),
            (ConversationKey("discord", "g2", "c1"), "u1", "elsewhere"),
            (ConversationKey("slack", "T1", "C1", "1.0"), "u3", "other platform"),
        ]
        for key, author, text in talks:
            await store.append(
                key,
                [
                    ChatMessage(Role.USER, text, name=author, author_id=author),
                    ChatMessage(Role.ASSISTANT, f"noted: {text}", author_id=author),
                ],
            )
        await store.forget("u4")
    finally:
        await store.close()


async def tune(tmp_path: Path, model: Path, out: str, *filters: str) -> str:
    args = ("tune", "--base", str(model), "--out", str(tmp_path / out), "--epochs", "1")
    env = {"PARLEY_DATA_DIR": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    run = await asyncio.to_thread(
        run_parley, *args, "--eval-fraction", "0", *filters, env=env, timeout=120
    )
    assert run.returncode == 0, run.stderr
    return run.stdout


async def test_only_opted_in_places_and_never_excluded_or_forgotten_users(
    tmp_path: Path, gpt2_base: Path
) -> None:
    await seed(tmp_path / "parley.db")
    everything = await tune(tmp_path, gpt2_base, "all")
    assert "trained (sft) on 4 conversations, 4 answers" in everything  # u4 forgot theirs
    chosen = await tune(
        tmp_path,
        gpt2_base,
        "chosen",
        "--platform",
        "discord",
        "--space",
        "g1",
        "--exclude-user",
        "u2",
    )
    assert "trained (sft) on 1 conversations, 1 answers" in chosen
