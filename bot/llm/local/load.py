"""Find, load and place a local model: device and dtype choice, and one-line load errors.

torch and transformers are imported inside the functions, so importing this module (for
DEFAULT_LOCAL_MODEL or ModelLoadError) costs nothing when the local backend is not used.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.config import ConfigError

if TYPE_CHECKING:
    from bot.llm.local.options import LocalOptions

log = logging.getLogger(__name__)

DEFAULT_LOCAL_MODEL = "Qwen/Qwen2.5-0.5B-Instruct"
"""A small instruct model that runs on a laptop CPU; used when PARLEY_MODEL is not set."""
INT8 = "int8"
"""PARLEY_LOCAL_DTYPE for int8 weights and activations on a CPU."""

LOCAL_MODULES = ("torch", "transformers")
LOCAL_INSTALL = (
    "pip install torch --index-url https://download.pytorch.org/whl/cpu && "
    'pip install -e ".[local]" in the Parley checkout'
)
"""The local extra with a CPU build of torch (PyPI's torch on Linux is the CUDA build, GBs)."""

MODEL_FILES = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja", "*.tiktoken"]
"""What loading needs from a hub repository: config, weights, tokenizer; not ONNX or GGUF copies."""
HUB_PROBE_SECONDS = 4.0
"""How long to wait for the hub before saying it is unreachable."""

FIX = "point PARLEY_MODEL at a model directory or set OPENAI_BASE_URL to use a server"


class ModelLoadError(ConfigError):
    """The local model could not be loaded; str() is one line naming the setting and the fix."""


@dataclass(frozen=True, slots=True)
class LoadedModel:
    model: Any
    tokenizer: Any
    device: str
    dtype: str
    prefill_dtype: str | None = None
    """bfloat16 when prompts are read in it (PARLEY_LOCAL_PREFILL_DTYPE), else None."""


def load_model(options: LocalOptions) -> LoadedModel:
    """Load tokenizer and model as the options say (blocking: call it off the event loop)."""
    source = options.model
    started = time.perf_counter()
    directory = model_directory(source)  # before importing torch: a missing model fails fast
    import torch

    device = choose_device(options.device)
    dtype = choose_dtype(options.dtype, device)
    weights = torch.float32 if dtype == INT8 else getattr(torch, dtype)
    tokenizer, model = _from_pretrained(source, directory, weights)
    model.to(device).eval()
    if dtype == INT8:
        _quantize_int8(model)
    prefill = choose_prefill_dtype(options.prefill_dtype, device, dtype)
    parameters = sum(p.numel() for p in model.parameters())
    log.info(
        "local model %s loaded on %s as %s%s: %.1fM parameters in %.1f s",
        source,
        device,
        dtype,
        f" (prompts read in {prefill})" if prefill else "",
        parameters / 1e6,
        time.perf_counter() - started,
    )
    return LoadedModel(model, tokenizer, device, dtype, prefill)


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


def choose_prefill_dtype(wanted: str, device: str, dtype: str) -> str | None:
    """bfloat16 for a float32 model's prompts when asked, or by default on a CPU that computes
    bfloat16 natively (AVX512-BF16 or AMX); None: prompts are read in the model's dtype."""
    import torch

    if wanted == "model" or dtype != "float32":
        return None
    if wanted == "bfloat16":
        return "bfloat16"
    return "bfloat16" if device == "cpu" and _native_bfloat16(torch) else None


def _native_bfloat16(torch: Any) -> bool:
    """Whether oneDNN runs bfloat16 on this CPU's own instructions (torch has no public check)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch build without it
        return False


def choose_dtype(wanted: str, device: str) -> str:
    """bfloat16 (or float16) on a GPU, float32 on a CPU, unless PARLEY_LOCAL_DTYPE names one."""
    import torch

    if wanted == INT8 and device != "cpu":
        raise ModelLoadError(
            f"PARLEY_LOCAL_DTYPE=int8 is for CPUs, and the model is on {device}: "
            "set PARLEY_LOCAL_DEVICE=cpu, or PARLEY_LOCAL_DTYPE=auto"
        )
    if wanted != "auto":
        return wanted
    if device == "cuda":
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    if device == "mps":
        return "float16"
    return "float32"


def _quantize_int8(model: Any) -> None:
    """Linear layers to int8 weights with int8 dynamic activations, in place: about 2.2x faster
    decoding on this CPU, alone and batched (bench/local.py --int8, docs/benchmarks.md).

    torch's own dynamic quantization (fbgemm kernels), not torchao: torchao 0.18's int8 path
    ran at 0.45x of float32 here without its GPU kernels. torch marks the API deprecated in
    favour of torchao, so its warnings are silenced for this one call."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.ao.quantization.quantize_dynamic(
            model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True
        )


