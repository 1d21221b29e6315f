"""deploy/parley.service: who runs Parley, with what environment, how it stops and restarts."""

from __future__ import annotations

import shlex
from pathlib import PurePosixPath

import pytest

from bot.cli import EXIT_CONFIG
from bot.config import Settings
from tests.deploy.files import (
    DEPLOY,
    is_parley_command,
    mentioned_setting_names,
    settings_from,
    systemd_unit,
    unknown_names,
)

UNIT_PATH = DEPLOY / "parley.service"
UNIT = systemd_unit(UNIT_PATH)
SERVICE = UNIT["Service"]


def _one(key: str) -> str:
    (value,) = [value for name, value in SERVICE if name == key]
    return value


def _environment() -> dict[str, str]:
    env = {}
    for key, value in SERVICE:
        if key == "Environment":
            for pair in shlex.split(value):
                name, _, setting = pair.partition("=")
                env[name] = setting
    return env


def test_has_the_three_sections_and_starts_at_boot():
    assert set(UNIT) == {"Unit", "Service", "Install"}
    assert ("WantedBy", "multi-user.target") in UNIT["Install"]
    assert ("After", "network-online.target postgresql.service") in UNIT["Unit"]


def test_runs_parley_serve_from_its_virtualenv_as_an_unprivileged_user():
    assert _one("User") == "parley" != "root"
    executable, *argv = shlex.split(_one("ExecStart"))
    assert PurePosixPath(executable) == PurePosixPath("/opt/parley/.venv/bin/parley")
    assert argv == ["serve"] and is_parley_command(argv)


def test_secrets_come_from_a_root_owned_environment_file():
    assert _one("EnvironmentFile") == "/etc/parley/parley.env"
    assert not set(_environment()) & {"OPENAI_API_KEY", "DISCORD_TOKEN", "SLACK_BOT_TOKEN"}


def test_the_data_directory_is_the_state_directory(monkeypatch: pytest.MonkeyPatch):
    env = _environment()
    assert not unknown_names(set(env))
    settings = settings_from(env, monkeypatch)
    state = PurePosixPath("/var/lib") / _one("StateDirectory")
    assert PurePosixPath(settings.data_dir) == state
    assert PurePosixPath(settings.effective_database_url.removeprefix("sqlite:///")).parent == state
    for cache in ("HF_HOME", "TIKTOKEN_CACHE_DIR"):
        assert state in PurePosixPath(env[cache]).parents, f"{cache} is not writable elsewhere"


def test_systemd_waits_longer_than_parley_finishes_answers():
    assert _one("KillSignal") == "SIGTERM"
    grace = Settings.model_fields["shutdown_grace_seconds"].default
    assert float(_one("TimeoutStopSec")) > grace


def test_restarts_on_failure_but_not_on_a_configuration_error():
    assert _one("Restart") == "on-failure"
    assert _one("RestartPreventExitStatus") == str(EXIT_CONFIG)


def test_is_hardened():
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "CapabilityBoundingSet": "",
    }.items():
        assert _one(key) == value, key


def test_every_name_written_in_the_unit_is_a_setting():
    assert not unknown_names(mentioned_setting_names(UNIT_PATH.read_text()))
