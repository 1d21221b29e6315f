"""Settings: documented, validated, file and environment, secrets masked."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.discord.settings import DiscordSettings
from adapters.slack.settings import SlackSettings
from bot.config import (
    MASK,
    ConfigError,
    Settings,
    env_name,
    load_settings,
    mask_url,
    plugin_settings_models,
)
from bot.llm.openai.settings import OpenAISettings
from bot.settings_base import literal_choices
from bot.settings_doc import readme_rows

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_documented_in_the_readme_and_the_example_file():
    readme = (ROOT / "README.md").read_text()
    example = (ROOT / "deploy" / "parley.example.toml").read_text()
    for name in Settings.model_fields:
        assert f"`{env_name(name)}`" in readme, name
        if name not in Settings.secret_fields():
            assert f"# {name} =" in example, name


@pytest.mark.parametrize(("door", "model"), plugin_settings_models().items())
def test_each_plugins_settings_are_the_readme_rows_made_from_its_model(door, model):
    """`python -m bot.settings_doc` prints the rows; the example file has each flat key."""
    readme = (ROOT / "README.md").read_text()
    example = (ROOT / "deploy" / "parley.example.toml").read_text()
    assert "\n".join(readme_rows(model)) in readme, door
    for field, variable in model.env_names().items():
        if field not in model.secret_fields():
            assert f"# {variable.removeprefix('PARLEY_').lower()} =" in example, variable


def test_the_file_is_read_and_the_environment_wins(tmp_path, monkeypatch):
    config = tmp_path / "parley.toml"
    config.write_text('model = "from-file"\ntemperature = 0.1\ndiscord_guilds = ["1", "2"]\n')
    monkeypatch.setenv("PARLEY_TEMPERATURE", "0.3")
    settings = load_settings(config)
    assert settings.model == "from-file"
    assert settings.temperature == 0.3
    assert settings.of(DiscordSettings).guilds == ["1", "2"]


def test_a_door_has_its_own_table_in_the_file(tmp_path, monkeypatch):
    config = tmp_path / "parley.toml"
    config.write_text('model = "m"\n[discord]\nguilds = ["1"]\n[slack]\nmode = "http"\n')
    monkeypatch.setenv("PARLEY_DISCORD_GUILDS", "2,3")
    settings = load_settings(config)
    assert settings.of(DiscordSettings).guilds == ["2", "3"]
    assert settings.of(SlackSettings).mode == "http" and settings.model == "m"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[slack]\nbot_token = "x"\n', "[slack] bot_token in the config file"),
        ('slack_app_token = "x"\n', "[slack] app_token in the config file"),
        ('[discord]\ngilds = ["1"]\n', "unknown setting gilds in [discord] of the config file"),
        ("discord_gilds = []\n", "unknown setting discord_gilds in the config file: did you mean "),
        ('[discord]\nthreads = "on"\n', "PARLEY_DISCORD_THREADS: Input should be 'off' or"),
    ],
)
def test_a_doors_table_is_checked_like_the_rest(tmp_path, text, expected):
    config = tmp_path / "parley.toml"
    config.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_settings(config)
    assert str(raised.value).startswith(expected) and "\n" not in str(raised.value)


def test_lists_in_the_environment_are_comma_separated(monkeypatch):
    monkeypatch.setenv("PARLEY_SLACK_ADMINS", "U1, U2")
    monkeypatch.setenv("PARLEY_DISCORD_SHARD_IDS", "0,3")
    settings = load_settings()
    assert settings.of(SlackSettings).admins == ["U1", "U2"]
    assert settings.of(DiscordSettings).shard_ids == [0, 3]


def test_secrets_are_masked_in_reprs(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-very-secret")
    settings = load_settings()
    slack = settings.of(SlackSettings)
    for shown in (repr(settings), str(settings), repr(slack), str(slack.model_dump())):
        assert "very-secret" not in shown
    assert settings.of(OpenAISettings).api_key.get_secret_value() == "sk-very-secret"
    assert {"sk-very-secret", "xoxb-very-secret"} <= settings.secret_values()


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
    with pytest.raises(ConfigError) as raised:
        load_settings(config)
    assert str(raised.value) == "unknown setting modle in the config file: did you mean model?"


def test_a_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (
            "postgresql://parley:hunter22@db:5432/parley",
            f"postgresql://parley:{MASK}@db:5432/parley",
        ),
        (
            "postgresql://u:p%40ss@db/x?sslmode=require",
            f"postgresql://u:{MASK}@db/x?sslmode=require",
        ),
        (
            "postgresql://u@db/x?password=hunter22&sslmode=a",
            f"postgresql://u@db/x?password={MASK}&sslmode=a",
        ),
        ("https://gw/v1?api-key=sk-abc&x=1", f"https://gw/v1?api-key={MASK}&x=1"),
        ("user:sk-abc@localhost:8000/v1", f"user:{MASK}@localhost:8000/v1"),
        ("postgresql://postgres@127.0.0.1:5432/test", "postgresql://postgres@127.0.0.1:5432/test"),
        ("http://localhost:8000/v1", "http://localhost:8000/v1"),
    ],
)
def test_mask_url_hides_passwords_and_keys_and_nothing_else(url, masked):
    assert mask_url(url) == masked


def test_the_database_password_is_masked_everywhere_but_reaches_the_store(monkeypatch):
    dsn = "postgresql://parley:hunter22@db/parley?password=swordfish&sslmode=require"
    monkeypatch.setenv("PARLEY_DATABASE_URL", dsn)
    settings = load_settings()
    for shown in (
        repr(settings),
        str(settings),
        str(settings.model_dump()),
        settings.model_dump_json(),
    ):
        assert "hunter22" not in shown and "swordfish" not in shown
        assert f"postgresql://parley:{MASK}@db/parley?password={MASK}&sslmode=require" in shown
    assert settings.effective_database_url == dsn
    assert {"hunter22", "swordfish"} <= settings.secret_values()


def test_a_key_in_a_gateway_url_is_masked_in_reprs_and_dumps(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "https://gateway.example/v1?api-key=sk-in-the-url")
    settings = load_settings()
    server = settings.of(OpenAISettings)
    for shown in (repr(server), str(server.model_dump()), server.model_dump_json()):
        assert "sk-in-the-url" not in shown and f"api-key={MASK}" in shown
    assert server.base_url == "https://gateway.example/v1?api-key=sk-in-the-url"
    assert "sk-in-the-url" in settings.secret_values()


def test_a_bad_url_names_the_real_variable_and_hides_its_key(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "localhost:8000/v1?api-key=sk-embedded-key")
    monkeypatch.setenv("PARLEY_DATABASE_URL", "mysql://root:hunter22@db/parley")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    message = str(raised.value)
    assert message.startswith("OPENAI_BASE_URL: ") and "PARLEY_OPENAI_BASE_URL" not in message
    assert "PARLEY_DATABASE_URL: " in message
    assert "sk-embedded-key" not in message and "hunter22" not in message


@pytest.mark.parametrize(
    ("variable", "expected"),
    [
        (
            "PARLEY_SLACK_TEAM",
            "unknown setting PARLEY_SLACK_TEAM: did you mean PARLEY_SLACK_TEAMS?",
        ),
        (
            "PARLEY_TEMPRATURE",
            "unknown setting PARLEY_TEMPRATURE: did you mean PARLEY_TEMPERATURE?",
        ),
        ("parley_modle", "unknown setting PARLEY_MODLE: did you mean PARLEY_MODEL?"),
        (
            "PARLEY_OPENAI_API_KEY",
            "unknown setting PARLEY_OPENAI_API_KEY: did you mean OPENAI_API_KEY?",
        ),
    ],
)
def test_an_unknown_variable_names_the_closest_setting(monkeypatch, variable, expected):
    monkeypatch.setenv(variable, "x")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert str(raised.value) == expected


def test_the_config_file_variable_is_not_an_unknown_setting(tmp_path, monkeypatch):
    config = tmp_path / "parley.toml"
    config.write_text('model = "from-file"\n')
    monkeypatch.setenv("PARLEY_CONFIG", str(config))
    assert load_settings().model == "from-file"


CHOICES = {
    (model, name): choices
    for model in (Settings, *plugin_settings_models().values())
    for name, field in model.model_fields.items()
    if (choices := [c for c in literal_choices(field.annotation) if isinstance(c, str)])
}


@pytest.mark.parametrize(("model", "field", "choices"), [(*k, v) for k, v in CHOICES.items()])
def test_every_choice_is_accepted_in_any_case(monkeypatch, model, field, choices):
    for choice in choices:
        monkeypatch.setenv(model.env_name(field), choice.swapcase())
        loaded = load_settings()
        assert getattr(loaded if model is Settings else loaded.of(model), field) == choice


def test_home_and_variables_in_paths_are_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("STATE", str(tmp_path / "state"))
    (tmp_path / "parley.toml").write_text('model = "from-file"\n')
    monkeypatch.setenv("PARLEY_DATA_DIR", "~/.local/share/parley")
    settings = load_settings("~/parley.toml")
    assert settings.model == "from-file"
    assert settings.data_dir == tmp_path / ".local/share/parley"
    monkeypatch.setenv("PARLEY_DATA_DIR", "$STATE/parley")
    assert load_settings().data_dir == tmp_path / "state/parley"
    monkeypatch.setenv("PARLEY_DATABASE_URL", "sqlite:///~/db/parley.db")
    assert load_settings().effective_database_url == f"sqlite:///{tmp_path}/db/parley.db"


def test_a_path_naming_an_unset_variable_is_one_line(monkeypatch):
    monkeypatch.setenv("PARLEY_DATA_DIR", "$NOWHERE_SET/parley")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert str(raised.value).startswith("PARLEY_DATA_DIR: $NOWHERE_SET is not set")