def model_directory(source: str) -> str:
    """The directory PARLEY_MODEL names, or a hub id's cached snapshot (fetched if need be)."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    path = Path(source).expanduser()
    is_directory = path.is_dir() and (path / "config.json").is_file()
    if not is_directory:
        try:
            validate_repo_id(source)
        except HFValidationError:
            raise ModelLoadError(_no_model_there(source)) from None
        if path.exists():
            raise ModelLoadError(_no_model_there(source))
    # transformers only ever reads a directory: the hub is asked once, here, or not at all.
    return str(path) if is_directory else _hub_snapshot(source)


def _from_pretrained(source: str, target: str, dtype: Any) -> tuple[Any, Any]:
    _quiet_transformers()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(target, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(target, dtype=dtype, local_files_only=True)
    except Exception as error:  # a broken or unsupported model: config, weights, architecture
        raise ModelLoadError(_broken(source, error)) from None
    return tokenizer, model


def _hub_snapshot(repo_id: str) -> str:
    """The model's directory in the Hugging Face cache, downloaded now (one bar) if missing.

    Offline, or with the hub unreachable, this fails at once with the command that fetches it,
    instead of transformers retrying every file.
    """
    from huggingface_hub import model_info, snapshot_download
    from huggingface_hub.constants import ENDPOINT, is_offline_mode
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError
    from huggingface_hub.utils import logging as hub_logging

    hub_logging.set_verbosity_error()  # its retry and advisory warnings: failures still raise

    try:
        return snapshot_download(repo_id, local_files_only=True)
    except Exception:  # not (completely) in the cache: fetch it below
        pass
    fetch = f"run `hf download {repo_id}` where there is network, or {FIX}"
    if is_offline_mode():
        raise ModelLoadError(
            f"PARLEY_MODEL={repo_id}: the model is not downloaded to this machine and "
            f"HF_HUB_OFFLINE=1 forbids downloading it; {fetch}"
        )
    try:
        info = model_info(repo_id, timeout=HUB_PROBE_SECONDS)
    except GatedRepoError:
        raise ModelLoadError(
            f"PARLEY_MODEL={repo_id}: the model is gated; accept its terms on huggingface.co "
            "and set HF_TOKEN, or " + FIX
        ) from None
    except RepositoryNotFoundError:
        raise ModelLoadError(
            f"PARLEY_MODEL={repo_id}: no such model on the Hugging Face hub and no such "
            "directory; check the name, or " + FIX
        ) from None
    except Exception as error:  # refused, unresolvable, timed out: the hub is out of reach
        raise ModelLoadError(
            f"PARLEY_MODEL={repo_id}: the model is not on this machine and {ENDPOINT} is "
            f"unreachable ({first_line(error)}); {fetch}"
        ) from None
    files = [sibling.rfilename for sibling in info.siblings or ()]
    # Older checkpoints ship only PyTorch .bin weights; newer ones both: take one copy.
    legacy = [] if any(name.endswith(".safetensors") for name in files) else ["*.bin"]
    log.info("downloading %s from %s (once; it is cached for later runs)", repo_id, ENDPOINT)
    try:
        return snapshot_download(
            repo_id, allow_patterns=MODEL_FILES + legacy, tqdm_class=_bytes_bar()
        )
    except Exception as error:
        raise ModelLoadError(
            f"PARLEY_MODEL={repo_id}: the download failed ({first_line(error)}); "
            f"check the network and run Parley again, or {fetch}"
        ) from None


def _bytes_bar() -> type:
    """A tqdm class that draws only the download's bytes bar, not one per file or a file count."""
    from huggingface_hub.utils import tqdm

    class BytesBar(tqdm):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            if kwargs.get("desc") != "Downloading bytes":
                kwargs["disable"] = True
            super().__init__(*args, **kwargs)

    return BytesBar


def _quiet_transformers() -> None:
    """Keep transformers' advisory warnings and its loading bar off the console."""
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()  # "Loading weights": the download has the one bar


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
