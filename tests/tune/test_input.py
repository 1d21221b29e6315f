"""`parley tune` on bad input: one line and exit 2, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import run_parley


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "no such file"),
        (
            '{"prompt": "hi", "completion": "there"}\n',
            'not chat fine-tuning format (no "messages")',
        ),
        ("not json\n", "line 1: not JSON"),
        ('{"messages": [{"role": "user", "content": "hi"}]}\n', "no assistant message"),
        ('{"messages": [{"role": "robot", "content": "hi"}]}\n', "role must be"),
    ],
    ids=["missing", "not-chat", "not-json", "no-answer", "bad-role"],
)
def test_bad_data_is_one_line_and_exit_2(
    content: str | None, expected: str, tmp_path: Path, gpt2_base: Path
) -> None:
    data = tmp_path / "data.jsonl"
    if content is not None:
        data.write_text(content, encoding="utf-8")
    run = run_parley("tune", "--data", str(data), "--base", str(gpt2_base), "--out", str(tmp_path))
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    (line,) = run.lines
    assert line.startswith("parley: ") and expected in line


def test_a_model_that_is_not_there_is_one_line(data_file: Path, tmp_path: Path) -> None:
    run = run_parley(
        "tune",
        "--data",
        str(data_file),
        "--base",
        str(tmp_path / "nope"),
        "--out",
        str(tmp_path),
        env={"HF_HUB_OFFLINE": "1"},
    )
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert run.lines[-1].startswith("parley: ") and "nope" in run.lines[-1]


def test_without_the_extra_the_line_says_how_to_install_it(data_file: Path, tmp_path: Path) -> None:
    run = run_parley(
        "tune",
        "--data",
        str(data_file),
        "--base",
        "gpt2",
        "--out",
        str(tmp_path),
        missing=("trl", "peft"),
        tmp_path=tmp_path,
    )
    assert run.returncode == 2
    assert run.lines == [
        "parley: parley tune needs trl and peft, which are not installed: "
        'pip install -e ".[tune]" in the Parley checkout'
    ]
