"""Settings: documented, validated, file and environment, secrets masked."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import SECRET_ENV_NAMES, ConfigError, Settings, env_name, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_documented_in_the_readme_and_the_example_file():
    readme = (ROOT / "README.md").read_text()
    example = (ROOT / "deploy" / "parley.example.toml").read_text()
    for name in Settings.model_fields:
        assert f"`{env_name(name)}`" in readme, name
        if name not in SECRET_ENV_NAMES:
            assert f"# {name} =" in example, name


def test_the_file_is_read_and_the_environment_wins(tmp_path, monkeypatch):
    config = tmp_path / "parley.toml"
    config.write_text('model = "from-file"\ntemperature = 0.1\ndiscord_guilds = ["1", "2"]\n')
    monkeypatch.setenv("PARLEY_TEMPERATURE", "0.3")
    settings = load_settings(config)
    assert settings.model == "from-file"
    assert settings.temperature == 0.3
    assert settings.discord_guilds == ["1", "2"]


def test_lists_in_the_environment_are_comma_separated(monkeypatch):
    monkeypatch.setenv("PARLEY_SLACK_ADMINS", "U1, U2")
    monkeypatch.setenv("PARLEY_DISCORD_SHARD_IDS", "0,3")
    settings = load_settings()
    assert settings.slack_admins == ["U1", "U2"] and settings.discord_shard_ids == [0, 3]


def test_secrets_are_masked_in_reprs(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-very-secret")
    settings = load_settings()
    assert "very-secret" not in repr(settings) and "very-secret" not in str(settings)
    assert settings.openai_api_key.get_secret_value() == "sk-very-secret"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("PARLEY_MAX_TOKENS", "0", "PARLEY_MAX_TOKENS"),
        ("PARLEY_DATABASE_URL", "mysql://x", "sqlite:///"),
        ("OPENAI_BASE_URL", "localhost:8000", "OPENAI_BASE_URL"),
        ("PARLEY_SLACK_MODE", "carrier-pigeon", "PARLEY_SLACK_MODE"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_setting(monkeypatch, variable, value, expected):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert expected in str(raised.value) and "\n" not in str(raised.value)


def test_an_unknown_key_in_the_file_is_named(tmp_path):
    config = tmp_path / "parley.toml"
    config.write_text("modle = 'x'\n")
    with pytest.raises(ConfigError, match="unknown setting 'modle'"):
        load_settings(config)


def test_a_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")
