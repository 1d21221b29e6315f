"""`PARLEY_BACKEND=local PARLEY_MODEL=<dir> parley console`: chats, and remembers across runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys


def chat(lines: str, env: dict[str, str]) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "console"],
        input=lines,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout.splitlines()


def test_console_chats_with_a_local_model_and_remembers(tmp_path, chat_model_dir):
    env = {
        "PARLEY_BACKEND": "local",
        "PARLEY_MODEL": str(chat_model_dir),
        "PARLEY_DATA_DIR": str(tmp_path),
        "PARLEY_MAX_TOKENS": "12",
        "PARLEY_TEMPERATURE": "0",
        "HF_HUB_OFFLINE": "1",
    }
    chat("hello there\n", env)
    later = chat("and again\n/stats\n", env)
    assert later[-1].startswith("This conversation: 2 turns, 4 stored messages")


def test_a_missing_model_directory_is_one_line(tmp_path):
    env = {
        "PARLEY_BACKEND": "local",
        "PARLEY_MODEL": str(tmp_path / "no-such-model"),
        "PARLEY_DATA_DIR": str(tmp_path),
        "HF_HUB_OFFLINE": "1",
    }
    result = subprocess.run(
        [sys.executable, "-m", "bot", "console"],
        input="hi\n",
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "PARLEY_MODEL" in result.stderr


def test_a_hub_model_in_the_cache_loads_without_asking_the_hub(tmp_path, chat_model_dir):
    """Laid out as `hf download` leaves it; the hub is unreachable and not in offline mode."""
    repo = tmp_path / "hf" / "hub" / "models--parley-tests--tiny-chat"
    shutil.copytree(chat_model_dir, repo / "snapshots" / ("0" * 40))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    env = {
        "PARLEY_BACKEND": "local",
        "PARLEY_MODEL": "parley-tests/tiny-chat",
        "PARLEY_DATA_DIR": str(tmp_path),
        "PARLEY_MAX_TOKENS": "4",
        "HF_HOME": str(tmp_path / "hf"),
        "HF_ENDPOINT": "http://127.0.0.1:9",  # the discard port: nothing listens there
        "HF_HUB_OFFLINE": "0",
        "TRANSFORMERS_OFFLINE": "0",
    }
    assert chat("/stats\n", env)[-1].startswith("This conversation:")
