"""A model backend as its own distribution (tests/third_backend): installed beside Parley, with
no file of bot/ touched, it is a backend like the others: chosen by PARLEY_BACKEND, its own
settings read from the environment or its `[echo]` table, checked, masked, and listed in
`parley --help` and `parley doctor`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot.config import MASK
from tests.support.cli import PARLEY
from tests.support.distributions import environment, install_apart

SOURCE = Path(__file__).resolve().parents[1] / "third_backend"
KEY = "echo-key-very-secret"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The distribution installed into a folder of its own (the project's venv untouched)."""
    return install_apart(SOURCE, tmp_path_factory.mktemp("third_backend"))


def parley(env: dict[str, str], *args: str, said: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PARLEY, *args], input=said, capture_output=True, text=True, env=env, timeout=120
    )


def test_its_settings_are_in_help(site: Path, tmp_path: Path) -> None:
    result = parley(environment(site, tmp_path), "--help")
    assert result.returncode == 0
    assert "the echo backend's settings (environment variables, or the [echo] table" in (
        result.stdout
    )
    assert "  PARLEY_ECHO_PREFIX (default echo: )\n      What every answer starts with." in (
        result.stdout
    )
    assert "  ECHO_API_KEY\n      The echo service's key (secret)." in result.stdout


def test_it_answers_with_its_settings_from_the_environment_or_its_table(
    site: Path, tmp_path: Path
) -> None:
    env = environment(site, tmp_path, PARLEY_BACKEND="Echo", ECHO_API_KEY=KEY)
    result = parley({**env, "PARLEY_ECHO_PREFIX": ">> "}, "console", said="hello there\n")
    assert result.returncode == 0, result.stderr
    assert ">> hello there" in result.stdout
    config = tmp_path / "parley.toml"
    config.write_text('[echo]\nprefix = "from the file: "\n')
    result = parley(env, "--config", str(config), "console", said="and again\n")
    assert result.returncode == 0, result.stderr
    assert "from the file: and again" in result.stdout


@pytest.mark.parametrize(
    ("settings", "text", "expected"),
    [
        ({}, "", "parley: PARLEY_BACKEND=echo needs ECHO_API_KEY"),
        (
            {"PARLEY_ECHO_PREFX": "x"},
            "",
            "parley: unknown setting PARLEY_ECHO_PREFX: did you mean PARLEY_ECHO_PREFIX?",
        ),
        (
            {"ECHO_API_KEY": KEY},
            f'[echo]\napi_key = "{KEY}"\n',
            "parley: [echo] api_key in the config file: secrets are read only from the "
            "environment; remove it and set ECHO_API_KEY instead",
        ),
    ],
)
def test_its_bad_config_is_one_line_and_exit_2(
    site: Path, tmp_path: Path, settings: dict[str, str], text: str, expected: str
) -> None:
    config = tmp_path / "parley.toml"
    config.write_text(text)
    env = environment(site, tmp_path, PARLEY_BACKEND="echo", **settings)
    result = parley(env, "--config", str(config), "console", said="hi\n")
    assert (result.returncode, result.stderr.strip()) == (2, expected)


def test_doctor_shows_its_settings_masked_and_its_answer(site: Path, tmp_path: Path) -> None:
    env = environment(
        site, tmp_path, PARLEY_BACKEND="echo", ECHO_API_KEY=KEY, PARLEY_ECHO_PREFIX=">"
    )
    result = parley(env, "doctor")
    assert result.returncode == 0, result.stdout
    lines = result.stdout.splitlines()
    assert f"ok    echo: settings ECHO_API_KEY={MASK}, PARLEY_ECHO_PREFIX=>" in lines
    assert any(line.startswith("ok    model: echo backend answers, model echo") for line in lines)
    assert KEY not in result.stdout + result.stderr
