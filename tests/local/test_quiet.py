"""A local turn prints the answer and nothing else: no library deprecation notices."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import run_parley


@pytest.mark.parametrize("model", ["plain_model_dir", "chat_model_dir"])
def test_the_first_local_turn_warns_about_nothing(
    model: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    env = {
        "PARLEY_BACKEND": "local",
        "PARLEY_MODEL": str(request.getfixturevalue(model)),
        "PARLEY_DATA_DIR": str(tmp_path),
        "PARLEY_TEMPERATURE": "0",
        "HF_HUB_OFFLINE": "1",
    }
    run = run_parley("console", env=env, stdin="hello\n", timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip()
    assert "Warning" not in run.stderr, run.stderr
