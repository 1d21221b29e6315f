"""Find, load and place a local model: device and dtype choice, and one-line load errors.

torch and transformers are imported inside the functions, so importing this module (for
DEFAULT_LOCAL_MODEL or ModelLoadError) costs nothing when the local backend is not used.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.config import ConfigError, Settings

log = logging.getLogger(__name__)

DEFAULT_LOCAL_MODEL = "Qwen/Qwen2.5-0.5B-Instruct"
"""A small instruct model that runs on a laptop CPU; used when PARLEY_MODEL is not set."""

FIX = "point PARLEY_MODEL at a model directory or set OPENAI_BASE_URL to use a server"


class ModelLoadError(ConfigError):
    """The local model could not be loaded; str() is one line naming the setting and the fix."""


@dataclass(frozen=True, slots=True)
class LoadedModel:
    model: Any
    tokenizer: Any
    device: str
    dtype: str


def load_model(settings: Settings) -> LoadedModel:
    """Load tokenizer and model as the settings say (blocking: call it off the event loop)."""
    import torch

    source = settings.model or DEFAULT_LOCAL_MODEL
    started = time.perf_counter()
    device = choose_device(settings.local_device)
    dtype = choose_dtype(settings.local_dtype, device)
    tokenizer, model = _from_pretrained(source, getattr(torch, dtype))
    model.to(device).eval()
    parameters = sum(p.numel() for p in model.parameters())
    log.info(
        "local model %s loaded on %s as %s: %.1fM parameters in %.1f s",
        source,
        device,
        dtype,
        parameters / 1e6,
        time.perf_counter() - started,
    )
    return LoadedModel(model, tokenizer, device, dtype)


def choose_device(wanted: str) -> str:
    """cuda, then mps, then cpu, unless PARLEY_LOCAL_DEVICE names one."""
    import torch

    if wanted != "auto":
        available = {
            "cpu": True,
            "cuda": torch.cuda.is_available(),
            "mps": torch.backends.mps.is_available(),
        }
        if not available[wanted]:
            raise ModelLoadError(
                f"PARLEY_LOCAL_DEVICE={wanted}: that device is not available here; "
                "set PARLEY_LOCAL_DEVICE=auto or cpu"
            )
        return wanted
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def choose_dtype(wanted: str, device: str) -> str:
    """bfloat16 (or float16) on a GPU, float32 on a CPU, unless PARLEY_LOCAL_DTYPE names one."""
    import torch

    if wanted != "auto":
        return wanted
    if device == "cuda":
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    if device == "mps":
        return "float16"
    return "float32"


def _from_pretrained(source: str, dtype: Any) -> tuple[Any, Any]:
    from huggingface_hub.constants import is_offline_mode
    from huggingface_hub.errors import GatedRepoError, HFValidationError, RepositoryNotFoundError
    from huggingface_hub.utils import validate_repo_id
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(source).expanduser()
    is_directory = path.is_dir() and (path / "config.json").is_file()
    if not is_directory:
        try:
            validate_repo_id(source)
        except HFValidationError:
            raise ModelLoadError(_no_model_there(source)) from None
        if path.exists():
            raise ModelLoadError(_no_model_there(source))
    target = str(path) if is_directory else source
    try:
        tokenizer = AutoTokenizer.from_pretrained(target)
        model = AutoModelForCausalLM.from_pretrained(target, dtype=dtype)
    except GatedRepoError:
        raise ModelLoadError(
            f"PARLEY_MODEL={source}: the model is gated; accept its terms on huggingface.co "
            "and set HF_TOKEN, or " + FIX
        ) from None
    except OSError as error:
        if is_directory:
            raise ModelLoadError(_broken(source, error)) from None
        if is_offline_mode():
            raise ModelLoadError(
                f"PARLEY_MODEL={source}: the model is not downloaded and HF_HUB_OFFLINE=1 forbids "
                f"downloading it; run `hf download {source}` once while online, or " + FIX
            ) from None
        if _caused_by(error, RepositoryNotFoundError):
            raise ModelLoadError(
                f"PARLEY_MODEL={source}: no such model on the Hugging Face hub and no such "
                "directory; check the name, or " + FIX
            ) from None
        raise ModelLoadError(
            f"PARLEY_MODEL={source}: could not download it ({first_line(error)}); "
            "check the network, or " + FIX
        ) from None
    except Exception as error:  # a broken or unsupported model: config, weights, architecture
        raise ModelLoadError(_broken(source, error)) from None
    return tokenizer, model


def _no_model_there(source: str) -> str:
    return (
        f"PARLEY_MODEL={source}: no model there (expected a directory with config.json, "
        f"or a hub id); {FIX}"
    )


def _broken(source: str, error: BaseException) -> str:
    return f"PARLEY_MODEL={source}: could not load the model ({first_line(error)}); {FIX}"


def first_line(error: BaseException) -> str:
    """An error as one line, for logs and users."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _caused_by(error: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
