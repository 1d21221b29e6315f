"""A newcomer's first run and an operator's slips: one line with the fix, exit 2, no traceback."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest
import yaml

from tests.peers.openai_peer import OpenAIPeer
from tests.support.cli import Run, run_parley

ROOT = Path(__file__).resolve().parents[2]
INSTALL_FROM_CHECKOUT = "in the Parley checkout"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def one_line(run: Run) -> str:
    """The single line Parley printed for a configuration problem (exit status 2)."""
    assert run.returncode == 2, (run.stdout, run.stderr)
    assert "Traceback" not in run.stderr + run.stdout
    assert len(run.lines) == 1, run.stderr
    assert run.lines[0].startswith("parley: ")
    return run.lines[0]


# ---- missing extras -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "missing", "extra"),
    [
        (("slack",), ("slack_bolt",), "slack"),
        (("discord",), ("discord",), "discord"),
        (("discord", "invite-url"), ("discord",), "discord"),
    ],
)
def test_a_platform_without_its_library_is_one_install_line(
    tmp_path: Path, args: tuple[str, ...], missing: tuple[str, ...], extra: str
) -> None:
    run = run_parley(
        *args, env={"PARLEY_DATA_DIR": str(tmp_path)}, missing=missing, tmp_path=tmp_path
    )
    line = one_line(run)
    assert missing[0] in line and f'pip install -e ".[{extra}]"' in line, line


def test_a_postgresql_url_without_asyncpg_is_one_install_line(tmp_path: Path) -> None:
    env = {
        "PARLEY_DATABASE_URL": "postgresql://parley:secret@127.0.0.1/test",
        "OPENAI_BASE_URL": f"http://127.0.0.1:{closed_port()}/v1",
    }
    run = run_parley("console", env=env, missing=("asyncpg",), tmp_path=tmp_path)
    line = one_line(run)
    assert "asyncpg" in line and 'pip install -e ".[postgres]"' in line
    assert "secret" not in line


@pytest.mark.parametrize("missing", ["torch", "transformers"])
def test_the_local_backend_without_its_libraries_is_one_install_line(
    tmp_path: Path, missing: str
) -> None:
    env = {"PARLEY_BACKEND": "local", "PARLEY_DATA_DIR": str(tmp_path)}
    run = run_parley("console", env=env, missing=(missing,), tmp_path=tmp_path)
    line = one_line(run)
    assert line.startswith(f"parley: PARLEY_BACKEND=local needs {missing}")
    assert "download.pytorch.org/whl/cpu" in line and 'pip install -e ".[local]"' in line


def test_no_model_and_no_local_extra_says_what_to_set_or_install(tmp_path: Path) -> None:
    run = run_parley(
        "console", env={"PARLEY_DATA_DIR": str(tmp_path)}, missing=("torch",), tmp_path=tmp_path
    )
    line = one_line(run)
    assert "OPENAI_API_KEY" in line and "OPENAI_BASE_URL" in line
    assert 'pip install -e ".[local]"' in line


def test_doctor_reports_each_missing_extra_the_configuration_needs(tmp_path: Path) -> None:
    env = {
        "PARLEY_DATA_DIR": str(tmp_path),
        "PARLEY_BACKEND": "local",
        "PARLEY_DATABASE_URL": "postgresql://parley@127.0.0.1/test",
        "DISCORD_TOKEN": "MTIz.abc.def",
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_APP_TOKEN": "xapp-test",
    }
    missing = ("torch", "asyncpg", "discord", "slack_bolt")
    run = run_parley("doctor", env=env, missing=missing, tmp_path=tmp_path)
    assert run.returncode == 1 and "Traceback" not in run.stderr + run.stdout
    failures = {line.split(":")[0]: line for line in run.stdout.splitlines() if "FAIL" in line}
    expected = {"model": "local", "store": "postgres", "discord": "discord", "slack": "slack"}
    for subject, extra in expected.items():
        line = failures[f"FAIL  {subject}"]
        assert f'pip install -e ".[{extra}]"' in line, line


# ---- a local model that is not on this machine ----------------------------------------------


def test_an_uncached_hub_model_offline_is_one_line_with_the_fetch_command(tmp_path: Path) -> None:
    env = {
        "PARLEY_BACKEND": "local",
        "PARLEY_DATA_DIR": str(tmp_path),
        "HF_HOME": str(tmp_path / "hf"),
        "HF_HUB_OFFLINE": "1",
    }
    run = run_parley("console", env=env, stdin="hello\n")
    print(f"offline: failed in {run.seconds:.1f} s")
    line = one_line(run)
    assert "not downloaded to this machine" in line
    assert "`hf download Qwen/Qwen2.5-0.5B-Instruct`" in line and "PARLEY_MODEL" in line


def test_an_unreachable_hub_fails_fast_without_retries(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}"
    env = {
        "PARLEY_BACKEND": "local",
        "PARLEY_DATA_DIR": str(tmp_path),
        "HF_HOME": str(tmp_path / "hf"),
        "HF_ENDPOINT": endpoint,
        "HF_HUB_OFFLINE": "0",
        "TRANSFORMERS_OFFLINE": "0",
    }
    run = run_parley("console", env=env, stdin="hello\n")
    print(f"unreachable hub: failed in {run.seconds:.1f} s")
    line = one_line(run)
    assert f"the model is not on this machine and {endpoint} is unreachable" in line
    assert "`hf download Qwen/Qwen2.5-0.5B-Instruct`" in line and "PARLEY_MODEL" in line


# ---- parley slack manifest ------------------------------------------------------------------


def test_the_socket_mode_manifest_is_the_deploy_file_and_needs_no_slack_library(
    tmp_path: Path,
) -> None:
    run = run_parley("slack", "manifest", missing=("slack_bolt", "slack_sdk"), tmp_path=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout == (ROOT / "deploy" / "slack-manifest.yaml").read_text()


def test_the_http_manifest_points_every_request_at_the_url() -> None:
    yaml_run = run_parley("slack", "manifest", "--mode", "http", "--url", "https://bot.example/")
    json_run = run_parley("slack", "manifest", "--url", "https://bot.example", "--format", "json")
    assert yaml_run.returncode == json_run.returncode == 0
    manifest = yaml.safe_load(yaml_run.stdout)
    assert manifest == json.loads(json_run.stdout)
    url = "https://bot.example/slack/events"
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is False
    assert settings["event_subscriptions"]["request_url"] == url
    assert settings["interactivity"] == {"is_enabled": True, "request_url": url}
    assert {command["url"] for command in manifest["features"]["slash_commands"]} == {url}


def test_the_manifest_follows_renamed_commands() -> None:
    run = run_parley("slack", "manifest", env={"PARLEY_SLACK_ASK_COMMAND": "/llm"})
    commands = [c["command"] for c in yaml.safe_load(run.stdout)["features"]["slash_commands"]]
    assert commands == ["/llm", "/parley"]


def test_an_http_manifest_without_a_url_is_one_line() -> None:
    line = one_line(run_parley("slack", "manifest", "--mode", "http"))
    assert "--url" in line


# ---- the console ----------------------------------------------------------------------------


def test_a_model_server_that_is_down_is_named_with_the_setting_to_check(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    env = {"OPENAI_BASE_URL": url, "PARLEY_MAX_RETRIES": "0", "PARLEY_DATA_DIR": str(tmp_path)}
    run = run_parley("console", env=env, stdin="hello\n")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.lines[-1].startswith(f"parley: {url} unreachable")
    assert run.lines[-1].endswith("fix OPENAI_BASE_URL or start the model server")
    # Listing its models failed because it is down: choosing a model would not help.
    assert "PARLEY_MODEL" not in run.stderr


async def test_the_console_answers_over_a_pipe_with_only_the_base_install(
    tmp_path: Path, openai_peer: OpenAIPeer
) -> None:
    env = {"OPENAI_BASE_URL": openai_peer.base_url, "PARLEY_DATA_DIR": str(tmp_path)}
    # The README's first command installs no local-model libraries: run as if they were absent.
    missing = ("torch", "transformers", "discord", "slack_bolt", "asyncpg", "tiktoken")
    # The peer serves on this test's event loop: run the CLI on a thread so as not to block it.
    run = await asyncio.to_thread(
        run_parley, "console", env=env, stdin="hello\n", missing=missing, tmp_path=tmp_path
    )
    assert run.returncode == 0, run.stderr
    answer = run.stdout.strip()
    assert answer.startswith("echo: ") and answer.endswith("hello")


async def test_the_console_translates_into_the_terminals_language(
    tmp_path: Path, openai_peer: OpenAIPeer
) -> None:
    env = {
        "OPENAI_BASE_URL": openai_peer.base_url,
        "PARLEY_DATA_DIR": str(tmp_path),
        "LC_ALL": "",
        "LC_MESSAGES": "",
        "LANG": "de_DE.UTF-8",
    }
    stdin = "/translate good morning\n/translate to French good night\n/summarize\n"
    run = await asyncio.to_thread(run_parley, "console", env=env, stdin=stdin)
    assert run.returncode == 0, run.stderr
    first, second, summary = run.stdout.strip().splitlines()
    assert (first, second) == ("echo: good morning", "echo: good night")
    by_locale, by_name = (request["messages"][0]["content"] for request in openai_peer.requests)
    assert "into the language of the locale de-DE" in by_locale
    assert "into French" in by_name
    assert summary == "There is nothing to summarize here: summaries need a channel or a thread."
    assert len(openai_peer.requests) == 2, "a translation is one call; nothing to summarize: none"
