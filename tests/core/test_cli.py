"""The `parley` command as a user runs it: help, a bad config, and the console over a pipe."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from bot.adapter import adapter_names

HEAVY = ("torch", "transformers", "discord", "slack_bolt", "slack_sdk", "openai", "asyncpg", "mcp")


def run_parley(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bot", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


def test_help_lists_the_commands_and_imports_nothing_heavy():
    result = run_parley("--help")
    assert result.returncode == 0
    for command in ("console", "discord", "slack", "serve", "export", "doctor"):
        assert command in result.stdout
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines()}
    assert not {name for name in imported if name.split(".")[0] in HEAVY}


def test_core_never_imports_a_platform_or_an_adapter():
    forbidden = ("discord", "slack_bolt", "slack_sdk", "adapters")
    for path in Path("bot").rglob("*.py"):
        for line in path.read_text().splitlines():
            words = line.strip().split()
            if len(words) >= 2 and words[0] in ("import", "from"):
                assert words[1].split(".")[0] not in forbidden, f"{path}: {line}"


def test_a_bad_setting_is_one_line_naming_it_and_exit_2(tmp_path):
    result = run_parley(
        "console", env={"PARLEY_TEMPERATURE": "hot", "PARLEY_DATA_DIR": str(tmp_path)}
    )
    assert result.returncode == 2
    assert result.stdout == ""
    message = [line for line in result.stderr.splitlines() if not line.startswith("import time:")]
    assert len(message) == 1 and "PARLEY_TEMPERATURE" in message[0]
    assert "Traceback" not in result.stderr


def test_a_secret_in_the_config_file_is_refused(tmp_path):
    config = tmp_path / "parley.toml"
    config.write_text('discord_token = "abc"\n')
    result = run_parley("--config", str(config), "console")
    assert result.returncode == 2
    assert "DISCORD_TOKEN" in result.stderr and "Traceback" not in result.stderr


def test_no_model_configured_says_how_to_configure_one(tmp_path):
    env = {"PARLEY_DATA_DIR": str(tmp_path), "PARLEY_BACKEND": "openai", "OPENAI_BASE_URL": "x"}
    result = run_parley("console", env=env)
    assert result.returncode == 2 and "OPENAI_BASE_URL" in result.stderr


async def chat(lines: str, env: dict[str, str]) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "console",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **env},
    )
    out, err = await asyncio.wait_for(process.communicate(lines.encode()), 60)
    assert process.returncode == 0, err.decode()
    return out.decode()


async def test_console_over_a_pipe_answers_each_line_and_remembers_across_runs(
    tmp_path, openai_peer
):
    env = {
        "PARLEY_DATA_DIR": str(tmp_path),
        "OPENAI_BASE_URL": openai_peer.base_url,
        "PARLEY_MODEL": "peer-model",
    }
    first = await chat("my name is Zed\nsecond line\n", env)
    answers = first.splitlines()
    assert len(answers) == 2
    assert answers[0].startswith("echo: ") and answers[0].endswith(": my name is Zed")
    assert answers[1].endswith(": second line")
    await chat("what is my name?\n", env)
    contents = [m["content"] for m in openai_peer.requests[-1]["messages"]]
    assert any("my name is Zed" in content for content in contents)
    assert len(contents) == 1 + 2 * 2 + 1


def test_the_openai_backend_without_a_key_or_server_is_one_line(tmp_path):
    result = run_parley(
        "console", env={"PARLEY_DATA_DIR": str(tmp_path), "PARLEY_BACKEND": "openai"}
    )
    assert result.returncode == 2
    assert "PARLEY_BACKEND=openai needs OPENAI_API_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single line a failing command printed (the -X importtime lines aside)."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if not line.startswith("import time:")]
    assert len(lines) == 1 and result.stdout == "", result.stderr
    return lines[0]


def test_version_names_the_installed_distribution():
    result = run_parley("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"parley {version('parley-bot')}"


def test_config_works_before_or_after_the_subcommand(tmp_path):
    config = tmp_path / "parley.toml"
    config.write_text("temperature = 5\n")
    env = {"PARLEY_DATA_DIR": str(tmp_path)}
    before = run_parley("--config", str(config), "export", env=env)
    after = run_parley("export", "--config", str(config), env=env)
    assert one_line(before) == one_line(after)
    assert "PARLEY_TEMPERATURE" in one_line(after)


def test_every_subcommand_has_a_one_line_description():
    overview = [line.split(None, 1) for line in run_parley("--help").stdout.splitlines()]
    for command in ("console", "discord", "slack", "serve", "export", "doctor"):
        assert any(len(words) == 2 and words[0] == command for words in overview), command
        usage, description = run_parley(command, "--help").stdout.split("\n\n")[:2]
        assert usage.startswith(f"usage: parley {command}") and description.strip(), command


def test_an_unknown_variable_stops_start_up_naming_the_closest_setting(tmp_path):
    env = {"PARLEY_DATA_DIR": str(tmp_path), "PARLEY_SLACK_TEAM": "T1"}
    line = one_line(run_parley("console", env=env))
    assert line == "parley: unknown setting PARLEY_SLACK_TEAM: did you mean PARLEY_SLACK_TEAMS?"


def test_a_home_relative_data_dir_lands_in_home(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    env = {"HOME": str(tmp_path), "PARLEY_DATA_DIR": "~/.local/share/parley"}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "export", "-o", "~/out.jsonl"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=work,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / ".local/share/parley/parley.db").is_file()
    assert (tmp_path / "out.jsonl").is_file()
    assert list(work.iterdir()) == []


@pytest.mark.parametrize(
    ("variable", "value"),
    [("PARLEY_DATA_DIR", "{file}/parley"), ("PARLEY_DATABASE_URL", "sqlite:///{file}/db/x.db")],
)
def test_a_data_folder_that_cannot_be_made_is_one_line_naming_the_setting(
    tmp_path, variable, value
):
    occupied = tmp_path / "a-file"
    occupied.write_text("")
    result = run_parley("export", env={variable: value.format(file=occupied)})
    line = one_line(result)
    assert line.startswith("parley: cannot use the folder") and line.endswith(f"fix {variable}")
    assert "Not a directory" in line


def test_export_to_a_missing_folder_is_one_line(tmp_path):
    result = run_parley(
        "export", "-o", "/missing/dir/x.jsonl", env={"PARLEY_DATA_DIR": str(tmp_path)}
    )
    line = one_line(result)
    assert line == "parley: cannot write --output /missing/dir/x.jsonl (No such file or directory)"


def test_export_of_an_unknown_platform_lists_the_known_ones(tmp_path):
    result = run_parley("export", "--platform", "teams", env={"PARLEY_DATA_DIR": str(tmp_path)})
    line = one_line(result)
    known = ", ".join(adapter_names())
    assert line == f"parley: --platform 'teams' is not a known platform: use one of {known}"
