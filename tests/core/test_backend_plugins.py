"""Backends are plugins (`parley.backends`): listed without importing, chosen by PARLEY_BACKEND,
and read by what they can do, never by their name."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings
from bot.llm.plugins import backend_names, choose_backend
from bot.wiring import open_runtime
from tests.core.test_cli import HEAVY
from tests.support.backends import ScriptedBackend
from tests.support.settings import make_settings


def test_the_installed_backends_load_without_their_libraries():
    listed = (
        "import sys; from bot.llm.plugins import backend_names, load_backend; "
        "plugins = [load_backend(name) for name in backend_names()]; "
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", listed], capture_output=True, text=True, check=True, timeout=60
    )
    assert not set(result.stdout.split()) & set(HEAVY)
    assert backend_names() == ["local", "openai"]


def test_auto_takes_a_configured_server_before_a_model_on_this_machine(tmp_path: Path):
    served = make_settings(data_dir=tmp_path, openai_base_url="http://127.0.0.1:9/v1")
    assert choose_backend(served)[0] == "openai"
    # The test environment has torch and transformers installed.
    assert choose_backend(Settings(data_dir=tmp_path))[0] == "local"


def test_a_backend_that_is_not_installed_is_one_line_listing_those_that_are(tmp_path: Path):
    settings = Settings(data_dir=tmp_path).model_copy(update={"backend": "vllm"})
    with pytest.raises(ConfigError) as caught:
        choose_backend(settings)
    assert str(caught.value) == (
        "PARLEY_BACKEND=vllm: no such backend is installed; set it to auto or one of local, openai"
    )


class OneModelBackend(ScriptedBackend):
    """A backend that holds one model, as a local one does."""

    capabilities = replace(ScriptedBackend.capabilities, switches_models=False)


async def test_a_backend_that_cannot_switch_models_refuses_a_budget_fallback(tmp_path: Path):
    settings = Settings(data_dir=tmp_path, models_allowed=["small"], budget_fallback_model="small")
    async with open_runtime(settings, backend=ScriptedBackend()) as runtime:
        assert runtime.model == "default"
    with pytest.raises(ConfigError, match="PARLEY_BUDGET_FALLBACK_MODEL=small is not in"):
        async with open_runtime(settings, backend=OneModelBackend()):
            pass
