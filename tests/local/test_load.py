"""Loading: the real code path from a directory, and one clear line when there is no model."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from bot.llm.base import GenerationOptions
from bot.llm.local.backend import LocalBackend, LocalOptions, ModelLoadError
from bot.llm.local.load import choose_dtype, choose_prefill_dtype, load_model
from bot.types import ChatMessage, Role
from tests.support.settings import make_settings


def local_options(**settings: Any) -> LocalOptions:
    return LocalOptions.from_settings(make_settings(**settings))


async def test_loads_a_model_directory_and_logs_what_it_loaded(
    chat_model_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.llm")
    backend = await LocalBackend.load(local_options(model=str(chat_model_dir)))
    await backend.aclose()

    assert (backend.device, backend.dtype) == ("cpu", "float32")
    line = next(r.getMessage() for r in caplog.records if "loaded" in r.getMessage())
    assert "cpu" in line and "float32" in line and "parameters" in line


async def test_an_explicit_dtype_is_honoured(chat_model_dir: Path) -> None:
    options = local_options(model=str(chat_model_dir), local_dtype="bfloat16")
    backend = await LocalBackend.load(options)
    await backend.aclose()
    assert backend.dtype == "bfloat16"


async def test_prompts_are_read_in_bfloat16_where_the_cpu_has_it_and_as_asked(
    chat_model_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import torch

    native = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    assert choose_prefill_dtype("auto", "cpu", "float32") == ("bfloat16" if native else None)
    assert choose_prefill_dtype("bfloat16", "cpu", "float32") == "bfloat16"
    assert choose_prefill_dtype("model", "cpu", "float32") is None
    assert choose_prefill_dtype("bfloat16", "cpu", "int8") is None  # quantized layers: as is
    caplog.set_level(logging.INFO, logger="bot.llm")
    options = local_options(model=str(chat_model_dir), local_prefill_dtype="bfloat16")
    backend = await LocalBackend.load(options)
    await backend.aclose()
    line = next(r.getMessage() for r in caplog.records if "loaded" in r.getMessage())
    assert "as float32 (prompts read in bfloat16)" in line


async def load_error(**settings: object) -> str:
    with pytest.raises(ModelLoadError) as caught:
        await LocalBackend.load(local_options(**settings))
    message = str(caught.value)
    assert "\n" not in message
    return message


async def test_a_missing_path_is_one_clear_line(tmp_path: Path) -> None:
    message = await load_error(model=str(tmp_path / "nothing-here"))
    assert message.startswith(f"PARLEY_MODEL={tmp_path / 'nothing-here'}: no model there")
    assert "OPENAI_BASE_URL" in message


async def test_a_directory_without_a_model_is_one_clear_line(tmp_path: Path) -> None:
    message = await load_error(model=str(tmp_path))
    assert "no model there (expected a directory with config.json" in message


async def test_a_broken_model_directory_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{ not json")
    message = await load_error(model=str(tmp_path))
    assert message.startswith(f"PARLEY_MODEL={tmp_path}: could not load the model")


async def test_an_uncached_hub_id_offline_says_how_to_download_it() -> None:
    message = await load_error(model="parley-tests/no-such-model")
    assert "not downloaded" in message
    assert "HF_HUB_OFFLINE=1" in message
    assert "hf download parley-tests/no-such-model" in message


async def test_an_unavailable_device_is_one_clear_line(chat_model_dir: Path) -> None:
    message = await load_error(model=str(chat_model_dir), local_device="cuda")
    assert message.startswith("PARLEY_LOCAL_DEVICE=cuda")


async def test_int8_quantizes_the_linear_layers_and_still_answers(chat_model_dir: Path) -> None:
    int8 = local_options(model=str(chat_model_dir), local_dtype="int8")
    loaded = load_model(int8)
    import torch

    modules = list(loaded.model.modules())
    assert loaded.dtype == "int8"
    assert any(isinstance(m, torch.ao.nn.quantized.dynamic.Linear) for m in modules)
    assert not any(type(m) is torch.nn.Linear for m in modules), "every Linear is int8 now"
    backend = await LocalBackend.load(int8)
    try:
        messages = [ChatMessage(Role.USER, "hello")]
        options = GenerationOptions(model="", max_tokens=8, temperature=0.0)
        deltas = [delta async for delta in backend.stream(messages, options)]
        assert deltas[-1].usage is not None and deltas[-1].usage.output_tokens > 0
    finally:
        await backend.aclose()


def test_int8_on_a_gpu_is_one_line_naming_the_setting() -> None:
    with pytest.raises(ModelLoadError, match="PARLEY_LOCAL_DTYPE=int8 is for CPUs"):
        choose_dtype("int8", "cuda")
