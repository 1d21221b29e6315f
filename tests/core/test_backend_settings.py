"""Each backend owns its settings (bot/llm/*/settings.py), read, checked, masked and documented
as a door's are: the same variable names, flat file keys or an `[openai]`/`[local]` table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import MASK, ConfigError, load_settings
from bot.doctor import check_backend
from bot.llm.local.options import LocalOptions
from bot.llm.local.settings import LocalSettings
from bot.llm.openai.settings import OpenAISettings
from bot.llm.plugins import load_backend
from tests.peers.openai_peer import OpenAIPeer


def load_file(tmp_path: Path, text: str):
    config = tmp_path / "parley.toml"
    config.write_text(text)
    return load_settings(config)


def test_a_backend_has_its_own_table_and_the_environment_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("PARLEY_LOCAL_MAX_BATCH", "3")
    settings = load_file(
        tmp_path,
        '[openai]\nbase_url = "http://127.0.0.1:9/v1"\nmax_retries = 0\n'
        '[local]\ndtype = "int8"\nmax_batch = 16\nseed = 7\n',
    )
    server, local = settings.of(OpenAISettings), settings.of(LocalSettings)
    assert (server.base_url, server.max_retries) == ("http://127.0.0.1:9/v1", 0)
    assert (local.dtype, local.max_batch, local.seed) == ("int8", 3, 7)


def test_the_flat_keys_of_today_still_reach_the_backends(tmp_path):
    settings = load_file(
        tmp_path,
        'openai_base_url = "http://127.0.0.1:9/v1"\nrequest_timeout = 5.0\n'
        'local_dtype = "bfloat16"\ntop_p = 0.5\nmodel = "m"\n',
    )
    assert settings.of(OpenAISettings).request_timeout == 5.0
    options = LocalOptions.from_settings(settings)
    assert (options.model, options.dtype, options.top_p) == ("m", "bfloat16", 0.5)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[openai]\napi_key = "sk-x"\n', "[openai] api_key in the config file: secrets are read"),
        ('openai_api_key = "sk-x"\n', "[openai] api_key in the config file: secrets are read"),
        ('[local]\ndtyp = "int8"\n', "unknown setting dtyp in [local] of the config file: did "),
        ('[local]\ndtype = "int4"\n', "PARLEY_LOCAL_DTYPE: Input should be 'auto', 'float32'"),
        ("max_retries = 11\n", "PARLEY_MAX_RETRIES: Input should be less than or equal to 10"),
    ],
)
def test_a_backends_settings_are_checked_like_the_rest(tmp_path, text, expected):
    with pytest.raises(ConfigError) as raised:
        load_file(tmp_path, text)
    assert str(raised.value).startswith(expected) and "\n" not in str(raised.value)
    assert "sk-x" not in str(raised.value)


def test_an_unknown_variable_is_offered_the_backends_setting(monkeypatch):
    monkeypatch.setenv("PARLEY_LOCAL_DTYP", "int8")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert (
        str(raised.value) == "unknown setting PARLEY_LOCAL_DTYP: did you mean PARLEY_LOCAL_DTYPE?"
    )


def test_the_backend_is_any_installed_one_in_any_case(monkeypatch):
    monkeypatch.setenv("PARLEY_BACKEND", "LOCAL")
    assert load_settings().backend == "local"
    monkeypatch.setenv("PARLEY_BACKEND", "vllm")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert str(raised.value) == (
        "PARLEY_BACKEND: Input should be 'auto', 'local' or 'openai' (got 'vllm'); "
        "fix it in the environment or config"
    )


def test_each_plugin_declares_the_model_it_reads():
    assert load_backend("openai").settings_model is OpenAISettings
    assert load_backend("local").settings_model is LocalSettings


def test_help_lists_each_backends_settings():
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    for name, model in (("openai", OpenAISettings), ("local", LocalSettings)):
        assert f"the {name} backend's settings (environment variables, or the [{name}]" in (
            result.stdout
        )
        for variable in model.env_names().values():
            assert f"  {variable}" in result.stdout, variable
    assert "  PARLEY_LOCAL_MAX_BATCH (default 8)\n" in result.stdout


async def test_doctor_shows_the_chosen_backends_settings_with_the_key_masked(
    monkeypatch, tmp_path, openai_peer: OpenAIPeer
):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-doctor-secret")
    monkeypatch.setenv("OPENAI_BASE_URL", openai_peer.base_url)
    monkeypatch.setenv("PARLEY_DATA_DIR", str(tmp_path))
    given, answers = [finding.line() for finding in await check_backend(load_settings())]
    assert given == (
        f"ok    openai: settings OPENAI_API_KEY={MASK}, OPENAI_BASE_URL={openai_peer.base_url}"
    )
    assert answers.startswith("ok    model: openai backend answers, model peer-model")
